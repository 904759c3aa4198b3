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
b1, t, ta, b2 = (json.loads((out / f).read_text())
                 for f in ("base1.json", "traced.json", "traced_all.json", "base2.json"))
base = (b1["reads_per_s"] + b2["reads_per_s"]) / 2
print(f"kernel {kernel}: baseline {b1['reads_per_s']:.0f} / {b2['reads_per_s']:.0f} reads/s")
slowdown = {}
for mode, w, rep_file, err_file, size_file in (("default", t, "report.json", "record.err", "trace_size.txt"),
                                               ("--all-events", ta, "report_all.json", "record_all.err",
                                                "trace_size_all.txt")):
    rep = json.loads((out / rep_file).read_text())
    err = (out / err_file).read_text()
    cost = re.search(r"BPF cost: (\d+) program runs, (\d+) ns per run", err)
    events = rep["stats"]["grabs"] + rep["stats"]["releases"]
    pairing = rep["capture"].get("pairing", {})
    slowdown[mode] = 1 - w["reads_per_s"] / base
    print(f"  record {mode} (pairing {pairing.get('mode', '?')}): {w['reads_per_s']:.0f} reads/s -> slowdown "
          f"{100 * slowdown[mode]:.1f} %")
    print(f"    events recorded: {events} ({events / w['seconds']:.0f}/s, {events / w['reads']:.2f} per read), "
          f"pins paired in the kernel: {pairing.get('paired_pins', 0)}, lost: {rep['lost_events']['total']}")
    if cost:
        print(f"    BPF programs: {cost.group(1)} runs, {cost.group(2)} ns per run")
    print("    " + (out / size_file).read_text().split()[4] + " bytes of trace")
    # How long direct-I/O pins are held, from the trace of every pin: what
    # the pairing threshold must stay above (docs/pairing.md).
    released = [b for b in rep.get("durations", {}).get("histogram", []) if b["released"]]
    if released:
        print(f"    longest released pin: under {released[-1]['to_ns'] / 1e6:.3f} ms "
              f"({sum(b['released'] for b in released)} released)")
if slowdown["default"] > 0:
    print(f"  slowdown ratio, --all-events / default: {slowdown['--all-events'] / slowdown['default']:.1f}x")
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
