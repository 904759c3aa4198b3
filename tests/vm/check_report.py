#!/usr/bin/env python3
"""Compares a pintrace report with the ground truth its scenario printed.

usage: check_report.py DIR   (DIR holds truth.json, report.json, report.txt,
                              record.rc, record.err, report.rc)

The truth (tests/vm/scenarios/common.h) lists the pfns that must stay and,
for each, exactly which processes hold it and with which FOLL_* flags; pfns
that must not be blamed on anyone; or, for expect_failure false, that the
scenario's process must not be blamed at all. Optional: the first busy pfn
an isolation failure must name (isolation_busy_pfn) and the other pages of
its range it must list as held (expect_held_in_range), and what went wrong in
the scenario's own set-up (setup_problems: a failed precondition is a
failed test, never a pass).
"""
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
name = out.name
problems = []


def check(cond, what):
    if not cond:
        problems.append(what)


def finish():
    if problems:
        print(f"FAIL {name}: " + "; ".join(problems[:6]) + (f" (+{len(problems) - 6} more)" if len(problems) > 6 else ""))
        sys.exit(1)
    print(f"ok {name}")
    sys.exit(0)


if (out / "record.rc").read_text().strip() != "0":
    check(False, "pintrace record failed: " + (out / "record.err").read_text().strip()[-300:])
    finish()
try:
    truth = json.loads((out / "truth.json").read_text())
except (OSError, ValueError) as e:
    check(False, f"the scenario did not report its truth ({e}): " + (out / "record.err").read_text()[-300:])
    finish()
report = json.loads((out / "report.json").read_text())
pid = truth["pid"]
for problem in truth.get("setup_problems", []):
    check(False, "scenario set-up: " + problem)

check(report["schema"] == "pintrace.report/1", "wrong schema")
check(report["capture"]["complete"], "capture incomplete: " +
      ", ".join(a["target"] for a in report["capture"]["attach"] if a["mode"] == "missing"))
check(report["lost_events"]["total"] == 0, "events were lost")
check(str(report["exit_code"]) == (out / "report.rc").read_text().strip(), "exit status differs from JSON exit_code")

culprits = {}  # pfn -> list of culprits
failed = set()
folios = {}  # head pfn -> number of pages (large folios fail whole)
for f in report["failures"]:
    failed.update(f["failed_pfns"])
    for folio in f["failed_folios"]:
        folios[folio["pfn"]] = max(folios.get(folio["pfn"], 1), folio["nr_pages"])
    for c in f["culprits"]:
        culprits.setdefault(c["pfn"], []).append(c)


def head_of(pfn):
    """The failed folio that contains pfn, or pfn itself."""
    for head, n in folios.items():
        if head <= pfn < head + n:
            return head
    return pfn

if truth["expect_failure"]:
    reasons = {f["reason"] for f in report["failures"]}
    check(truth["reason"] in reasons, f"no failure with reason {truth['reason']} (saw {sorted(reasons)})")
    for page in truth["expect"]:
        pfn = head_of(page["pfn"])
        check(pfn in failed, f"pfn {pfn} is not among the failed pfns")
        got = culprits.get(pfn, [])
        want_pids = sorted(h["pid"] for h in page["holders"])
        check(sorted({c["pid"] for c in got}) == want_pids,
              f"pfn {pfn}: blamed pids {sorted({c['pid'] for c in got})}, expected {want_pids}")
        for h in page["holders"]:
            for c in (c for c in got if c["pid"] == h["pid"]):
                check(set(h["flags"]) <= set(c["flags"]), f"pfn {pfn} pid {h['pid']}: flags {c['flags']}")
                if "FOLL_GET" in h["flags"]:
                    check("FOLL_PIN" not in c["flags"], f"pfn {pfn}: a reference reported as a pin")
                    check(c["release_observable"] is False, f"pfn {pfn}: a reference's release claimed observable")
                    check(c["refcount_confirms"] in (True, None), f"pfn {pfn}: refcount contradicts the reference")
                if "origin" in truth:
                    check(c["origin"] == truth["origin"], f"pfn {pfn}: origin {c['origin']}, expected {truth['origin']}")
                for flag in truth.get("forbid_flags", []):
                    check(flag not in c["flags"], f"pfn {pfn}: reported {flag}: {c['flags']}")
                # Frames resolved through the scenario binary's ELF symbols (libc
                # wrappers without frames can hide the direct caller).
                check(any("+0x" in fr and "(scenario_" in fr and not fr.startswith("scenario_")
                          for fr in c["user_stack"]),
                      f"pfn {pfn}: user stack not symbolized: {c['user_stack'][:3]}")
                check(c["kernel_stack"], f"pfn {pfn}: no kernel stack")
    busy = truth.get("isolation_busy_pfn")
    if busy is not None:
        isolations = [f for f in report["failures"] if f["kind"] == "isolation"]
        check(any(busy in f["failed_pfns"] and any(c["pid"] == pid for c in f["culprits"]) for f in isolations),
              f"no isolation failure blaming pid {pid} for busy pfn {busy} "
              f"(saw {[f['failed_pfns'] for f in isolations]})")
        in_range = {c["pfn"] for f in isolations if busy in f["failed_pfns"]
                    for c in f.get("held_in_range", []) if c["pid"] == pid}
        missing = sorted(set(truth.get("expect_held_in_range", [])) - in_range)
        check(not missing, f"held pages of the range not listed as held by pid {pid}: {missing}")
else:
    blamed = sorted({c["pfn"] for cs in culprits.values() for c in cs if c["pid"] == pid})
    check(not blamed, f"pid {pid} blamed for pfns {blamed} after releasing its pins")

wrongly = sorted(set(truth.get("not_blamed", [])) & set(culprits))
check(not wrongly, f"pfns blamed that must not be: {wrongly}")

text = (out / "report.txt").read_text()
if truth["expect_failure"]:
    check(f"pid {pid}" in text, "the text report does not name the holder")
finish()
