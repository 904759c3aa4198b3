#!/usr/bin/env python3
"""Assertions for the io_uring scenario, run on the host over the guest's /out.

The scenario registered pages 0-7 of 16 as io_uring fixed buffers and asked
move_pages(2) to move all 16 to node 1. The report must blame exactly the 8
pinned pfns, on the scenario's pid, as FOLL_PIN + FOLL_LONGTERM, and none of
the 8 pages that moved.
"""
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
problems = []


def check(cond, what):
    if not cond:
        problems.append(what)


if (out / "record.rc").read_text().strip() != "0":
    print("FAIL iouring_pin: pintrace record failed: " + (out / "record.err").read_text().strip()[-300:])
    sys.exit(1)
scenario = json.loads((out / "scenario.json").read_text())
report = json.loads((out / "report.json").read_text())
pinned = set(scenario["pinned_pfns"])
unpinned = set(scenario["unpinned_pfns"])
pid = scenario["pid"]

check((out / "record.rc").read_text().strip() == "0", "pintrace record exited non-zero")
check(len(pinned) == 8 and 0 not in pinned, f"scenario could not read 8 pinned pfns: {sorted(pinned)}")
after = scenario["pfns_after"]
check(after[:8] == scenario["pinned_pfns"], f"pinned pages moved after all: {after[:8]}")
check(not (set(after[8:]) & unpinned), f"unpinned pages did not move: {after[8:]}")
# The count move_pages returns differs across kernels (7 on 5.10): pagemap above is the ground truth.
check(scenario["move_pages_ret"] > 0, f"move_pages returned {scenario['move_pages_ret']}, expected pages left behind")
check(report["schema"] == "pintrace.report/1", "wrong schema")
check(report["capture"]["complete"], f"capture incomplete: {report['capture']}")
check(report["lost_events"]["total"] == 0, "events were lost")
check(report["exit_code"] == 3 and (out / "report.rc").read_text().strip() == "3",
      "report exit code is not 3 (failures, all explained)")

failures = [f for f in report["failures"] if f["pid"] == pid]
check(len(failures) == 1, f"expected one failed migration by pid {pid}, got {len(failures)}")
if failures:
    f = failures[0]
    check(f["reason"] == "syscall_or_cpuset", f"reason {f['reason']}")
    check(f["pfns_observed"], "failed pfns not observed")
    check(set(f["failed_pfns"]) == pinned, f"failed pfns {sorted(f['failed_pfns'])} != pinned {sorted(pinned)}")
    blamed = {c["pfn"] for c in f["culprits"]}
    check(blamed == pinned, f"blamed {sorted(blamed)} != pinned {sorted(pinned)}")
    check(not (blamed & unpinned), f"pages that moved were blamed: {sorted(blamed & unpinned)}")
    check(len(f["culprits"]) == 8, f"expected 8 culprits (one per page), got {len(f['culprits'])}")
    for c in f["culprits"]:
        check(c["pid"] == pid, f"culprit pid {c['pid']} != {pid}")
        check({"FOLL_PIN", "FOLL_LONGTERM"} <= set(c["flags"]), f"culprit flags {c['flags']}")
        check(c["cause"] == "longterm_pin", f"cause {c['cause']}")
        check(any("io_uring" in fr or "io_sqe_buffer" in fr for fr in c["kernel_stack"]),
              f"kernel stack does not show the io_uring registration: {c['kernel_stack'][:8]}")
        check(c["pinned_at_ns"] <= f["time_ns"], "pinned after the failure")
        # glibc's syscall() has no frame of its own, so its caller is skipped
        # by frame-pointer unwinding; main is the first frame of our code.
        check(any(fr.startswith("main+") and "scenario_iouring_pin" in fr for fr in c["user_stack"]),
              f"user stack not symbolized: {c['user_stack'][:4]}")
    check(not f["unexplained"], f"unexplained pages: {f['unexplained']}")

text = (out / "report.txt").read_text()
check(f"pid {pid}" in text and "FOLL_LONGTERM" in text, "text report does not name the holder")

if problems:
    print("FAIL iouring_pin: " + "; ".join(problems))
    sys.exit(1)
print(f"ok iouring_pin: 8 pinned pfns blamed on pid {pid}, 8 moved pages not blamed")
