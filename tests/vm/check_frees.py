#!/usr/bin/env python3
"""After every traced process has exited, nothing may be left "held" whose
page the kernel freed (free_stress: short-lived processes taking FOLL_GET
references and exiting).

usage: check_frees.py DIR   (DIR holds truth.json, trace.pt, record.rc,
                             record.err, kernel_frees.txt, ftrace_stats.txt;
                             PINTRACE_BIN: the pintrace to run report with)

The truth of which pages the kernel freed is not pintrace's: the guest
recorded every kmem:mm_page_free in an ftrace instance of its own (clock
mono, pintrace's clock) while pintrace recorded: "SECONDS PFN ORDER" lines.
A hold the report keeps at the end of the trace on a page the kernel freed
after the hold began (and before the trace ended) is stale: a release path
the capture missed. Holds on pages the kernel did not free are listed, by
the kind of child that took them, and must not be called certain releases.
"""
import json
import os
import re
import subprocess
import sys
from collections import Counter

from vmcheck import Result

r = Result("free_stress", sys.argv[1])
if not r.check(r.read("record.rc") == "0", "record failed: " + r.read("record.err")[-300:]):
    r.finish()
truth = json.loads(r.read("truth.json") or "{}")
if not r.check(truth.get("children"), "no scenario ground truth: " + r.read("record.err")[-300:]):
    r.finish()
for problem in truth.get("setup_problems", []):
    r.check(False, "scenario set-up: " + problem)

# The ftrace instance must have kept every free, or the truth is partial.
overruns = [int(line.split()[-1]) for line in r.read("ftrace_stats.txt").splitlines() if line.startswith("overrun")]
r.check(overruns and not any(overruns), f"the ftrace instance lost frees (overrun {overruns}): no truth")
frees = {}  # pfn -> [free time ns]
nfrees = 0
for line in r.read("kernel_frees.txt").splitlines():
    secs, pfn, order = line.split()
    pfn = int(pfn, 0)
    at = round(float(secs) * 1e9)
    nfrees += 1
    for p in range(pfn, pfn + (1 << min(int(order), 18))):
        frees.setdefault(p, []).append(at)
r.check(nfrees, "the ftrace instance saw no page free at all")

pintrace = os.environ.get("PINTRACE_BIN", "pintrace")
rep = subprocess.run([pintrace, "report", "--format", "json", "--threshold", "0.001us", str(r.out / "trace.pt")],
                     capture_output=True, text=True)
report = json.loads(rep.stdout or "{}")
if not r.check(report.get("schema") == "pintrace.report/1", "report failed: " + rep.stderr[-300:]):
    r.finish()
r.check(report["lost_events"]["total"] == 0, "pintrace lost events")
end_ns = report["trace"]["end_monotonic_ns"]
holds = report["long_holds"]
if not r.check(holds["kept"] == holds["total"], f"only {holds['kept']} of {holds['total']} holds listed"):
    r.finish()

children = truth["children"]
pids = {truth["pid"]} | {c["pid"] for c in children}
kind_of = {c["pid"]: c["kind"] for c in children}
# An exit whose program run the kernel skipped (BPF already running on that
# CPU) is missing, and record says so; the report must count the skipped runs.
skipped_exits = sum(int(n) for n in re.findall(r"skipped (\d+) run\(s\) of tp_sched_process_exit", r.read("record.err")))
r.check(report["trace"].get("skipped_runs", 0) >= skipped_exits,
        f"record skipped {skipped_exits} exit runs, the report counts {report['trace'].get('skipped_runs', 0)}")
r.check(report["stats"]["process_exits"] >= len(pids) - skipped_exits,
        f"{report['stats']['process_exits']} process exits seen, expected at least {len(pids)}"
        + (f" less {skipped_exits} skipped" if skipped_exits else ""))
ran = Counter(c["kind"] for c in children)
for kind in truth["kinds"]:
    r.check(ran[kind], f"no child of kind {kind} ran")

# Every child's grab must be in the trace (else this checks nothing), except
# where the kernel paired short-term pins with their releases (record's
# default from 5.17, docs/pairing.md): a direct-I/O child's pins, released
# within microseconds, are then counted as pairs instead, and its exit is
# still recorded (checked above).
seen_pids = Counter(h["pid"] for h in holds["items"])
pairing = report["capture"].get("pairing", {})
paired = pairing.get("paired_pins") or 0
# A release recorded whose grab was paired away (or the reverse) shows as a
# release of a pin the trace never saw taken: everything here starts
# after the recording, so there must be none.
r.check(report["stats"]["releases_of_pins_before_trace"] == 0,
        f"{report['stats']['releases_of_pins_before_trace']} releases of pins the trace never saw taken"
        + (f" (pairing {pairing.get('mode')}, {paired} pairs)" if pairing else ""))
for kind in ran:
    if any(seen_pids[c["pid"]] for c in children if c["kind"] == kind):
        continue
    r.check(pairing.get("mode") == "kernel" and kind in ("dio", "thp_dio") and paired >= ran[kind],
            f"no grab of a {kind} child recorded" + (f" ({paired} pins paired in the kernel)" if paired else ""))

stale, unfreed = [], Counter()
for h in holds["items"]:
    if h["released"]:
        continue
    freed_at = [t for t in frees.get(h["pfn"], []) if h["since_ns"] < t <= end_ns]
    who = kind_of.get(h["pid"], "parent" if h["pid"] == truth["pid"] else h["comm"])
    if freed_at:
        stale.append(f"pfn {h['pfn']:#x} ({who}, pid {h['pid']}, {'|'.join(h['flags'])}) freed "
                     f"{(freed_at[0] - h['since_ns']) / 1e6:.1f} ms after the grab")
    elif h["pid"] in pids:
        unfreed[f"{who} {'|'.join(h['flags'])}"] += 1
stale_by = Counter(s.split("(")[1].split(",")[0] for s in stale)
# A free whose program run the kernel skipped (the free program interrupted
# on its CPU by another free: under TCG, softirq frees land inside it) is
# unseen, and record says so on its last lines. Stale holds are then what
# record announced, not a release path the capture missed: at most 512
# pages (a THP) per skipped run.
skipped = sum(int(n) for n in re.findall(r"skipped (\d+) run\(s\) of tp_mm_page_free", r.read("record.err")))
announced = bool(stale) and skipped and len(stale) <= 512 * skipped
r.check(not stale or announced,
        f"{len(stale)} held page(s) the kernel freed (by kind: {dict(stale_by)}), "
        f"{skipped} free program runs skipped: " + "; ".join(stale[:4]))
held_freed = sum(1 for h in holds["items"] if h["released"] and h["closed_by_free"])
freed_held = (f"{len(stale)} freed pages held, as record announced ({skipped} free program runs skipped "
              f"by the kernel)") if stale else "0 freed pages held"
r.finish(f"ok free_stress: pairing {pairing.get('mode', 'none')} ({paired} pairs), {len(children)} children ({', '.join(f'{k} {n}' for k, n in sorted(ran.items()))}), "
         f"{holds['total']} holds, {held_freed} closed by a free, {freed_held}; "
         f"held at the end on pages the kernel never freed: {dict(unfreed) or 'none'}")
