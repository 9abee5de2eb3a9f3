"""Every sample x every variant: pyexec must match the native run.

`variant` is parametrized by conftest.py over x86_64, i386, pie and musl.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest


class Case(NamedTuple):
    sample: str
    args: tuple[str, ...] = ()
    env: dict[str, str] | None = None  # added to the inherited environment
    compare_stderr: bool = False
    returncode: int | None = None  # expected on both sides, when fixed

    @property
    def id(self) -> str:
        return "-".join([self.sample, *(a for a in self.args if a != TMPDIR)]).replace(" ", "_")


TMPDIR = "{tmp}"  # replaced by the test's tmp_path

CASES = [
    Case("hello", compare_stderr=True, returncode=0),
    Case("args", ("one", "two words"), env={"PYEXEC_TEST": "hello env", "PYEXEC_EMPTY": ""}, returncode=2),
    Case("files", (TMPDIR,), returncode=0),
    Case("heap", returncode=0),
    Case("cpu", ("3",), returncode=0),
    Case("syscalls", ("20000",), returncode=0),
    Case("touch", ("32",), returncode=0),
    Case("exitcode", ("3",), returncode=3),
    Case("exitcode", ("0",), returncode=0),
    Case("segv", returncode=-signal.SIGSEGV),
]

# Lines of /proc/self/maps that pyexec need not reproduce.
IGNORED_MAPS = {b"[vdso]", b"[vvar]", b"[vvar_vclock]", b"[vsyscall]"}


# Samples with a test module of their own (their output depends on addresses, or they have modes).
TESTED_ELSEWHERE = {"auxv", "boundary", "determinism", "fuzzme", "maps", "mmtest", "signals", "watch"}   # auxv: tests/loader/test_stack.py; boundary, watch: test_debugger.py; mmtest: test_mm_semantics.py


def test_every_sample_has_a_case(sample_names: tuple[str, ...]) -> None:
    assert set(sample_names) == {c.sample for c in CASES} | TESTED_ELSEWHERE


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_matches_native(
    case: Case,
    variant: str,
    tmp_path: Path,
    sample: Callable[[str, str], Path],
    run_native: Callable[..., Any],
    run_pyexec: Callable[..., Any],
) -> None:
    prog = str(sample(case.sample, variant))
    argv = [prog, *(a.replace(TMPDIR, str(tmp_path)) for a in case.args)]
    env = {**os.environ, **case.env} if case.env is not None else None

    native = run_native(argv, env=env)
    emulated = run_pyexec(argv, env=env)
    why = f"pyexec stderr:\n{emulated.stderr.decode(errors='replace')}"

    if case.returncode is not None:
        assert native.returncode == case.returncode, native.stderr
    assert emulated.returncode == native.returncode, why
    assert emulated.stdout == native.stdout, why
    if case.compare_stderr:
        assert emulated.stderr == native.stderr
    if case.sample == "files":
        assert list(tmp_path.iterdir()) == [], "files sample left a file behind"


def _significant_maps(text: bytes) -> list[bytes]:
    return [ln for ln in text.splitlines() if not (ln.split() and ln.split()[-1] in IGNORED_MAPS)]


def test_proc_self_maps(
    variant: str,
    sample: Callable[[str, str], Path],
    run_native: Callable[..., Any],
    run_pyexec: Callable[..., Any],
) -> None:
    prog = str(sample("maps", variant))
    native = run_native(["setarch", "-R", prog])
    assert native.returncode == 0, native.stderr
    emulated = run_pyexec([prog])
    why = f"pyexec stderr:\n{emulated.stderr.decode(errors='replace')}"
    assert emulated.returncode == 0, why
    assert _significant_maps(emulated.stdout) == _significant_maps(native.stdout), why
