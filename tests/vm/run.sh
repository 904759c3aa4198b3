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
scenarios=(iouring_pin vmsplice_ref two_pinners released_pin odirect_inflight offline_pinned gigantic_pinned splice_file offline_kernel_page zerocopy_send)
results=${PINTRACE_VM_RESULTS:-$build/vm-results}

guest=$(mktemp)
trap 'rm -f "$guest"' EXIT
{ echo "SCENARIOS='${scenarios[*]}'"; cat "$here/guests/all.sh"; } >"$guest"
binaries=("$build/pintrace")
for s in "${scenarios[@]}"; do binaries+=("$build/scenario_$s"); done
# Run by its own block of guests/all.sh (it needs an ftrace instance beside
# the recording) and checked by check_frees.py.
binaries+=("$build/scenario_free_stress")
# Kernels with CONFIG_CMA also run these, in a second boot (cma.sh).
cma_scenarios=(cma_vmsplice cma_odirect cma_longterm)
cma_guest=$(mktemp)
trap 'rm -f "$guest" "$cma_guest"' EXIT
{ echo "SCENARIOS='${cma_scenarios[*]}'"; cat "$here/guests/cma.sh"; } >"$cma_guest"
cma_binaries=("$build/pintrace")
for s in "${cma_scenarios[@]}"; do cma_binaries+=("$build/scenario_$s"); done

passed=0 failed=0 flakes=0

# run_check RESULT_DIR SCRIPT DIR: one check; its line goes to the output,
# tagged with the kernel, and to RESULT_DIR/checks.txt (kernel_matrix.py).
run_check() {
    local rdir=$1 line rc
    shift
    line=$(PINTRACE_BIN="$build/pintrace" python3 "$here/$1" "${@:2}" 2>&1)
    rc=$?
    [ -n "$line" ] || line="FAIL $(basename "$2"): $1 printed nothing"
    echo "$line" | sed "s/\$/ [kernel $kernel]/"
    echo "$line" | tail -n 1 >>"$rdir/checks.txt"
    if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

# boots OUT: the boots of this result directory that oopsed before the guest ran.
boots_retried() { local n; n=$(grep -c "flake" "$1/attempts.log" 2>/dev/null); echo "${n:-0}"; }

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
        echo "FAIL boot: the guest did not complete" >>"$out/checks.txt"
        failed=$((failed + ${#scenarios[@]} + 7))
    else
        run_check "$out" check_doctor.py "$out/doctor"
        for s in "${scenarios[@]}"; do run_check "$out" check_report.py "$out/$s"; done
        run_check "$out" check_frees.py "$out/free_stress"
        run_check "$out" check_refused.py "$out/refused_program"
        run_check "$out" check_killed.py "$out/killed_recording"
        run_check "$out" check_top.py "$out/top_live"
        run_check "$out" check_snapshot.py "$out/snapshot_live"
        run_check "$out" check_snapshot_record.py "$out/snapshot_record"
    fi
    flakes=$((flakes + $(boots_retried "$out")))

    # CMA scenarios: only where the kernel has CONFIG_CMA (its facts), in a
    # boot of their own with a 1 GiB hugetlb CMA area on node 1, node 1
    # small enough that movable pages spill into it soon (cma.h).
    if ! grep -qx 'cma=y' "$out/facts" 2>/dev/null; then
        echo "vm: CMA scenarios do not apply to kernel $kernel ($(grep -h '^cma=' "$out/facts" 2>/dev/null || echo 'cma unknown'): not run, not counted)"
        continue
    fi
    cout="$results/$kernel-cma"
    rm -rf "$cout"
    start=$SECONDS
    PINTRACE_VM_APPEND="hugetlb_cma=1:1G hugetlb_cma_only=1" PINTRACE_VM_NODE_MB="2048 3072" \
        "$here/boot.sh" "$kernel" "$cout" "$cma_guest" "${cma_binaries[@]}"
    brc=$?
    echo "vm: kernel $kernel with hugetlb_cma=1:1G: boot and run $((SECONDS - start)) s"
    if [ "$brc" -ne 0 ]; then
        echo "FAIL CMA scenarios on $kernel: the guest did not complete (see $cout)"
        echo "FAIL cma-boot: the guest did not complete" >>"$out/checks.txt"
        failed=$((failed + ${#cma_scenarios[@]} + 1))
    else
        for s in "${cma_scenarios[@]}"; do run_check "$out" check_report.py "$cout/$s"; done
        run_check "$out" check_cma_snapshot.py "$cout/cma_snapshot"
    fi
    flakes=$((flakes + $(boots_retried "$cout")))
done
# The kernel x attach point x check table of this run (docs/kernels.md
# carries the last one: tests/vm/kernel_matrix.py RESULTS --update docs/kernels.md).
python3 "$here/kernel_matrix.py" "$results" >"$results/kernels.md" 2>/dev/null \
    && echo "vm: kernel matrix of this run in $results/kernels.md"
echo "vm: boots retried (an oops before the scenarios ran, a text-patching int3 or stopped timers during them): $flakes"
echo "vm: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
