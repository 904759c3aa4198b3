#!/usr/bin/env python3
"""Checks `pintrace record --snapshot` in the guest: scenario_iouring_pin
(SCENARIO_MOVE_ON_SIGNAL=1) pinned 8 pages as io_uring fixed buffers and
waited; only then did the recording start, and its command signalled the
scenario to move its pages to the other node.

usage: check_snapshot_record.py DIR  (DIR holds truth.json, record.*, report.*)

- the recording took a snapshot and said so; the report's snapshot is complete;
- the failed migration lists every pinned pfn, and each has the scenario's
  pid as its culprit, from the snapshot ("source": "snapshot"), "likely",
  origin io_uring fixed buffers, never certain; no traced holder (the pin
  is older than the trace);
- the exit status is 5 (holders inferred, not certain), the summary and the
  text report say the holder was inferred.
"""
import json
import sys

from vmcheck import Result

result = Result("snapshot_record", sys.argv[1])
check, read = result.check, result.read
truth, pid, pinned = result.truth()

check(read("record.rc") == "0", "record exited %s: %s" % (read("record.rc"), read("record.err")[-400:]))
check("snapshot of" in read("record.err"), "record did not report its snapshot: " + read("record.err")[-400:])
check(read("report.rc") == "5", "report exit %s, want 5 (inferred holders): %s" % (read("report.rc"), read("report.err")))
try:
    report = json.loads(read("report.json"))
except ValueError as e:
    check(False, "report.json unreadable (%s): %s" % (e, read("report.err")))
    result.finish()

snap = report.get("snapshot") or {}
check(snap.get("complete") is True, "snapshot not complete: %s" % snap)
check(any(c.get("pid") == pid and c.get("confidence") == "likely" for c in snap.get("candidates", [])),
      "snapshot candidates lack pid %s as likely: %s" % (pid, snap.get("candidates")))

failures = [f for f in report.get("failures", []) if f.get("kind") == "migration" and f.get("pid") == pid]
if check(failures, "no migration failure by pid %s: %s" % (pid, [f.get("summary") for f in report.get("failures", [])])):
    f = failures[0]
    missing = set(pinned) - set(f.get("failed_pfns", []))
    check(not missing, "pinned pfns not among the failed ones: %s" % sorted(missing))
    for pfn in pinned:
        cs = [c for c in f.get("culprits", []) if c.get("pfn") == pfn]
        traced = [c for c in cs if c.get("source") == "trace"]
        inferred = [c for c in cs if c.get("source") == "snapshot"]
        check(not traced, "pfn %d: a traced holder of a pin older than the trace: %s" % (pfn, traced))
        ok = [c for c in inferred if c.get("pid") == pid and c.get("confidence") == "likely"
              and c.get("origin") == "io_uring_fixed_buffers" and c.get("certain") is False]
        check(ok, "pfn %d: no likely io_uring holder pid %s from the snapshot: %s" % (pfn, pid, cs))
    check("the snapshot at the start infers pid %s" % pid in f.get("summary", ""),
          "failure summary does not name the inferred holder: " + f.get("summary", ""))
check("likely holder" in report.get("summary", ""), "summary lacks the likely holder: " + report.get("summary", ""))
text = read("report.txt")
check("holder INFERRED from the snapshot" in text, "text report lacks the inferred holder section")
check("pid %s (" % pid in text, "text report does not name pid %s" % pid)

result.finish("PASS snapshot_record: %d pinned pages, pinned before the trace, inferred to pid %s (likely, io_uring)"
              % (len(pinned), pid))
