"""Bad guest pointers get the errno Linux returns (EFAULT before anything is done where the
kernel's access_ok says so), never an exception in pyexec."""
from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SOURCE = Path(__file__).parent / "c" / "badptr.c"


@pytest.mark.parametrize("arch,flags", [("x86_64", []), ("i386", ["-m32"])])
def test_bad_pointers_fail_as_natively(arch: str, flags: list[str], tmp_path: Path,
                                       run_native: Callable[..., Any],
                                       run_pyexec: Callable[..., Any]) -> None:
    prog = tmp_path / f"badptr-{arch}"
    subprocess.run(["gcc", *flags, "-static", "-O1", "-o", str(prog), str(SOURCE)], check=True)
    native = run_native([str(prog)], stdin=subprocess.DEVNULL)
    emulated = run_pyexec([str(prog)], stdin=subprocess.DEVNULL)
    assert native.returncode == 0
    assert emulated.stdout == native.stdout
    assert emulated.returncode == 0
    warnings = emulated.stderr.decode().splitlines()
    assert warnings == [f"pyexec: unsupported {arch} syscall 99999 (unknown): returning -ENOSYS"]
