#!/usr/bin/env python3
"""Checks `pintrace top --batch --format json` run live in the guest while
scenario_iouring_pin held 8 pages as io_uring fixed buffers.

usage: check_top.py DIR   (DIR holds top.jsonl, top.rc, top.err, truth.json)

Every line must be one pintrace.top/1 object from the live source, and one
of them must show the scenario's pid holding its pages long-term.
"""
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
problems = []


def finish():
    if problems:
        print("FAIL top_live: " + "; ".join(problems[:6]))
        sys.exit(1)
    print("ok top_live")
    sys.exit(0)


rc = (out / "top.rc").read_text().strip()
if rc != "0":
    problems.append(f"top exited {rc}: {(out / 'top.err').read_text().strip()[:300]}")
truth = json.loads((out / "truth.json").read_text())
pinned = len(truth["expect"])
lines = [l for l in (out / "top.jsonl").read_text().splitlines() if l.strip()]
if len(lines) < 2:
    problems.append(f"{len(lines)} snapshot line(s)")
    finish()
snaps = []
for n, line in enumerate(lines, 1):
    try:
        snaps.append(json.loads(line))
    except ValueError as e:
        problems.append(f"line {n} is not JSON: {e}")
        finish()
for s in snaps:
    if s.get("schema") != "pintrace.top/1" or s.get("source") != "live":
        problems.append(f"not a live pintrace.top/1 snapshot: {s.get('schema')} {s.get('source')}")
        finish()
best = 0
for s in snaps:
    for row in s["pinners"]:
        if row["pid"] == truth["pid"]:
            best = max(best, row["longterm_pages"])
if best < pinned:
    problems.append(f"no snapshot shows pid {truth['pid']} holding {pinned} long-term page(s) (at most {best})")
if not any(s["events"] > 0 for s in snaps):
    problems.append("no event counted")
finish()
