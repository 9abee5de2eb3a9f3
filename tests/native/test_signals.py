"""Signal delivery (samples/signals.c): handlers, masks, CPU exceptions, altstack, sigreturn.

Each check prints one line; the native run (no ASLR, as the sample prints addresses) is the
oracle. Fatal modes must end by the same signal as natively.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FATAL_MODES = ["abort", "term", "segv-blocked", "resethand", "ignored-fpe"]


def test_signal_checks_match_native(variant: str, sample: Callable[[str, str], Path],
                                    run_native: Callable[..., Any],
                                    run_pyexec: Callable[..., Any]) -> None:
    prog = str(sample("signals", variant))
    native = run_native(["setarch", "-R", prog])
    emulated = run_pyexec([prog])
    assert native.returncode == 0, native.stderr
    assert emulated.stdout.decode() == native.stdout.decode(), emulated.stderr.decode()
    assert emulated.returncode == 0, emulated.stderr.decode()
    assert len(native.stdout.splitlines()) >= 17


@pytest.mark.parametrize("mode", FATAL_MODES)
def test_fatal_signal_matches_native(mode: str, variant: str, sample: Callable[[str, str], Path],
                                     run_native: Callable[..., Any],
                                     run_pyexec: Callable[..., Any]) -> None:
    prog = str(sample("signals", variant))
    native = run_native(["setarch", "-R", prog, mode])
    emulated = run_pyexec([prog, mode])
    assert emulated.returncode == native.returncode, emulated.stderr.decode()
    assert emulated.stdout == native.stdout
    if native.returncode < 0:
        # pyexec adds one line naming the signal, nothing else (no traceback).
        lines = emulated.stderr.decode().splitlines()
        assert len(lines) <= 1 and all("Traceback" not in ln for ln in lines), lines
