#!/usr/bin/env bash
# Runs every VM scenario on every kernel in kernels.list (one boot per
# kernel, one recording per scenario) and checks each report against the
# scenario's own ground truth.
#
#   tests/vm/run.sh BUILD_DIR [KERNEL...]
#
# KERNEL: ids of kernels.list (default: all of them). Each is resolved to a
# concrete Debian kernel at run time (kernel.py); the one that ran is printed
# and recorded in RESULTS/KERNEL/kernel, its facts (cma=y|n) in .../facts.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?build directory}" && pwd)
shift
kernels=("$@")
[ ${#kernels[@]} -gt 0 ] || mapfile -t kernels < <(awk '!/^#/ && NF {print $1}' "$here/kernels.list")
scenarios=(iouring_pin vmsplice_ref two_pinners released_pin odirect_inflight offline_pinned gigantic_pinned)
results=${PINTRACE_VM_RESULTS:-$build/vm-results}

guest=$(mktemp)
trap 'rm -f "$guest"' EXIT
{ echo "SCENARIOS='${scenarios[*]}'"; cat "$here/guests/all.sh"; } >"$guest"
binaries=("$build/pintrace")
for s in "${scenarios[@]}"; do binaries+=("$build/scenario_$s"); done
# Run by its own block of guests/all.sh (it needs an ftrace instance beside
# the recording) and checked by check_frees.py.
binaries+=("$build/scenario_free_stress")

passed=0 failed=0 flakes=0
for kernel in "${kernels[@]}"; do
    out="$results/$kernel"
    rm -rf "$out"
    start=$SECONDS
    "$here/boot.sh" "$kernel" "$out" "$guest" "${binaries[@]}"
    brc=$?
    # Which exact kernel ran (boot.sh wrote it: package, version, uname -r).
    echo "vm: kernel $kernel: $(awk '$1 == "package" || $1 == "version" {printf "%s ", $2} $1 == "uname" {printf "(uname -r %s) ", $2}' "$out/kernel" 2>/dev/null)$(grep -h '^cma=' "$out/facts" 2>/dev/null | sed 's/=/ /'), boot and run $((SECONDS - start)) s"
    if [ "$brc" -ne 0 ]; then
        echo "FAIL all scenarios on $kernel: the guest did not complete (see $out)"
        failed=$((failed + ${#scenarios[@]} + 5))
    else
        if python3 "$here/check_doctor.py" "$out/doctor" | sed "s/\$/ [kernel $kernel]/"; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
        fi
        for s in "${scenarios[@]}"; do
            if PINTRACE_BIN="$build/pintrace" python3 "$here/check_report.py" "$out/$s" | sed "s/\$/ [kernel $kernel]/"; then
                passed=$((passed + 1))
            else
                failed=$((failed + 1))
            fi
        done
        if PINTRACE_BIN="$build/pintrace" python3 "$here/check_frees.py" "$out/free_stress" | sed "s/\$/ [kernel $kernel]/"; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
        fi
        if python3 "$here/check_top.py" "$out/top_live" | sed "s/\$/ [kernel $kernel]/"; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
        fi
        if python3 "$here/check_snapshot.py" "$out/snapshot_live" | sed "s/\$/ [kernel $kernel]/"; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
        fi
        if python3 "$here/check_snapshot_record.py" "$out/snapshot_record" | sed "s/\$/ [kernel $kernel]/"; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
        fi
    fi
    n=$(grep -c "flake" "$out/attempts.log" 2>/dev/null)
    flakes=$((flakes + ${n:-0}))
done
echo "vm: boots that oopsed before the scenarios ran and were retried: $flakes"
echo "vm: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
