#!/usr/bin/env python3
"""Share of stuck pages a report leaves unknown, over a VM results dir
(issue 16's measure: docs/non-gup-holders.md, "Unknown, before and after").
usage: unknown_share.py RESULTS_DIR/KERNEL [SCENARIO...]
Distinct (scenario, pfn) pairs; a range refused at isolation with no page
named counts as one unknown page. Classes: holder (a culprit named), kind
(no holder, but what the page is: page_table, kernel_memory,
file_page_referenced, driver_movable, not_attempted), unknown (the rest).
"""
import json, sys
from pathlib import Path
UNKNOWN = {"reference_of_unknown_origin", "no_holder_seen", "unmovable_at_isolation", "pinned_before_trace"}
root = Path(sys.argv[1])
want = set(sys.argv[2:])
totals = {"holder": 0, "kind": 0, "unknown": 0}
for d in sorted(p for p in root.iterdir() if (p / "report.json").exists()):
    if want and d.name not in want:
        continue
    try:
        r = json.loads((d / "report.json").read_text())
    except ValueError:
        continue
    pages = {}
    for f in r.get("failures", []):
        for c in f.get("culprits", []):
            pages[c["pfn"]] = "holder"
        for u in f.get("unexplained", []):
            if pages.get(u["pfn"]) != "holder":
                pages[u["pfn"]] = "unknown" if u["cause"] in UNKNOWN else "kind"
        if f["kind"] == "isolation" and not f["failed_pfns"]:
            pages[("range", f.get("range_start_pfn"))] = "unknown"
    counts = {k: sum(1 for v in pages.values() if v == k) for k in totals}
    for k in totals:
        totals[k] += counts[k]
    print(f"{d.name:22} " + " ".join(f"{k}={v}" for k, v in counts.items()))
n = sum(totals.values())
print("TOTAL " + " ".join(f"{k}={v}" for k, v in totals.items()) + f" pages={n} unknown_share={totals['unknown'] / n:.1%}" if n else "TOTAL none")
