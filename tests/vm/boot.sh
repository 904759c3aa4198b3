#!/usr/bin/env bash
# Boot one of Debian's own kernels under QEMU (TCG) with a busybox initramfs,
# run a guest script in it, and bring back what the script left in /out.
#
#   tests/vm/boot.sh KERNEL OUTDIR GUEST_SCRIPT [FILE...]
#
# KERNEL   an id of kernels.list (5.10, 6.1, 6.12, 7.3, newest)
# OUTDIR   receives the guest's /out, console.log and attempts.log
# FILE...  copied into the guest's /bin (static binaries: pintrace, scenarios)
#
# Why a second serial port: the kernel owns ttyS0 (console, oops text); ttyS1
# carries only our tar stream, so kernel messages can never corrupt results.
# The stream is gzipped: the emulated UART moves about 200 KB/s, and the
# reports of a scenario with thousands of failures (offline_pinned on 7.x:
# 40 MB) took minutes to come back uncompressed.
#
# A guest that oopses *before* the guest script started is a flake of the
# emulator (6.12 under TCG does this about 1 boot in 6): it is retried and
# counted in attempts.log. So is one whose oops is "Oops: int3" anywhere: a
# breakpoint the kernel's own text patching (text_poke_bp: static keys, BPF
# trampolines) had in place, which the other vCPU ran before TCG let it see
# the handler's state (seen once, on 6.12, in __alloc_pages_noprof during a
# BPF program load: no function pintrace attaches to). So is a guest that
# hung with its timers stopped: "Possible timer handling issue on cpu=N"
# (the RCU kthread's timer never fired) beside soft lockups and no oops
# (seen once, on 6.1 in a clean-clone CI run: the guest shell stuck in the
# kernel for 480 s while the other vCPU took no timer interrupts): once per
# kernel, since each costs the whole boot timeout. So, under the same once
# per kernel, is a guest stuck in a soft lockup with an RCU stall and no
# oops (seen once, on 5.10 in a clean-clone CI run of 2026-12-07: a shell
# spinning on CPU 0 while a pintrace recorder, attaching its trampolines,
# and khugepaged waited; the same binaries passed 15 of 15 on a rerun and
# in four other boots that day). A hang a retry reproduces still fails.
# Any other oops after the script started is a failure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kernel=${1:?kernel id, e.g. 6.1}
outdir=${2:?output directory}
guest_script=${3:?guest script}
shift 3

max_boots=${PINTRACE_VM_BOOTS:-4}
boot_timeout=${PINTRACE_VM_TIMEOUT:-600}
# Node 1 gets 1 GiB below 4 GiB (ZONE_DMA32) and 3 GiB above (ZONE_NORMAL,
# pfns 0x100000-0x1c0000). Node 1's kernel allocations take the lowest of
# those, its memory map sits at the top, and the middle 1 GiB range stays
# free of kernel pages: the one place where a gigantic huge page or a
# memory offline can be stopped by a held page alone (anywhere else they
# stop first at isolation, on kernel pages, with nothing to trace). No
# movablecore: it would turn that range into ZONE_MOVABLE, which gigantic
# pages (GFP_HIGHUSER) cannot use.
read -r node0_mb node1_mb <<<"${PINTRACE_VM_NODE_MB:-2048 4096}"
# Extra kernel command-line options, e.g. PINTRACE_VM_APPEND=hugetlb_cma=1:1G
# on a kernel whose facts say cma=y.
append=${PINTRACE_VM_APPEND:-}

die() { echo "boot.sh: $*" >&2; exit 2; }

# kernel.py resolves the kernels.list line (suite + meta package) to a
# concrete kernel from the mirror of the machine's apt configuration, checks
# and caches it: a directory with vmlinuz, config, modules/, kernel, facts.
kdir=$(python3 "$here/kernel.py" "$kernel") || die "no kernel for '$kernel'"
vmlinuz=$kdir/vmlinuz

# Which kernel ran (uname -r added once the guest said it), and its facts
# (cma=y|n: CONFIG_CMA in its config) for choosing scenarios.
mkdir -p "$outdir"
{ grep -E '^(package|version|suite) ' "$kdir/kernel"
  [ -z "$append" ] || echo "append $append"; } >"$outdir/kernel"
cp "$kdir/facts" "$outdir/facts"

build_initramfs() {
    local root=$1 img=$2
    mkdir -p "$root"/{bin,dev,proc,sys,tmp,out,modules}
    cp "$kdir"/modules/*.ko "$root/modules/" 2>/dev/null || true
    cp /bin/busybox "$root/bin/busybox"
    shift 2
    for f in "$@"; do cp "$f" "$root/bin/"; done
    cp "$guest_script" "$root/guest.sh"
    cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
echo "@@PINTRACE-GUEST-UP@@"
uname -r > /out/uname
sh /guest.sh > /out/guest.log 2>&1
echo $? > /out/guest.rc
echo "@@PINTRACE-GUEST-DONE@@"
stty -F /dev/ttyS1 raw 2>/dev/null
tar -c -C /out . | gzip -1 | base64 > /dev/ttyS1
sync
poweroff -f
EOF
    chmod +x "$root/init" "$root/guest.sh"
    (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$img"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build_initramfs "$work/root" "$work/initrd" "$@"

: >"$outdir/attempts.log"
timer_hangs=0
for attempt in $(seq 1 "$max_boots"); do
    rm -f "$work/data" "$work/console"
    set +e
    timeout "$boot_timeout" qemu-system-x86_64 \
        -accel tcg -cpu max -smp 2 -m $((node0_mb + node1_mb)) \
        -object memory-backend-ram,id=m0,size=${node0_mb}M \
        -object memory-backend-ram,id=m1,size=${node1_mb}M \
        -numa node,nodeid=0,memdev=m0 -numa node,nodeid=1,memdev=m1 \
        -kernel "$vmlinuz" -initrd "$work/initrd" \
        -append "console=ttyS0 loglevel=4 panic=-1 oops=panic nokaslr mitigations=off${append:+ $append}" \
        -display none -no-reboot -monitor none \
        -serial "file:$work/console" -serial "file:$work/data" </dev/null
    qrc=$?
    set -e
    cp "$work/console" "$outdir/console.log"
    if ! grep -q "@@PINTRACE-GUEST-UP@@" "$work/console"; then
        echo "attempt $attempt: kernel $kernel died before the guest script ran (qemu rc $qrc): flake, retrying" >>"$outdir/attempts.log"
        continue
    fi
    if ! grep -q "@@PINTRACE-GUEST-DONE@@" "$work/console" && grep -q "Oops: int3" "$work/console" &&
        [ "$(grep -c "Oops:" "$work/console")" -eq 1 ]; then
        echo "attempt $attempt: kernel $kernel hit a text-patching breakpoint (Oops: int3) while the guest script ran" \
            "(qemu rc $qrc): flake, retrying" >>"$outdir/attempts.log"
        cp "$work/console" "$outdir/console.attempt$attempt.log"
        continue
    fi
    if ! grep -q "@@PINTRACE-GUEST-DONE@@" "$work/console" &&
        grep -qE "Possible timer handling issue on cpu=|BUG: soft lockup - CPU#" "$work/console" &&
        ! grep -q "Oops:" "$work/console" &&
        [ "$timer_hangs" -eq 0 ] && [ "$attempt" -lt "$max_boots" ]; then
        timer_hangs=1  # once: each costs the whole boot timeout
        echo "attempt $attempt: kernel $kernel hung (stopped timers or a soft lockup, no oops; qemu rc $qrc): flake, retrying" \
            >>"$outdir/attempts.log"
        cp "$work/console" "$outdir/console.attempt$attempt.log"
        continue
    fi
    if ! grep -q "@@PINTRACE-GUEST-DONE@@" "$work/console"; then
        echo "attempt $attempt: guest script did not finish (qemu rc $qrc)" >>"$outdir/attempts.log"
        grep -E "BUG:|Oops|panic|Call Trace" "$outdir/console.log" | head -5 >&2 || true
        die "guest on $kernel did not finish its script; see $outdir/console.log"
    fi
    base64 -d -i "$work/data" | tar -xz -C "$outdir" || die "garbled result stream from guest"
    echo "uname $(cat "$outdir/uname" 2>/dev/null)" >>"$outdir/kernel"
    echo "attempt $attempt: ok" >>"$outdir/attempts.log"
    exit 0
done
die "kernel $kernel failed to boot $max_boots times; see $outdir/attempts.log"
