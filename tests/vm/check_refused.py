#!/usr/bin/env python3
"""One capture program refused by the kernel takes down its attach point
alone: record runs with PINTRACE_TEST_REFUSE_PROGRAM (the kernel gets no
room for that program's verifier log and refuses it), and then

- record still succeeds, and the trace names the refused attach point, its
  program and the kernel's reason;
- every other attach point has the mode doctor found without the refusal;
- the io_uring scenario's failure is still explained: every pinned pfn
  blamed on the scenario's pid.

usage: check_refused.py DIR   (DIR: record.rc, record.err, truth.json,
                               report.json; DIR/../doctor/doctor.json)
"""
import json
import sys

from vmcheck import Result

r = Result("refused_program", sys.argv[1])
REFUSED_TARGET, REFUSED_PROGRAM = "kmem:mm_page_free", "tp_mm_page_free"

if not r.check(r.read("record.rc") == "0", "record failed: " + r.read("record.err")[-300:]):
    r.finish()
truth, pid, pinned = r.truth()
report = json.loads(r.read("report.json") or "{}")
doctor = json.loads((r.out.parent / "doctor" / "doctor.json").read_text())
attach = {a["target"]: a for a in report.get("capture", {}).get("attach", [])}

refused = attach.get(REFUSED_TARGET, {})
r.check(refused.get("mode") == "refused", f"{REFUSED_TARGET} is {refused.get('mode')}, expected refused")
r.check(REFUSED_PROGRAM in refused.get("detail", ""), f"the refusal does not name {REFUSED_PROGRAM}: {refused.get('detail')}")
r.check(refused.get("hides"), "the refusal does not say what it hides")
r.check(not report["capture"]["complete"], "a capture with a refused program called complete")
for a in doctor["attach"]:
    if a["target"] != REFUSED_TARGET:
        got = attach.get(a["target"], {}).get("mode")
        r.check(got == a["mode"], f"{a['target']}: {got} with the refusal, {a['mode']} without")

culprits = {}
for f in report.get("failures", []):
    for c in f["culprits"]:
        culprits.setdefault(c["pfn"], set()).add(c["pid"])
unexplained = [p for p in pinned if culprits.get(p) != {pid}]
r.check(not unexplained, f"pfns not blamed on pid {pid} alone: {unexplained[:4]} (culprits {dict(list(culprits.items())[:4])})")
r.finish(f"ok refused_program: {REFUSED_TARGET} refused ({refused.get('detail', '')[:80]}), "
         f"{len(pinned)} pinned pfns still blamed on pid {pid}")
