#!/usr/bin/env bash
# Overhead benchmark (not a test): pintrace record's cost on a pin/unpin-heavy
# workload, measured as a ratio within one boot. Results: docs/performance.md.
#
#   tests/vm/bench/run.sh BUILD_DIR [KERNEL] [SECONDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?build directory}" && pwd)
kernel=${2:-6.12}
secs=${3:-5}
out="$build/bench-results/$kernel"
rm -rf "$out"
guest=$(mktemp)
trap 'rm -f "$guest"' EXIT
{ echo "SECONDS_EACH=$secs"; cat "$here/guest.sh"; } >"$guest"
"$here/../boot.sh" "$kernel" "$out" "$guest" "$build/pintrace" "$build/dio_reads" "$build/cost_ops" >/dev/null
python3 - "$out" "$kernel" <<'PY'
import json, re, sys
from pathlib import Path
out, kernel = Path(sys.argv[1]), sys.argv[2]
b1, t, b2 = (json.loads((out / f).read_text()) for f in ("base1.json", "traced.json", "base2.json"))
base = (b1["reads_per_s"] + b2["reads_per_s"]) / 2
rep = json.loads((out / "report.json").read_text())
err = (out / "record.err").read_text()
cost = re.search(r"BPF cost: (\d+) program runs, (\d+) ns per run", err)
events = rep["stats"]["grabs"] + rep["stats"]["releases"]
print(f"kernel {kernel}: baseline {b1['reads_per_s']:.0f} / {b2['reads_per_s']:.0f} reads/s, "
      f"traced {t['reads_per_s']:.0f} reads/s -> slowdown {100 * (1 - t['reads_per_s'] / base):.1f} %")
print(f"  events recorded: {events} ({events / t['seconds']:.0f}/s), lost: {rep['lost_events']['total']}")
if cost:
    print(f"  BPF programs: {cost.group(1)} runs, {cost.group(2)} ns per run")
print("  " + (out / "trace_size.txt").read_text().split()[4] + " bytes of trace")
print(f"  dio_reads: {events / t['reads']:.2f} events per read")
# cost_ops: records and BPF program runs per operation, under record.
for op in ("uring_fixed", "vmsplice", "thp"):
    try:
        w = json.loads((out / f"{op}.json").read_text())
        r = json.loads((out / f"{op}.report.json").read_text())
    except (OSError, ValueError) as e:
        print(f"  {op}: no result ({e})")
        continue
    n = w["ops"]
    s = r["stats"]
    runs = re.findall(r"^\s+(\S+)\s+(\d+) runs\s+(\d+) ns/run", (out / f"{op}.err").read_text(), re.M)
    per_prog = ", ".join(f"{name} {int(c) / n:.2f} runs ({ns} ns)" for name, c, ns in runs if int(c) / n >= 0.01)
    print(f"  {op}: {n} ops ({w['ops_per_s']:.0f}/s recorded): grabs {s['grabs'] / n:.2f}, "
          f"releases {s['releases'] / n:.2f} per op; program runs per op: {per_prog or 'none'}")
PY
