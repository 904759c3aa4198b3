#!/usr/bin/env python3
"""Checks `pintrace snapshot` and `explain --pfn` run in the guest after
scenario_iouring_pin had pinned 8 pages as io_uring fixed buffers and gone
to sleep: pintrace started only afterwards.

usage: check_snapshot.py DIR  (DIR holds truth.json, snapshot.*, bias.*, explain.*)

- snapshot --pfn on a pinned page: exit 3, class pinned, and the scenario's
  pid a "likely" candidate with the io_uring evidence;
- snapshot --source bpf --no-owners: the BPF refcount alone shows the pin
  bias (maybe_pinned, exit 3);
- explain --pfn on every pinned page: exit 3, each page's likely holder is
  the scenario;
- snapshot over the range from the lowest to the highest pinned pfn: owner
  discovery went from the pages (owner_method "rmap", the BPF reverse map)
  and names the scenario's pid as mapping every pinned page, each mapping
  confirmed by pagemap.
- the 2 MiB transparent huge page it pinned whole (SCENARIO_THP): all 512
  pages pinned, certain, through the folio's pin count (>= 1), head and
  tails; a range starting inside the folio finds its head;
- migratetypes: read (not in not_visible), every page of the folio in a
  movable pageblock, and the pages of a 256 MiB region counted per
  migratetype add up.
"""
import json
import sys

from vmcheck import Result

result = Result("snapshot_live", sys.argv[1])
check, read, problems = result.check, result.read, result.problems
truth, pid, pinned = result.truth()

check(read("snapshot.rc") == "3", f"snapshot exited {read('snapshot.rc')}: {read('snapshot.err')[:300]}")
try:
    snap = json.loads(read("snapshot.json"))
    classes = snap["spans"][0]["classes"]
    check(classes.get("pinned") == 1, f"snapshot classes {classes}")
    likely = [c for c in snap.get("candidates", []) if c["confidence"] == "likely"]
    check(any(c["pid"] == pid and pinned[0] in c["pfns"] and
              any(e["what"].startswith("io_uring fd") for e in c["evidence"]) for c in likely),
          f"pid {pid} not a likely candidate with io_uring evidence: {snap.get('candidates')}")
except (ValueError, KeyError, IndexError) as e:
    problems.append(f"snapshot JSON: {e}")

check(read("bias.rc") == "3", f"snapshot --source bpf exited {read('bias.rc')}: {read('bias.err')[:300]}")
try:
    bias = json.loads(read("bias.json"))
    check("BPF refcounts" in bias["source"], f"source {bias['source']}")
    check(bias["spans"][0]["classes"].get("maybe_pinned") == 1, f"BPF classes {bias['spans'][0]['classes']}")
    sus = bias.get("suspicious", [])
    check(sus and sus[0].get("refcount", 0) >= 1024, f"refcount without the pin bias: {sus}")
except (ValueError, KeyError, IndexError) as e:
    problems.append(f"BPF snapshot JSON: {e}")

check(read("explain.rc") == "3", f"explain exited {read('explain.rc')}: {read('explain.err')[:300]}")
text = read("explain.txt")
holder = f"likely holder (pinned it as io_uring fixed buffers): pid {pid} "
check(text.count(holder) == len(pinned), f"explain names pid {pid} for {text.count(holder)} of {len(pinned)} pages")
# The guests name mem_section in kallsyms: every page's pageblock is known.
check(text.count(" pageblock\n") == len(pinned), f"explain gives a pageblock migratetype for "
      f"{text.count(' pageblock' + chr(10))} of {len(pinned)} pages")

check(read("rmap.rc") == "3", f"snapshot of the pinned range exited {read('rmap.rc')}: {read('rmap.err')[:300]}")
try:
    rmap = json.loads(read("rmap.json"))
    check(rmap.get("owner_method") == "rmap",
          f"owner method {rmap.get('owner_method')}: {rmap.get('owner_notes')}")
    check(rmap.get("rmap_pages", 0) >= len(pinned), f"reverse map walked from {rmap.get('rmap_pages')} pages")
    mine = [c for c in rmap.get("candidates", []) if c["pid"] == pid]
    mapped = {p for c in mine for e in c["evidence"] if e["what"].startswith("maps ") for p in e["pfns"]}
    check(set(pinned) <= mapped,
          f"the reverse map names pid {pid} for {len(set(pinned) & mapped)} of {len(pinned)} pinned pages: "
          f"{[c['evidence'] for c in mine]} notes {rmap.get('owner_notes')}")
except (ValueError, KeyError, IndexError) as e:
    problems.append(f"range snapshot JSON: {e}")

check(truth.get("thp") is True, f"the scenario got no transparent huge page: {truth.get('thp')}")
thp = truth.get("thp_head")
check(read("thp.rc") == "3", f"snapshot of the THP exited {read('thp.rc')}: {read('thp.err')[:300]}")
try:
    snap = json.loads(read("thp.json"))
    span = snap["spans"][0]
    check(span["classes"].get("pinned") == 512, f"THP classes {span['classes']}")
    sus = snap.get("suspicious", [])
    head = sus[0] if sus else {}
    check(head.get("pfn") == thp and head.get("pincount", 0) >= 1 and head.get("folio_order") == 9,
          f"THP head {head} (pincount field {snap.get('pincount_field')})")
    check(all(p.get("pincount", 0) >= 1 and p.get("folio_head") == thp for p in sus),
          "a THP page without the folio's pin count")
    check(not any("migratetype" in n for n in snap.get("not_visible", [])),
          f"migratetype not visible: {snap.get('not_visible')}")
    check(span.get("migratetypes") == {"movable": 512}, f"THP pageblock migratetypes {span.get('migratetypes')}")
    check(all(p.get("migratetype") == "movable" for p in sus), "a THP page without its pageblock's migratetype")
except (ValueError, KeyError, IndexError) as e:
    problems.append(f"THP snapshot JSON: {e}")

check(read("thp_tail.rc") == "3", f"snapshot inside the THP exited {read('thp_tail.rc')}: {read('thp_tail.err')[:300]}")
try:
    snap = json.loads(read("thp_tail.json"))
    check(snap["spans"][0]["classes"].get("pinned") == 16, f"THP tail classes {snap['spans'][0]['classes']}")
    check(all(p.get("folio_head") == thp and p.get("pincount", 0) >= 1 for p in snap.get("suspicious", [])),
          f"tail pages not attributed to head {thp}: {snap.get('suspicious', [])[:2]}")
except (ValueError, KeyError, IndexError) as e:
    problems.append(f"THP tail snapshot JSON: {e}")

check(read("region.rc") in ("0", "3"), f"snapshot of a region exited {read('region.rc')}: {read('region.err')[:300]}")
try:
    snap = json.loads(read("region.json"))
    span = snap["spans"][0]
    counted = sum(span.get("migratetypes", {}).values())
    check(counted == span["pages"] - span["classes"]["hole"] and counted > 0,
          f"region: {counted} pages counted per migratetype of {span['pages']} ({span.get('migratetypes')})")
    check(set(span.get("migratetypes", {})) <= {"unmovable", "movable", "reclaimable", "highatomic", "cma", "isolate"},
          f"region migratetype names {span.get('migratetypes')}")
except (ValueError, KeyError, IndexError) as e:
    problems.append(f"region snapshot JSON: {e}")

result.finish()
