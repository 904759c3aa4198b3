#!/usr/bin/env python3
"""Which of these kernel functions can a program attach to, per bench kernel?

    tests/vm/kernel_funcs.py NAME...            every kernel of kernels.list
    tests/vm/kernel_funcs.py -k 5.10,7.3 NAME...

Prints one row per NAME and one column per kernel: "btf" when the kernel's
BTF has the function (fentry/fexit can attach: an out-of-line copy exists),
"-" when it has not (inlined everywhere, renamed, or absent). Read this
before writing a hook row (bpf/pintrace.h PT_HOOKS): a name that a source
tree shows is not yet one a kernel exports.

The kernels come from tests/vm/kernel.py (its cache). The vmlinux inside
each vmlinuz is decompressed once and its BTF function names kept beside
it (btf_funcs). Needs bpftool, and zstd and lz4 for the kernels that use
them.
"""
import lzma
import subprocess
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

# How bzImage payloads start; the first that decompresses to an ELF wins.
MAGICS = [(b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"\x1f\x8b\x08", "gzip"),
          (b"\x02\x21\x4c\x18", "lz4")]


def decompress(kind, blob):
    if kind == "xz":
        return lzma.LZMADecompressor().decompress(blob)
    if kind == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(blob)
    tool = {"zstd": ["zstd", "-dcq"], "lz4": ["lz4", "-dcq"]}[kind]
    return subprocess.run(tool, input=blob, capture_output=True).stdout


def vmlinux_of(vmlinuz):
    data = vmlinuz.read_bytes()
    for magic, kind in MAGICS:
        at = data.find(magic)
        while at != -1:
            try:
                elf = decompress(kind, data[at:])
                if elf[:4] == b"\x7fELF":
                    return elf
            except (lzma.LZMAError, zlib.error, OSError):
                pass
            at = data.find(magic, at + 1)
    sys.exit(f"kernel_funcs: no vmlinux found in {vmlinuz}")


def btf_funcs(kdir):
    cached = kdir / "btf_funcs"
    if not cached.exists():
        elf = kdir / "vmlinux.tmp"
        elf.write_bytes(vmlinux_of(kdir / "vmlinuz"))
        try:
            dump = subprocess.run(["bpftool", "btf", "dump", "file", str(elf), "format", "raw"],
                                  capture_output=True, text=True, check=True).stdout
        finally:
            elf.unlink()
        names = sorted({line.split("'")[1] for line in dump.splitlines() if "] FUNC '" in line})
        cached.write_text("\n".join(names) + "\n")
    return set(cached.read_text().split())


def kernel_ids():
    for line in (HERE / "kernels.list").read_text().splitlines():
        w = line.split()
        if w and not w[0].startswith("#"):
            yield w[0]


def main(argv):
    ids = list(kernel_ids())
    if argv[:1] == ["-k"] and len(argv) > 1:
        ids, argv = argv[1].split(","), argv[2:]
    if not argv:
        sys.exit(__doc__.strip())
    funcs = {}
    for kid in ids:
        kdir = subprocess.run([sys.executable, str(HERE / "kernel.py"), kid], capture_output=True, text=True)
        if kdir.returncode != 0:
            sys.exit(f"kernel_funcs: kernel.py {kid}: {kdir.stderr.strip()}")
        funcs[kid] = btf_funcs(Path(kdir.stdout.strip()))
    width = max(len(n) for n in argv) + 2
    print("".ljust(width) + "".join(k.ljust(8) for k in ids))
    for name in argv:
        print(name.ljust(width) + "".join(("btf" if name in funcs[k] else "-").ljust(8) for k in ids))


if __name__ == "__main__":
    main(sys.argv[1:])
