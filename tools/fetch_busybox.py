#!/usr/bin/env python3
"""Fetch Debian's static busybox for an architecture: fetch_busybox.py ARCH DEST.

ARCH is a Debian architecture (i386, amd64). The package busybox-static:ARCH is downloaded with
`apt-get download` (after `dpkg --add-architecture ARCH` and `apt-get update` when apt does not
know it yet), unpacked with `dpkg -x`, and its bin/busybox copied to DEST. Nothing happens when
DEST already exists. Exits 1 with a message on stderr when apt or dpkg fail (offline, not
Debian, not root...). Used by the Makefile (target busybox-i386) and tests/native/test_busybox.py.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile

APT = ["apt-get", "-q", "-o", "APT::Sandbox::User=root", "-o", "DPkg::Lock::Timeout=600"]


def run(cmd: list[str], cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, check=False)


def download(arch: str, workdir: str) -> str:
    pkg = f"busybox-static:{arch}"
    got = run([*APT, "download", pkg], cwd=workdir)
    if got.returncode != 0:
        native = run(["dpkg", "--print-architecture"]).stdout.strip()
        if arch != native:
            foreign = run(["dpkg", "--print-foreign-architectures"]).stdout.split()
            if arch not in foreign:
                added = run(["dpkg", "--add-architecture", arch])
                if added.returncode != 0:
                    raise RuntimeError(f"dpkg --add-architecture {arch}: {added.stderr.strip()}")
        run([*APT, "update"])
        got = run([*APT, "download", pkg], cwd=workdir)
        if got.returncode != 0:
            raise RuntimeError(f"apt-get download {pkg}: {got.stderr.strip()}")
    debs = glob.glob(os.path.join(workdir, "busybox-static_*.deb"))
    if not debs:
        raise RuntimeError(f"apt-get download {pkg} produced no .deb")
    return debs[0]


def fetch(arch: str, dest: str) -> None:
    if os.path.isfile(dest):
        return
    with tempfile.TemporaryDirectory(prefix="busybox-") as tmp:
        deb = download(arch, tmp)
        root = os.path.join(tmp, "root")
        unpacked = run(["dpkg", "-x", deb, root])
        if unpacked.returncode != 0:
            raise RuntimeError(f"dpkg -x {deb}: {unpacked.stderr.strip()}")
        binary = os.path.join(root, "bin", "busybox")
        if not os.path.isfile(binary):
            raise RuntimeError(f"{deb} has no bin/busybox")
        os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
        partial = dest + ".part"
        shutil.copy(binary, partial)
        os.chmod(partial, 0o755)
        os.replace(partial, dest)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        sys.stderr.write("usage: fetch_busybox.py ARCH DEST\n")
        return 2
    try:
        fetch(argv[1], argv[2])
    except (RuntimeError, OSError) as exc:
        sys.stderr.write(f"fetch_busybox: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
