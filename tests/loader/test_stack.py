"""The initial stack (loader/stack.py) against the host kernel's, byte for byte.

samples/auxv.c prints argc, the addresses of argv, envp, their strings, AT_EXECFN, AT_RANDOM and
AT_PLATFORM, the stack pointer's alignment at main and the CPU-independent getauxval() values.
With address randomization off (`setarch -R`) and the same argv and environment, every one of
them is the same natively and under pyexec, which writes AT_IGNORE where the kernel has vDSO or
rseq entries precisely so that the stack keeps the native layout.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ENV = shutil.which("env")
SETARCH = shutil.which("setarch")

# Python coerces a C locale by adding LC_CTYPE=C.UTF-8 to its own environment (PEP 538); with
# that variable already set to a UTF-8 locale it adds nothing, so both sides see the same envp.
# (test_environment_reaches_the_guest_unchanged shows what happens without it.)
FIXED_ENV = ["A=1", "B=2", "LC_CTYPE=C.UTF-8"]
ARGS = ["x", "y"]


def run_both(prog: str, env: list[str], run_native: Callable[..., Any]) -> tuple[Any, Any]:
    assert ENV and SETARCH
    native = run_native([ENV, "-i", *env, SETARCH, "-R", prog, *ARGS])
    emulated = run_native([ENV, "-i", *env, sys.executable, "-m", "emulator", prog, *ARGS])
    assert native.returncode == 0, native.stderr
    assert emulated.returncode == 0, emulated.stderr
    return native, emulated


def _params() -> list[Any]:
    out = []
    for v in ("x86_64", "i386", "pie", "musl"):
        marks: list[Any] = []
        out.append(pytest.param(v, marks=marks, id=v))
    return out


@pytest.mark.parametrize("arch", _params())
def test_initial_stack_matches_native(arch: str, sample: Callable[[str, str], Path],
                                      run_native: Callable[..., Any]) -> None:
    prog = str(sample("auxv", arch))
    native, emulated = run_both(prog, FIXED_ENV, run_native)
    text = native.stdout.decode()
    # The oracle printed what this test is about.
    assert f'execfn="{prog}"' in text and "envc=3" in text and "argc=3" in text
    assert emulated.stdout.decode().splitlines() == text.splitlines()
    assert emulated.stdout == native.stdout


def test_environment_reaches_the_guest_unchanged(sample: Callable[[str, str], Path],
                                                  run_native: Callable[..., Any]) -> None:
    prog = str(sample("auxv", "x86_64"))
    native, emulated = run_both(prog, ["A=1", "B=2"], run_native)
    assert "envc=2" in native.stdout.decode()
    assert emulated.stdout == native.stdout
