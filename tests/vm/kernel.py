#!/usr/bin/env python3
"""Find, fetch and unpack one of Debian's kernels for the VM bench.

    tests/vm/kernel.py ID         prints the directory holding vmlinuz,
                                  config, modules/*.ko, kernel and facts

ID is the first column of kernels.list ("ID SUITE META-PACKAGE"). The meta
package (e.g. linux-image-cloud-amd64) is followed through its Depends, in
that suite's own package index, to the concrete kernel packages: before 6.19
linux-image-VER-FLAVOUR alone (vmlinuz and config under boot/, modules under
lib/modules/); from 6.19 linux-image-VER-FLAVOUR is empty and depends on
linux-binary-VER-FLAVOUR (vmlinuz under usr/lib/modules/VER/),
linux-base-VER-FLAVOUR (the config) and linux-modules-VER-FLAVOUR.

Everything comes from the mirror this machine's apt uses (never a host name
written here; PINTRACE_VM_MIRROR overrides it): InRelease checked with gpgv
against Debian's archive keyring, the Packages index against InRelease, each
.deb against the index.

Cache (PINTRACE_VM_CACHE, default /var/cache/pintrace-vm):
  suites/SUITE/        the verified InRelease and Packages.xz
  resolved/ID.json     what the line resolved to, and when
  kernels/PKG_VER/     vmlinuz, config, modules/, kernel, facts
A line is resolved again at most once a day (PINTRACE_VM_REFRESH=1 forces
it). If the mirror cannot be reached, the last resolution is used and this
says so on stderr.
"""
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("PINTRACE_VM_CACHE", "/var/cache/pintrace-vm"))
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
INDEX = "main/binary-amd64/Packages.xz"
# Modules the scenarios load (busybox insmod takes them uncompressed).
MODULES = ["configfs", "null_blk"]
# Packages built from the kernel's sources; Depends on anything else
# (kmod, initramfs-tools, the linux-base scripts) are not followed.
KERNEL_SOURCES = {"linux", "linux-signed-amd64"}
DAY = 24 * 3600


class Unreachable(Exception):
    """The mirror did not answer (as opposed to answering something wrong)."""


def say(msg):
    print(f"kernel.py: {msg}", file=sys.stderr)


def die(msg):
    say(msg)
    sys.exit(2)


def apt_mirror():
    if os.environ.get("PINTRACE_VM_MIRROR"):
        return os.environ["PINTRACE_VM_MIRROR"].rstrip("/")
    uris = []
    for f in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in f.read_text().splitlines():
            if line.startswith("URIs:"):
                uris += line.split()[1:]
    src = Path("/etc/apt/sources.list")
    if src.exists():
        for line in src.read_text().splitlines():
            w = line.split()
            if w[:1] == ["deb"]:
                w = [x for x in w[1:] if not x.startswith("[")]
                if w:
                    uris.append(w[0])
    uris = [u for u in uris if "security" not in u]
    if not uris:
        die("no Debian mirror in the apt configuration")
    return uris[0].rstrip("/")


def fetch(url, dest):
    tmp = Path(str(dest) + ".part")
    r = subprocess.run(["curl", "-fsSL", "--retry", "2", "--connect-timeout", "20",
                        "-o", str(tmp), url], stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise Unreachable(f"{url}: {r.stderr.strip() or 'curl exit %d' % r.returncode}")
    tmp.rename(dest)


def sha256(path):
    return subprocess.run(["sha256sum", str(path)], check=True, capture_output=True,
                          text=True).stdout.split()[0]


def stanzas(text):
    for block in text.split("\n\n"):
        fields, key = {}, None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line
            elif ":" in line:
                key, _, val = line.partition(":")
                fields[key] = val.strip()
        if fields:
            yield fields


def suite_index(mirror, suite):
    """The suite's kernel packages: {name: [stanza, ...]}, from a verified index."""
    d = CACHE / "suites" / suite
    d.mkdir(parents=True, exist_ok=True)
    fetch(f"{mirror}/dists/{suite}/InRelease", d / "InRelease.new")
    signed = d / "Release.verified"
    r = subprocess.run(["gpgv", "--keyring", KEYRING, "--output", str(signed),
                        str(d / "InRelease.new")], capture_output=True, text=True)
    if r.returncode != 0:
        die(f"InRelease of {suite} does not verify against Debian's archive keyring:\n{r.stderr}")
    (d / "InRelease.new").rename(d / "InRelease")
    want = None
    in_sha = False
    for line in signed.read_text().splitlines():
        if line.startswith("SHA256:"):
            in_sha = True
        elif not line.startswith(" "):
            in_sha = False
        elif in_sha and line.split()[2] == INDEX:
            want = line.split()[0]
    if not want:
        die(f"{suite}'s InRelease lists no {INDEX}")
    pk = d / "Packages.xz"
    if not pk.exists() or sha256(pk) != want:
        fetch(f"{mirror}/dists/{suite}/{INDEX}", pk)
        if sha256(pk) != want:
            pk.unlink()
            die(f"the {suite} package index does not match its InRelease")
    index = {}
    for s in stanzas(lzma.decompress(pk.read_bytes()).decode()):
        if s.get("Package", "").startswith("linux-"):
            index.setdefault(s["Package"], []).append(s)
    return index


def newer(a, b):
    return subprocess.run(["dpkg", "--compare-versions", a, "gt", b]).returncode == 0


def pick(index, name, version=None):
    cands = [s for s in index.get(name, []) if version is None or s["Version"] == version]
    best = None
    for s in cands:
        if best is None or newer(s["Version"], best["Version"]):
            best = s
    return best


def closure(index, meta):
    """The meta package and every kernel package its Depends lead to."""
    root = pick(index, meta)
    if root is None:
        raise LookupError(f"{meta} is not in the index")
    seen, todo = {}, [root]
    while todo:
        s = todo.pop()
        if s["Package"] in seen:
            continue
        seen[s["Package"]] = s
        for clause in s.get("Depends", "").split(","):
            for alt in clause.split("|"):
                m = re.match(r"\s*([^\s(]+)\s*(?:\(\s*=\s*([^)\s]+)\s*\))?", alt)
                if not m:
                    continue
                dep = pick(index, m.group(1), m.group(2))
                if dep and dep.get("Source", dep["Package"]).split()[0] in KERNEL_SOURCES:
                    todo.append(dep)
                    break
    return list(seen.values())


def resolve(mirror, kid, suite, meta):
    index = suite_index(mirror, suite)
    pkgs = closure(index, meta)
    images = [s for s in pkgs if re.match(r"linux-image-\d", s["Package"])]
    if len(images) != 1:
        raise LookupError(f"{meta} in {suite} leads to {len(images)} concrete images: "
                          + " ".join(s["Package"] for s in images))
    return {
        "id": kid, "suite": suite, "meta": meta,
        "package": images[0]["Package"], "version": images[0]["Version"],
        "resolved_at": int(time.time()),
        "resolved_on": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "debs": [{"package": s["Package"], "version": s["Version"],
                  "filename": s["Filename"], "sha256": s["SHA256"]}
                 for s in sorted(pkgs, key=lambda s: s["Package"])
                 # Versioned packages only: the meta packages are empty.
                 if re.match(r"linux-[a-z-]+-\d", s["Package"])],
    }


def unpack(mirror, res, kdir):
    """Download the resolution's .debs, keep vmlinuz, config and MODULES."""
    tmp = Path(tempfile.mkdtemp(dir=CACHE))
    try:
        x = tmp / "x"
        x.mkdir()
        for deb in res["debs"]:
            f = tmp / Path(deb["filename"]).name
            fetch(f"{mirror}/{deb['filename']}", f)
            if sha256(f) != deb["sha256"]:
                die(f"{deb['filename']} does not match its index")
            subprocess.run(["dpkg-deb", "-x", str(f), str(x)], check=True)
            f.unlink()
        vmlinuz = sorted(x.glob("boot/vmlinuz-*")) + sorted(x.glob("usr/lib/modules/*/vmlinuz"))
        config = sorted(x.glob("boot/config-*")) + sorted(x.glob("usr/lib/modules/*/config"))
        if not vmlinuz:
            die(f"no vmlinuz in {' '.join(d['package'] for d in res['debs'])}")
        out = tmp / "k"
        (out / "modules").mkdir(parents=True)
        shutil.copy(vmlinuz[0], out / "vmlinuz")
        if config:
            shutil.copy(config[0], out / "config")
        release = ""
        for base in ("lib/modules", "usr/lib/modules"):
            for p in sorted((x / base).glob("*")) if (x / base).is_dir() else []:
                release = release or p.name
        missing = []
        for m in MODULES:
            found = sorted(x.rglob(f"{m}.ko*"))
            if not found:
                missing.append(m)
                continue
            f = found[0]
            with open(out / "modules" / f"{m}.ko", "wb") as o:
                if f.name.endswith(".xz"):
                    subprocess.run(["xz", "-dc", str(f)], stdout=o, check=True)
                elif f.name.endswith(".zst"):
                    subprocess.run(["zstd", "-qdc", str(f)], stdout=o, check=True)
                elif f.name.endswith(".gz"):
                    subprocess.run(["gzip", "-dc", str(f)], stdout=o, check=True)
                else:
                    o.write(f.read_bytes())
        cfg = (out / "config").read_text() if config else ""
        cma = "y" if re.search(r"^CONFIG_CMA=y$", cfg, re.M) else ("n" if cfg else "unknown")
        (out / "kernel").write_text(
            f"package {res['package']}\nversion {res['version']}\n"
            f"suite {res['suite']}\nmeta {res['meta']}\nrelease {release}\n"
            f"debs {' '.join(d['package'] for d in res['debs'])}\n")
        # Facts for choosing scenarios: key=value, one a line.
        (out / "facts").write_text(
            f"cma={cma}\nmodules_missing={','.join(missing)}\n")
        if missing:
            say(f"{res['package']}: no module {', '.join(missing)} in its packages "
                "(built in, or the scenarios needing it will fail)")
        if kdir.exists():
            shutil.rmtree(kdir)
        kdir.parent.mkdir(parents=True, exist_ok=True)
        out.rename(kdir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def line_of(kid):
    for line in (HERE / "kernels.list").read_text().splitlines():
        w = line.split()
        if w and not w[0].startswith("#") and w[0] == kid:
            if len(w) < 3:
                die(f"kernels.list: '{line}' is not 'ID SUITE META-PACKAGE'")
            return w[1], w[2]
    die(f"unknown kernel '{kid}' (see kernels.list)")


def main():
    if len(sys.argv) != 2:
        die("usage: kernel.py ID")
    kid = sys.argv[1]
    suite, meta = line_of(kid)
    (CACHE / "resolved").mkdir(parents=True, exist_ok=True)
    cached_file = CACHE / "resolved" / f"{kid}.json"
    cached = json.loads(cached_file.read_text()) if cached_file.exists() else None
    if cached and (cached.get("suite"), cached.get("meta")) != (suite, meta):
        cached = None  # the line changed
    fresh = (cached and time.time() - cached["resolved_at"] < DAY
             and os.environ.get("PINTRACE_VM_REFRESH") != "1")
    mirror = apt_mirror()
    res = cached
    if not fresh:
        try:
            res = resolve(mirror, kid, suite, meta)
        except Unreachable as e:
            if not cached:
                die(f"the mirror cannot be reached and {kid} was never resolved: {e}")
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(cached["resolved_at"]))
            say(f"the mirror cannot be reached ({e}); using the resolution of {when}: "
                f"{cached['package']} {cached['version']}")
        except LookupError as e:
            die(f"kernels.list line {kid}: {e}")
    kdir = CACHE / "kernels" / f"{res['package']}_{res['version']}"
    if not (kdir / "facts").exists():
        try:
            unpack(mirror, res, kdir)
        except Unreachable as e:
            old = cached and CACHE / "kernels" / f"{cached['package']}_{cached['version']}"
            if not old or res is cached or not (old / "facts").exists():
                die(f"cannot download {res['package']} {res['version']}: {e}")
            say(f"cannot download {res['package']} {res['version']} ({e}); "
                f"using the last one fetched: {cached['package']} {cached['version']}")
            res, kdir = cached, old
    if res is not cached:
        cached_file.write_text(json.dumps(res, indent=1) + "\n")
    print(kdir)


if __name__ == "__main__":
    main()
