#!/usr/bin/env bash
# pintrace's one set-up script, used by people, CI and the Dockerfile alike.
#
#   ./setup.sh          install what is missing, build, then record this machine
#                       for a few seconds and report (says which attach points
#                       the kernel allowed)
#   ./setup.sh test     install what is missing, build, run every test:
#                       unit tests (ctest), pintrace top driven in tmux, and
#                       the real-kernel VM bench
#   ./setup.sh build    install what is missing and build (build/pintrace)
#
# Debian 12 packages only. Needs root for apt-get and for recording.
set -euo pipefail
cd "$(dirname "$0")"

BUILD_PACKAGES=(cmake make g++ clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcli11-dev libboost-dev
                libgtest-dev pkg-config libncurses-dev)
TEST_PACKAGES=(python3 busybox-static qemu-system-x86 cpio gzip xz-utils zstd curl gpgv debian-archive-keyring
               tmux)

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

demo() {
    echo "setup: recording this machine for 3 s (system-wide) ..."
    as_root build/pintrace record -o build/demo.trace --duration 3s
    as_root build/pintrace report build/demo.trace || [ $? -ge 3 ]
}

run_tests() {
    install_missing "${TEST_PACKAGES[@]}"
    # The VM bench fetches Debian kernels with apt-get download: it needs package lists.
    ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 || as_root apt-get update -qq
    local log unit_rc=0 tui_rc=0 vm_rc=0
    log=$(mktemp)
    ctest --test-dir build --output-on-failure -j2 2>&1 | tee "$log" || unit_rc=$?
    python3 tests/tui/top_tmux.py build 2>&1 | tee -a "$log" || tui_rc=$?
    tests/vm/run.sh build 2>&1 | tee -a "$log" || vm_rc=$?
    # One closing line for all suites: "all: N passed, M failed".
    local ut uf tp tf vp vf
    read -r uf ut < <(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1 \2/p' "$log")
    read -r tp tf < <(sed -n 's/^tui: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$log")
    read -r vp vf < <(sed -n 's/^vm: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$log")
    rm -f "$log"
    [ -n "${ut:-}" ] || { echo "setup: ctest ran no test" >&2; ut=0; uf=1; }
    [ -n "${tp:-}" ] || { echo "setup: the tmux test of top did not report" >&2; tp=0; tf=1; }
    [ -n "${vp:-}" ] || { echo "setup: the VM bench did not report" >&2; vp=0; vf=1; }
    echo "all: $((ut - uf + tp + vp)) passed, $((uf + tf + vf)) failed"
    [ "$unit_rc" -eq 0 ] && [ "$tui_rc" -eq 0 ] && [ "$vm_rc" -eq 0 ] && [ "$uf" -eq 0 ] && [ "$tf" -eq 0 ] && [ "$vf" -eq 0 ]
}

case "${1:-demo}" in
    build) build ;;
    test) build && run_tests ;;
    demo) build && demo ;;
    *) echo "usage: $0 [demo|build|test]" >&2; exit 2 ;;
esac
