#!/usr/bin/env python3
"""Compares a pintrace report with the ground truth its scenario printed.

usage: check_report.py DIR   (DIR holds truth.json, report.json, report.txt,
                              record.rc, record.err, report.rc)

The truth (tests/vm/scenarios/common.h) lists the pfns that must stay and,
for each, exactly which processes hold it and with which FOLL_* flags; pfns
that must not be blamed on anyone; or, for expect_failure false, that the
scenario's process must not be blamed at all. Optional: the first busy pfn
an isolation failure must name (isolation_busy_pfn) and the other pages of
its range it must list as held (expect_held_in_range), how many failed
isolations of the range the kernel itself traced (kernel_isolation_failures:
the report must have exactly that many), and what went wrong in
the scenario's own set-up (setup_problems: a failed precondition is a
failed test, never a pass). Each expected holder must carry its process's
exe and cgroup, as tests/vm/guests/all.sh sets them up, and every scenario
process must have been seen to exit.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

out = Path(sys.argv[1])
name = out.name
problems = []


def check(cond, what):
    if not cond:
        problems.append(what)
    return bool(cond)


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
# Every scenario process execs, and execve grabs the pages it copies argv
# into: each one is a pinner whose exit the recording ends after.
scenario_pids = {pid} | {h["pid"] for p in truth.get("expect", []) for h in p["holders"]}
check(report["stats"]["process_exits"] >= len(scenario_pids),
      f"{report['stats']['process_exits']} process exits seen, expected {len(scenario_pids)} (pids {sorted(scenario_pids)})")
modes = {a["target"]: a["mode"] for a in report["capture"]["attach"]}
check(modes.get("sched:sched_process_exit") == "tracepoint",
      f"sched:sched_process_exit not attached as a tracepoint: {modes.get('sched:sched_process_exit')}")

culprits = {}  # pfn -> list of culprits
failed = set()
folios = {}  # head pfn -> number of pages (large folios fail whole)
for f in report["failures"]:
    failed.update(f["failed_pfns"])
    # The kernel's enum pageflags came from its BTF: a failed folio's flags
    # are named (every page in use has some).
    if f["kind"] == "migration":
        for c in f["culprits"]:
            check(c["page_flags"], f"pfn {c['pfn']}: page flags not named: {c['page_flags']}")
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
                    # Unobservable (an inline put_page) unless a hook sees its
                    # release (a pipe's, for a splice).
                    want_seen = h.get("release_observable", False)
                    check(c["release_observable"] is want_seen,
                          f"pfn {pfn}: a reference's release_observable is {c['release_observable']}, expected {want_seen}")
                    check(c["refcount_confirms"] in (True, None), f"pfn {pfn}: refcount contradicts the reference")
                if "pipe_inode" in h:
                    got_pipe = c.get("pipe") or {}
                    check(got_pipe.get("inode") == h["pipe_inode"],
                          f"pfn {pfn}: the pipe the splice filled is {got_pipe.get('inode')}, "
                          f"expected pipe:[{h['pipe_inode']}]")
                    # Its openers, from the recorder's look in /proc: the
                    # scenario, with both ends of the pipe, all along.
                    openers = {(o["pid"], o["fd"]) for o in got_pipe.get("openers") or []}
                    want = {(h["pid"], fd) for fd in h.get("pipe_fds", [])}
                    check(want and openers == want, f"pfn {pfn}: pipe openers {sorted(openers)}, expected {sorted(want)}")
                if "file" in page:
                    got_file = (c.get("page") or {}).get("file") or {}
                    for key, value in page["file"].items():
                        check(got_file.get(key) == value,
                              f"pfn {pfn}: culprit's file {key} {got_file.get(key)!r}, expected {value!r}")
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
                # Read from /proc by the recorder; all.sh runs each scenario
                # in a cgroup named after it.
                check(c["exe"] == f"/bin/scenario_{name}" and c["cgroup"] == f"/{name}",
                      f"pfn {pfn} pid {h['pid']}: exe {c['exe']!r} cgroup {c['cgroup']!r}")
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
    traced = truth.get("kernel_isolation_failures")
    if traced is not None:
        # The kernel's own count (an ftrace instance of the scenario's):
        # every failed isolation of the range, no more, no fewer.
        lo, hi = truth["range"]
        seen = [f for f in report["failures"] if f["kind"] == "isolation"
                and f.get("range_start_pfn") == lo and f.get("range_end_pfn") == hi]
        check(len(seen) == traced, f"{len(seen)} isolation failure(s) of pfns {lo:#x}-{hi:#x} reported, "
              f"the kernel traced {traced} (test_pages_isolated)")
    cma = truth.get("cma")
    if cma and truth["reason"] == "cma":
        # A CMA allocation (tests/vm/scenarios/cma.h): named as one, with
        # the area, the pages requested, cma_alloc_finish's errno, its busy
        # retries and ranges; the busy pfn and the other held pages blamed
        # on the holder alone; the pages that moved blamed on nobody.
        fails = [f for f in report["failures"] if f["kind"] == "cma"]
        check(len(fails) == 1, f"{len(fails)} CMA failures, expected 1 (kinds {[f['kind'] for f in report['failures']]})")
        for f in fails[:1]:
            check(f["cma_area"] == cma["area"], f"CMA area {f['cma_area']!r}, expected {cma['area']!r}")
            check(f["requested_pages"] == cma["requested_pages"],
                  f"requested {f['requested_pages']} pages, expected {cma['requested_pages']}")
            check(f["errno"] == "EBUSY", f"errno {f['errno']}, expected EBUSY")
            check(f["outcome_seen"] is True, "the allocation's end was not seen")
            check(f["busy_retries"] >= 1, f"busy_retries {f['busy_retries']}")
            check(f["busy_ranges"] and all(cma["start"] <= a < b <= cma["end"] for a, b in f["busy_ranges"]),
                  f"busy ranges {f['busy_ranges']} not inside the area [{cma['start']}, {cma['end']})")
            check(f["failed_pfns"] == [truth["cma_busy_pfn"]],
                  f"busy pfns {f['failed_pfns']}, expected [{truth['cma_busy_pfn']}]")
            held = {c["pfn"] for c in f["held_in_range"]}
            missing = sorted(set(truth.get("expect_held_in_range", [])) - held)
            check(not missing, f"held pages of the area not listed as held: {missing}")
            others = sorted({c["pid"] for c in f["culprits"] + f["held_in_range"]} - {pid})
            check(not others, f"pids other than the holder {pid} blamed: {others}")
            moved = sorted(set(truth.get("not_blamed", [])) & held)
            check(not moved, f"pages that moved listed as held: {moved}")
            for c in f["culprits"] + f["held_in_range"]:
                if "FOLL_GET" in c["flags"] and "FOLL_PIN" not in c["flags"]:
                    # The busy page's counts are read at the failure (its
                    # identity): they confirm the reference. The range's
                    # other held pages have no counts: neither confirmed
                    # nor doubted.
                    want = True if c["pfn"] in f["failed_pfns"] else None
                    check(c["refcount_confirms"] is want,
                          f"pfn {c['pfn']}: refcount_confirms {c['refcount_confirms']}, expected {want}")
        text = " ".join((out / "report.txt").read_text().split())
        check(f'CMA allocation of {cma["requested_pages"]} page(s) from area "{cma["area"]}"' in text,
              "the text report does not name the CMA allocation")
        check("busy retr" in text, "the text report does not give the busy retries")
        check("extra reference on 0 of" not in text, "the text report calls the held pages' references stale")
    if "longterm_moved_from" in truth:
        # FOLL_LONGTERM on CMA pages: the pin moves them out first
        # (migrate reason longterm_pin), pins the copies; where a page
        # cannot move, the pin fails, and that migration failure is blamed
        # on what held the page.
        moves = [m for m in report["longterm_pin_migrations"] if m["pid"] == pid]
        check(any(m["moved"] >= len(truth["longterm_moved_from"]) and m["failed"] == 0 for m in moves),
              f"no longterm_pin migration moving {len(truth['longterm_moved_from'])} pages: {moves}")
        held_back = len(truth["expect"])
        check(any(m["failed"] == held_back for m in moves), f"no longterm_pin migration with {held_back} failed: {moves}")
        lt = [f for f in report["failures"] if f["reason"] == "longterm_pin"]
        check(len(lt) == 1 and all(f["pid"] == pid for f in lt), f"longterm_pin failures {[(f['pid'], f['failed_pfns']) for f in lt]}")
        text = (out / "report.txt").read_text()
        check("LONG-TERM PINS THAT MOVED PAGES FIRST" in text, "the text report does not show the pins' migrations")
        first = next((m for m in moves if m["failed"] == 0), None)
        second = next((m for m in moves if m["failed"]), None)
        if "PINTRACE_BIN" in os.environ and first and second:
            # The kernel dropped the pins it took on the pages before they
            # moved (the ledger must have seen it: nothing holds them when
            # the migration ends); the copies are what the process holds,
            # long-term, until its ring goes (here: at its exit).
            src, dst = truth["longterm_moved_from"][0], truth["longterm_moved_to"][0]

            def holders(at_ns):
                at = (at_ns - report["trace"]["start_monotonic_ns"]) / 1e9
                run = subprocess.run([os.environ["PINTRACE_BIN"], "report", str(out / "trace.pt"), "--format", "json",
                                      "--until", f"+{at:.9f}s", "--pfn", f"{src},{dst}"], capture_output=True, text=True)
                return json.loads(run.stdout)["history"]["holders_at_end"] if run.stdout else []

            at_move = holders(first["time_ns"])
            check(not [h for h in at_move if h["pfn"] == src],
                  f"pfn {src}: still held when the long-term pin had moved it out of CMA: {at_move}")
            later = holders(second["time_ns"])
            check(any(h["pfn"] == dst and h["pid"] == pid and "FOLL_LONGTERM" in h["flags"] for h in later),
                  f"pfn {dst} (the pinned copy) not held long-term by pid {pid}: {later}")
else:
    blamed = sorted({c["pfn"] for cs in culprits.values() for c in cs if c["pid"] == pid})
    check(not blamed, f"pid {pid} blamed for pfns {blamed} after releasing its pins")

# A gigantic page the kernel refused: the allocation itself is named (node
# 1, 1 GiB), with the ranges it tried, or none where the kernel skips every
# range holding a page in use without trying it (5.10).
if "gigantic_allocated" in truth and truth["gigantic_allocated"] == 0:
    contig = [f for f in report["failures"] if f["kind"] == "contig_alloc" and f["pid"] == pid]
    if check(contig, "no contig_alloc failure for the gigantic page"):
        f = contig[0]
        check(f["nid"] == 1 and f["requested_pages"] == 262144, f"contig_alloc: node {f['nid']}, {f['requested_pages']} pages")
        if truth["expect_failure"]:
            check(f["ranges_tried"] >= 1, "contig_alloc: no range tried, yet an isolation failure was expected")
        else:
            check(f["ranges_tried"] == 0, f"contig_alloc: {f['ranges_tried']} range(s) tried on a kernel that skips them")

wrongly = sorted(set(truth.get("not_blamed", [])) & set(culprits))
check(not wrongly, f"pfns blamed that must not be: {wrongly}")

text = (out / "report.txt").read_text()
if truth["expect_failure"] and truth["expect"]:
    check(f"pid {pid}" in text, "the text report does not name the holder")
    pipe_inode = next((h["pipe_inode"] for p in truth["expect"] for h in p["holders"] if "pipe_inode" in h), None)
    if pipe_inode:
        check(f"pipe: pipe:[{pipe_inode}]" in text, "the text report does not name the pipe")
        check(f"open in pid {pid} (" in " ".join(text.split()), "the text report does not name the pipe's opener")
    held_file = next((p["file"] for p in truth["expect"] if "file" in p), None)
    if held_file:
        check(f"inode {held_file['inode']} {held_file['path']}" in " ".join(text.split()),
              "the text report does not name the held pages' file")

# Stuck pages no GUP caller holds (issue 16): listed with no holder, their
# cause, and what they are, as the capture read it at the failure.
for want in truth.get("expect_unexplained", []):
    pfn = head_of(want["pfn"])
    check(pfn in failed, f"pfn {pfn} is not among the failed pfns")
    check(not culprits.get(pfn), f"pfn {pfn}: blamed on {sorted({c['pid'] for c in culprits.get(pfn, [])})}")
    got = [u for f in report["failures"] for u in f["unexplained"] if u["pfn"] == pfn]
    if check(got, f"pfn {pfn}: not among the unexplained pages"):
        u = got[0]
        check(u["cause"] == want["cause"], f"pfn {pfn}: cause {u['cause']}, expected {want['cause']}")
        page = u.get("page") or {}
        if "file" in want:
            check(page.get("kind") == "file", f"pfn {pfn}: page kind {page.get('kind')}, expected file")
            got_file = page.get("file") or {}
            for key, value in want["file"].items():
                check(got_file.get(key) == value, f"pfn {pfn}: file {key} {got_file.get(key)!r}, expected {value!r}")
if truth.get("expect_unexplained"):
    flat = " ".join(text.split())
    first = truth["expect_unexplained"][0]
    check(f"inode {first['file']['inode']} {first['file']['path']}" in flat if "file" in first else True,
          "the text report does not name the file")
    check("transient; retry" not in flat, "the text report calls a held page transient")


def pintrace_report(*args):
    """report on the guest's trace, run here by the same static binary."""
    run = subprocess.run([os.environ["PINTRACE_BIN"], "report", str(out / "trace.pt"), *args],
                         capture_output=True, text=True)
    check(run.returncode in (0, 3, 4), f"report {' '.join(args)}: exit {run.returncode}: {run.stderr.strip()}")
    return run


# The ledger's views, on the real kernel's trace: at the moment of the
# failure (--until), the holders table must show each holder with at least
# the pages the truth gives it, long-term ones as such, and --pfn must tell
# the stuck page's story (its grab by the holder, then the failure).
if truth["expect_failure"] and truth["expect"] and "PINTRACE_BIN" in os.environ and report["failures"]:
    first = next((f for f in report["failures"] if f["reason"] == truth["reason"]), report["failures"][0])
    at = (first["time_ns"] - report["trace"]["start_monotonic_ns"]) / 1e9
    page = next((p for p in truth["expect"] if head_of(p["pfn"]) in first["failed_pfns"]), truth["expect"][0])
    run = pintrace_report("--format", "json", "--until", f"+{at:.9f}s")
    if run.returncode in (0, 3, 4):
        views = json.loads(run.stdout)
        rows = {r["pid"]: r for r in views["holders"]["rows"]}
        want = {}
        for p in truth["expect"]:
            for h in p["holders"]:
                want.setdefault(h["pid"], [0, 0])[0] += 1
                want[h["pid"]][1] += "FOLL_LONGTERM" in h["flags"]
        for hpid, (pages, longterm) in want.items():
            row = rows.get(hpid)
            check(row is not None, f"--until the failure: pid {hpid} missing from the holders table")
            if row:
                check(row["pages"] >= pages, f"--until the failure: pid {hpid} holds {row['pages']} pages, want >= {pages}")
                check(row["longterm_pages"] >= longterm,
                      f"--until the failure: pid {hpid} long-term pages {row['longterm_pages']}, want >= {longterm}")
    run = pintrace_report("--format", "json", "--pfn", str(page["pfn"]))
    if run.returncode in (0, 3, 4):
        events = json.loads(run.stdout)["history"]["events"]
        holder = page["holders"][0]["pid"]
        kinds = [e["event"] for e in events]
        check(any(e["event"] == "grab" and e["pid"] == holder for e in events),
              f"--pfn {page['pfn']}: no grab by pid {holder} in its history {kinds}")
        if first["kind"] == "migration":
            check("migration_failed" in kinds, f"--pfn {page['pfn']}: the failure is not in its history {kinds}")
    md = pintrace_report("--format", "markdown", "--threshold", "1ms")
    check("| PID | PAGES |" in md.stdout and f"pid {pid}" in md.stdout, "the markdown report lacks the holders table")
    check(str(md.returncode) == (out / "report.rc").read_text().strip(), "markdown exit status differs")

# Pages still held through a copy of their pipe buffer (tee) after the first
# pipe was drained: a later failure blames the holder for them again.
if "held_after_tee" in truth:
    # (The count it returns is the kernel's: 5.10 said 3 of 4 stuck pages.)
    check((truth.get("teed_move_pages_ret") or 0) > 0,
          f"move_pages after draining the first pipe returned {truth.get('teed_move_pages_ret')}: "
          "nothing was left behind, the tee()'d pages moved")
    for pfn in truth["held_after_tee"]:
        blamed_in = sum(1 for f in report["failures"] if any(c["pfn"] == pfn and c["pid"] == pid
                                                              for c in f["culprits"]))
        check(blamed_in >= 2, f"pfn {pfn}: blamed on pid {pid} in {blamed_in} failure(s), expected 2 "
                              "(its tee()'d copy still held it at the second)")

# References a hook saw released (a pipe drained): each page's history shows
# one grab and one release, nobody holds it at the end, and the pages then moved.
if "released" in truth:
    check(truth.get("drained_move_pages_ret") == 0,
          f"move_pages after the release returned {truth.get('drained_move_pages_ret')}, expected 0")
if "released" in truth and "PINTRACE_BIN" in os.environ:
    for pfn in truth["released"]:
        run = pintrace_report("--format", "json", "--pfn", str(pfn))
        if run.returncode in (0, 3, 4):
            history = json.loads(run.stdout)["history"]
            kinds = [(e["event"], e.get("pid")) for e in history["events"]]
            releases = [e for e in history["events"] if e["event"] == "release" and e["pid"] == pid]
            grabs = [e for e in history["events"] if e["event"] == "grab" and e["pid"] == pid]
            check(len(releases) == 1, f"--pfn {pfn}: {len(releases)} releases by pid {pid}, expected 1: {kinds}")
            check(len(grabs) == 1, f"--pfn {pfn}: {len(grabs)} grabs by pid {pid}, expected 1: {kinds}")
            held = [h for h in history["holders_at_end"] if h["pfn"] == pfn]
            check(not held, f"--pfn {pfn}: still held at the end after its release: {held}")
finish()
