#!/usr/bin/env python3
"""pintrace doctor inside a Debian guest kernel: every check passes, every
attach point attaches (or is absent with a sibling covering its work), and
the exit status says full coverage."""
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
problems = []
try:
    d = json.loads((out / "doctor.json").read_text())
except (OSError, ValueError) as e:
    print(f"FAIL doctor: no JSON ({e}): {(out / 'doctor.err').read_text()[-300:]}")
    sys.exit(1)
rc = (out / "doctor.rc").read_text().strip()
if rc != "0":
    problems.append(f"exit status {rc}, expected 0 (full coverage)")
problems += [f"check {c['name']} failed: {c['detail']}" for c in d["checks"] if not c["ok"]]
problems += [f"{a['target']} {a['mode']}: {a.get('detail')}" for a in d["attach"] if a["mode"] in ("missing", "refused")]
modes = {a["target"]: a["mode"] for a in d["attach"]}
if problems:
    print("FAIL doctor: " + "; ".join(problems))
    sys.exit(1)
print("ok doctor: " + ", ".join(f"{t}={m}" for t, m in modes.items() if m != "absent"))
