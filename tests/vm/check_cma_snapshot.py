#!/usr/bin/env python3
"""snapshot --cma on a kernel without CONFIG_CMA_DEBUGFS (tests/vm/guests/cma.sh):
the area's range must be the one the scenario found on its own (the 1 GiB
page cma_alloc gave it), with the area's sysfs counters; the pages the
scenario holds inside it must show as blocking and be found mapped by it;
an unknown area is a usage error naming the real one.

usage: check_cma_snapshot.py DIR
"""
import json
import sys

from vmcheck import Result

r = Result("cma_snapshot", sys.argv[1])
truth = json.loads(r.read("truth.json") or "{}")
for p in truth.get("setup_problems", []):
    r.check(False, "scenario set-up: " + p)
cma = truth.get("cma")
if not r.check(cma and cma.get("end"), "no CMA area in the scenario's truth: " + r.read("scenario.err")[-300:]):
    r.finish()
r.check(r.read("snapshot.rc") in ("0", "3"), f"snapshot exit {r.read('snapshot.rc')}: {r.read('snapshot.err')[-300:]}")
try:
    snap = json.loads(r.read("snapshot.json"))
except ValueError:
    r.check(False, "no snapshot JSON: " + r.read("snapshot.err")[-300:])
    r.finish()
area = snap.get("cma_area", {})
r.check(area.get("name") == "hugetlb1", f"cma_area {area}")
r.check(area.get("ranges") == [[cma["start"], cma["end"]]],
        f"range {area.get('ranges')}, the scenario found [{cma['start']}, {cma['end']})")
r.check("pageblocks" in area.get("range_source", ""), f"range source {area.get('range_source')}")
sysfs = area.get("sysfs", {})
r.check(sysfs.get("total_pages") == cma["requested_pages"], f"total_pages {sysfs.get('total_pages')}")
# The scenario's own allocation failed (and the one that found the area succeeded).
r.check(sysfs.get("alloc_pages_fail", 0) >= cma["requested_pages"], f"alloc_pages_fail {sysfs.get('alloc_pages_fail')}")
r.check(sysfs.get("alloc_pages_success", 0) >= cma["requested_pages"], f"alloc_pages_success {sysfs.get('alloc_pages_success')}")
spans = snap.get("spans", [])
r.check(len(spans) == 1 and spans[0]["start_pfn"] == cma["start"] and spans[0]["end_pfn"] == cma["end"],
        f"spans {[(s['start_pfn'], s['end_pfn']) for s in spans]}")
held = [truth["cma_busy_pfn"]] + truth.get("expect_held_in_range", [])
sus = {p["pfn"]: p for p in snap.get("suspicious", [])}
missing = [p for p in held if p not in sus]
r.check(not missing, f"held pages not reported as suspicious: {missing} (classes {spans[0]['classes'] if spans else None})")
r.check(all(sus[p].get("migratetype") == "cma" for p in held if p in sus),
        f"held pages' migratetype {[sus[p].get('migratetype') for p in held if p in sus]}")
mine = [c for c in snap.get("candidates", []) if c["pid"] == truth["pid"]]
found = {p for c in mine for e in c["evidence"] for p in e.get("pfns", [])}
r.check(set(held) <= found, f"pid {truth['pid']} not found mapping the held pages: {[c['evidence'] for c in mine]}")
r.check(r.read("unknown.rc") == "2" and "hugetlb1" in r.read("unknown.txt"),
        f"unknown area: exit {r.read('unknown.rc')}: {r.read('unknown.txt')[-200:]}")
r.finish(f"ok cma_snapshot: hugetlb1 is pfn {cma['start']:#x}-{cma['end'] - 1:#x}, "
         f"{len(held)} held pages found blocking")
