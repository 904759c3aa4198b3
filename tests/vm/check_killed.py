#!/usr/bin/env python3
"""A recording killed with SIGKILL while processes grab and release pages
keeps every whole record it wrote: the report of its file (read with
--allow-incomplete) counts exactly the records the file's framing holds,
checked blocks among them, and says the trace was not closed.

usage: check_killed.py DIR   (DIR holds trace.pt, record.rc, report.json,
                              report.rc, strict.txt, strict.rc)

The oracle knows only the framing of docs/trace-format.md: a 32-byte header
whose u32 at offset 12 is the sections' length, then records of
{u16 type, u16 size, ...}; type 0x108 is a seal, not a record.
"""
import json
import struct
import sys

from vmcheck import Result

SEAL = 0x108

r = Result("killed_recording", sys.argv[1])
r.check(r.read("record.rc") == "137", "the recorder was not killed by SIGKILL (rc %s): %s"
        % (r.read("record.rc"), r.read("record.err")[-300:]))
data = (r.out / "trace.pt").read_bytes() if (r.out / "trace.pt").exists() else b""
if not r.check(len(data) >= 32, "the killed recording left %d bytes" % len(data)):
    r.finish()
(sections,) = struct.unpack_from("<I", data, 12)
off = end = 32 + sections
records = seals = 0
while off + 4 <= len(data):
    rtype, size = struct.unpack_from("<HH", data, off)
    if size < 8 or off + size > len(data):
        break
    if rtype == SEAL:
        seals += 1
    else:
        records += 1
    off += size
    end = off

r.check(r.read("strict.rc") == "1" and "incomplete" in r.read("strict.txt"),
        "report without --allow-incomplete did not refuse the unclosed file: " + r.read("strict.txt")[-200:])
if not r.check(r.read("report.rc") in ("0", "3", "4", "5"), "report failed: " + r.read("report.err")[-300:]):
    r.finish()
report = json.loads(r.read("report.json"))
f = report["trace"].get("file", {})
r.check(report["trace"]["complete"] is False, "a killed recording called complete")
r.check(f.get("records") == records, "report read %s records, the file holds %d" % (f.get("records"), records))
r.check(f.get("end_offset") == end, "report stopped at byte %s, the last whole record ends at %d"
        % (f.get("end_offset"), end))
r.check(f.get("torn_bytes") == len(data) - end, "torn end %s bytes, the file has %d after its last whole record"
        % (f.get("torn_bytes"), len(data) - end))
r.check(f.get("checksummed") and f.get("blocks_verified", 0) >= 2,
        "fewer than 2 checked blocks (header and records): %s" % f)
grabs = report["stats"]["grabs"]
r.check(grabs > 0, "no grab among the %d records: the recording was not busy" % records)
r.finish("ok killed_recording: %d records (%d grabs) in %d checked blocks read of %d bytes, %d unverified, "
         "torn end %d bytes" % (records, grabs, f.get("blocks_verified", 0), len(data), f.get("unverified_records", 0),
                                len(data) - end))
