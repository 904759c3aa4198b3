#!/usr/bin/env bash
# Runs every VM scenario on every kernel listed in kernels.list and checks
# the reports. Needs the static binaries from a build directory.
#
#   tests/vm/run.sh BUILD_DIR [KERNEL...]
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?build directory}" && pwd)
shift
kernels=("$@")
[ ${#kernels[@]} -gt 0 ] || mapfile -t kernels < <(awk '!/^#/ && NF {print $1}' "$here/kernels.list")
scenarios=(iouring_pin)
results=${PINTRACE_VM_RESULTS:-$build/vm-results}

passed=0 failed=0 flakes=0
for kernel in "${kernels[@]}"; do
    for scenario in "${scenarios[@]}"; do
        out="$results/$kernel/$scenario"
        rm -rf "$out"
        if ! "$here/boot.sh" "$kernel" "$out" "$here/guests/$scenario.sh" \
            "$build/pintrace" "$build/scenario_$scenario"; then
            echo "FAIL $scenario on $kernel: guest did not complete (see $out)"
            failed=$((failed + 1))
        elif python3 "$here/check_$scenario.py" "$out" | sed "s/\$/ [kernel $kernel]/"; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            echo "  guest log: $(tr '\n' ' ' < "$out/guest.log" | cut -c1-300)"
        fi
        n=$(grep -c "flake" "$out/attempts.log" 2>/dev/null)
        flakes=$((flakes + ${n:-0}))
    done
done
echo "vm: boots that oopsed before the scenario and were retried: $flakes"
echo "vm: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
