"""fork/clone/vfork, wait4/waitid, execve, pipes, fcntl locks, poll/select, directories, file
attributes, statfs, sendfile, prctl, ids and AF_UNIX sockets (with SCM_RIGHTS): the C program
tests/native/c/process_syscalls.c prints what each call returned; pyexec must print the same as
the native run, for x86-64, i386 and musl builds.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCE = Path(__file__).resolve().parent / "c" / "process_syscalls.c"
OUT_DIR = REPO_ROOT / "samples" / "build" / "tests"
TIMEOUT = 120
COMPILERS = {
    "x86_64": ["gcc", "-static"],
    "i386": ["gcc", "-m32", "-static"],
    "musl": ["musl-gcc", "-static"],
}


@pytest.fixture(scope="module", params=sorted(COMPILERS))
def program(request: pytest.FixtureRequest) -> Path:
    variant = request.param
    exe = OUT_DIR / f"process_syscalls-{variant}"
    if not exe.is_file() or exe.stat().st_mtime < SOURCE.stat().st_mtime:
        cc = COMPILERS[variant]
        if shutil.which(cc[0]) is None:
            pytest.fail(f"{cc[0]} not found: run `make setup` (gcc-multilib, musl-tools)")
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        built = subprocess.run([*cc, "-O1", "-Wall", "-o", str(exe), str(SOURCE)],
                               capture_output=True, text=True, check=False)
        if built.returncode != 0:
            pytest.fail(f"cannot build {exe.name}:\n{built.stderr}")
    return exe


def _run(cmd: list[str], work: Path) -> subprocess.CompletedProcess[bytes]:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    return subprocess.run([*cmd, str(work)], capture_output=True, timeout=TIMEOUT, check=False,
                          stdin=subprocess.DEVNULL, cwd=REPO_ROOT)


def test_matches_native(program: Path, tmp_path: Path) -> None:
    work = tmp_path / "d"
    native = _run([str(program)], work)
    assert native.returncode == 0, native.stderr
    emulated = _run([sys.executable, "-m", "emulator", str(program)], work)
    why = f"pyexec stderr:\n{emulated.stderr.decode(errors='replace')}"
    assert emulated.stdout.decode() == native.stdout.decode(), why
    assert emulated.returncode == native.returncode, why
    assert b"pyexec:" not in emulated.stderr, why
