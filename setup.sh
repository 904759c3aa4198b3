#!/usr/bin/env bash
# pintrace's one set-up script, used by people, CI and the Dockerfile alike.
#
#   ./setup.sh          install what is missing, build, then record this machine
#                       for a few seconds and report (says which attach points
#                       the kernel allowed)
#   ./setup.sh test     install what is missing, build, run every test:
#                       unit tests (ctest), pintrace top driven in tmux, the
#                       real-kernel VM bench, and a 60 s fuzz smoke (build-fuzz/)
#   ./setup.sh build    install what is missing and build (build/pintrace)
#   ./setup.sh fuzz [S] build build-fuzz/ (clang, ASan, UBSan) and fuzz the
#                       report pipeline for S seconds (default 60)
#
# Debian 12 packages only. Needs root for apt-get and for recording.
set -euo pipefail
cd "$(dirname "$0")"

BUILD_PACKAGES=(cmake make g++ clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcli11-dev libboost-dev
                libgtest-dev libgmock-dev pkg-config libncurses-dev)
TEST_PACKAGES=(python3 busybox-static qemu-system-x86 cpio gzip xz-utils zstd curl gpgv debian-archive-keyring
               tmux)
# The fuzz smoke (docs/fuzzing.md): clang 14 with libFuzzer and the sanitizer runtimes.
FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_missing() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "setup: installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() {
    install_missing "${BUILD_PACKAGES[@]}"
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j"$(nproc)"
}

# The libFuzzer target under ASan and UBSan, in a build directory of its own.
build_fuzz() {
    install_missing "${BUILD_PACKAGES[@]}" "${FUZZ_PACKAGES[@]}"
    cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 \
        -DCMAKE_CXX_COMPILER=clang++-14 -DPINTRACE_FUZZ=ON -DPINTRACE_TESTS=OFF -DPINTRACE_STATIC=OFF >/dev/null
    cmake --build build-fuzz --target report_fuzz -j"$(nproc)"
}

# fuzz_smoke SECONDS: the fixed regressions replayed, then SECONDS of
# fuzzing from the committed corpus (into a scratch copy: the committed one
# stays as it is). One line: "fuzz: N passed, M failed" (N+M = 1).
fuzz_smoke() {
    local secs=${1:-60} work rc=0
    work=$(mktemp -d)
    if ! build_fuzz >"$work/build.log" 2>&1; then
        tail -n 30 "$work/build.log"
        echo "fuzz: the fuzz build failed"
        rc=1
    elif ! ctest --test-dir build-fuzz --output-on-failure >"$work/ctest.log" 2>&1; then
        # (its own log: "all:" counts the unit tests' ctest line only)
        grep -v "tests failed out of" "$work/ctest.log" | tail -n 40
        echo "fuzz: a fixed regression input fails again (tests/fuzz/regressions)"
        rc=1
    else
        mkdir -p "$work/corpus" "$work/artifacts"
        cp tests/fuzz/corpus/* "$work/corpus/"
        build-fuzz/tests/fuzz/report_fuzz -dict=tests/fuzz/trace.dict -max_total_time="$secs" -timeout=10 \
            -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
            "$work/corpus" >"$work/fuzz.log" 2>&1 || rc=$?
        grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec)' "$work/fuzz.log" || true
        if [ "$rc" -ne 0 ]; then
            grep -E -A 25 '^==[0-9]+==|runtime error|ERROR: libFuzzer' "$work/fuzz.log" | head -n 60
            mkdir -p build-fuzz/artifacts && cp "$work"/artifacts/* build-fuzz/artifacts/ 2>/dev/null || true
            echo "fuzz: report_fuzz found a crash, hang or leak; its input is in build-fuzz/artifacts/"
        fi
    fi
    rm -rf "$work"
    if [ "$rc" -eq 0 ]; then echo "fuzz: 1 passed, 0 failed"; else echo "fuzz: 0 passed, 1 failed"; fi
    return "$rc"
}

demo() {
    echo "setup: recording this machine for 3 s (system-wide) ..."
    as_root build/pintrace record -o build/demo.trace --duration 3s
    as_root build/pintrace report build/demo.trace || [ $? -ge 3 ]
}

run_tests() {
    install_missing "${TEST_PACKAGES[@]}"
    # The VM bench fetches Debian kernels with apt-get download: it needs package lists.
    ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 || as_root apt-get update -qq
    local log unit_rc=0 tui_rc=0 vm_rc=0 fuzz_rc=0
    log=$(mktemp)
    ctest --test-dir build --output-on-failure -j2 2>&1 | tee "$log" || unit_rc=$?
    python3 tests/tui/top_tmux.py build 2>&1 | tee -a "$log" || tui_rc=$?
    tests/vm/run.sh build 2>&1 | tee -a "$log" || vm_rc=$?
    fuzz_smoke 60 2>&1 | tee -a "$log" || fuzz_rc=$?
    # One closing line for all suites: "all: N passed, M failed".
    local ut uf tp tf vp vf fp ff
    read -r uf ut < <(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1 \2/p' "$log")
    read -r tp tf < <(sed -n 's/^tui: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$log")
    read -r vp vf < <(sed -n 's/^vm: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$log")
    read -r fp ff < <(sed -n 's/^fuzz: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$log")
    rm -f "$log"
    [ -n "${ut:-}" ] || { echo "setup: ctest ran no test" >&2; ut=0; uf=1; }
    [ -n "${tp:-}" ] || { echo "setup: the tmux test of top did not report" >&2; tp=0; tf=1; }
    [ -n "${vp:-}" ] || { echo "setup: the VM bench did not report" >&2; vp=0; vf=1; }
    [ -n "${fp:-}" ] || { echo "setup: the fuzz smoke did not report" >&2; fp=0; ff=1; }
    echo "all: $((ut - uf + tp + vp + fp)) passed, $((uf + tf + vf + ff)) failed"
    [ "$unit_rc" -eq 0 ] && [ "$tui_rc" -eq 0 ] && [ "$vm_rc" -eq 0 ] && [ "$fuzz_rc" -eq 0 ] && [ "$uf" -eq 0 ] &&
        [ "$tf" -eq 0 ] && [ "$vf" -eq 0 ] && [ "$ff" -eq 0 ]
}

case "${1:-demo}" in
    build) build ;;
    fuzz) fuzz_smoke "${2:-60}" ;;
    test) build && run_tests ;;
    demo) build && demo ;;
    *) echo "usage: $0 [demo|build|test|fuzz [SECONDS]]" >&2; exit 2 ;;
esac
