"""Linux memory-management semantics: samples/mmtest.c natively (`setarch -R`) and under pyexec.

The sample prints one line per check (errno names, contents, maps lines of the regions it made,
mincore vectors, RSS deltas, smaps/status values); both runs must print the same bytes. Its crash
modes (argv[1]) must end by the same signal after the same stdout. The /proc/self/smaps and
/proc/self/status pyexec generates are also checked against the host kernel's own formats.

`variant` is parametrized by conftest.py over x86_64, i386, pie and musl.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CRASH_MODES = {
    "segv-maperr": -signal.SIGSEGV,
    "segv-accerr": -signal.SIGSEGV,
    "sigbus-past-eof": -signal.SIGBUS,
    "stack-growth-ok": 0,
    "stack-overflow": -signal.SIGSEGV,
    "write-only-read": 0,
    "guard-page": -signal.SIGSEGV,
}


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "TMPDIR": str(tmp_path)}


def test_mmtest_matches_native(
    variant: str,
    tmp_path: Path,
    sample: Callable[[str, str], Path],
    run_native: Callable[..., Any],
    run_pyexec: Callable[..., Any],
) -> None:
    prog = str(sample("mmtest", variant))
    native = run_native(["setarch", "-R", prog], env=_env(tmp_path))
    assert native.returncode == 0, native.stderr
    assert native.stdout.endswith(b"done\n")
    emulated = run_pyexec([prog], env=_env(tmp_path))
    why = f"pyexec stderr:\n{emulated.stderr.decode(errors='replace')}"
    assert emulated.returncode == 0, why
    # Line by line first, so a failure names the check.
    for n, e in zip(native.stdout.splitlines(), emulated.stdout.splitlines()):
        assert e == n, why
    assert emulated.stdout == native.stdout, why
    assert list(tmp_path.iterdir()) == [], "mmtest left its file behind"


@pytest.mark.parametrize("mode", sorted(CRASH_MODES))
def test_mmtest_crash_modes(
    mode: str,
    variant: str,
    tmp_path: Path,
    sample: Callable[[str, str], Path],
    run_native: Callable[..., Any],
    run_pyexec: Callable[..., Any],
) -> None:
    prog = str(sample("mmtest", variant))
    native = run_native(["setarch", "-R", prog, mode], env=_env(tmp_path))
    emulated = run_pyexec([prog, mode], env=_env(tmp_path))
    why = f"pyexec stderr:\n{emulated.stderr.decode(errors='replace')}"
    assert native.returncode == CRASH_MODES[mode], native.stderr
    assert emulated.returncode == native.returncode, why
    assert emulated.stdout == native.stdout, why
    if native.returncode < 0:
        # pyexec names the signal and the faulting address on stderr, in one line.
        assert b"terminated by SIG" in emulated.stderr and b"at address 0x" in emulated.stderr, why


# --- /proc/self/smaps and /proc/self/status: pyexec's view against the kernel's format ----------

_HEAD = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) ")


def _smaps_entries(text: str) -> list[tuple[int, int, list[str], dict[str, str]]]:
    """(start, end, field names in order, field values) per VMA."""
    out: list[tuple[int, int, list[str], dict[str, str]]] = []
    for line in text.splitlines():
        m = _HEAD.match(line)
        if m:
            out.append((int(m.group(1), 16), int(m.group(2), 16), [], {}))
        else:
            name, _, value = line.partition(":")
            out[-1][2].append(name)
            out[-1][3][name] = value
    return out


def _spawned(variant: str, sample: Callable[[str, str], Path]) -> Any:
    """A guest that has run to exit (its address space stays inspectable)."""
    from emulator.process import Process
    proc = Process.spawn(str(sample("hello", variant)), [str(sample("hello", variant))])
    proc.run()
    return proc


def test_smaps_format_and_sizes(variant: str, sample: Callable[[str, str], Path]) -> None:
    from mmu.maps import render_maps, render_smaps
    proc = _spawned(variant, sample)
    text = render_smaps(proc.mm)
    entries = _smaps_entries(text)
    with open("/proc/self/smaps") as f:
        host = _smaps_entries(f.read())
    host_fields = [e[2] for e in host if "ProtectionKey" not in e[2]][0]
    maps = render_maps(proc.mm).splitlines()
    assert len(entries) == len(maps) > 0
    heads = [ln for ln in text.splitlines() if _HEAD.match(ln)]
    assert heads == maps, "each smaps entry starts with its maps line"
    for start, end, names, values in entries:
        assert names == host_fields, "the kernel's fields, in the kernel's order"
        size = int(values["Size"].split()[0])
        rss = int(values["Rss"].split()[0])
        assert size * 1024 == end - start
        assert 0 <= rss <= size
        assert int(values["Pss"].split()[0]) <= rss
        assert values["KernelPageSize"].split() == ["4", "kB"]
    # Rss in smaps adds up to what the MM counts (the zero page is in neither).
    total = sum(int(v["Rss"].split()[0]) for _, _, _, v in entries)
    assert total == proc.mm.rss * 4
    # Every smaps line of a kB field is formatted as the kernel's: name, padding, 8-wide value.
    for line in text.splitlines():
        if line.endswith(" kB"):
            assert re.fullmatch(r"[A-Za-z_]+:\s+\d+ kB", line) and len(line) >= 27, line


def test_status_fields_and_plausibility(variant: str, sample: Callable[[str, str], Path]) -> None:
    from syscalls.proc import GENERATED
    proc = _spawned(variant, sample)
    text = GENERATED["/status"](proc).decode()
    with open("/proc/self/status") as f:
        host = f.read()
    names = [ln.split(":")[0] for ln in text.splitlines()]
    host_names = [ln.split(":")[0] for ln in host.splitlines()]
    assert names == host_names, "the kernel's fields, in the kernel's order"
    vm = {ln.split(":")[0]: ln for ln in text.splitlines() if ln.startswith(("Vm", "Rss"))}
    for key in ("VmPeak", "VmSize", "VmLck", "VmPin", "VmHWM", "VmRSS", "RssAnon", "RssFile",
                "RssShmem", "VmData", "VmStk", "VmExe", "VmLib", "VmPTE", "VmSwap"):
        assert re.fullmatch(rf"{key}:\t[ \d]{{8}} kB", vm[key]), vm[key]

    def kb(key: str) -> int:
        return int(vm[key].split()[1])
    mm = proc.mm
    assert kb("VmSize") * 1024 == sum(v.end - v.start for v in mm.vmas)
    assert kb("VmRSS") == mm.rss * 4 == kb("RssAnon") + kb("RssFile") + kb("RssShmem")
    assert kb("VmHWM") >= kb("VmRSS") and kb("VmPeak") >= kb("VmSize")
    assert kb("VmStk") == 132, "[stack] is 128 KB below the argument page, as exec makes it"
    assert 0 < kb("VmExe") < kb("VmSize")
    assert kb("VmData") > 0
    name = next(ln for ln in text.splitlines() if ln.startswith("Name:"))
    assert name == f"Name:\t{os.path.basename(str(sample('hello', variant)))[:15]}"
    statm = GENERATED["/statm"](proc).decode().split()
    assert int(statm[0]) * 4 == kb("VmSize") and int(statm[1]) * 4 == kb("VmRSS")


def test_status_matches_native_where_meaningful(
    variant: str,
    sample: Callable[[str, str], Path],
    run_native: Callable[..., Any],
    run_pyexec: Callable[..., Any],
) -> None:
    """mmtest prints VmStk and VmExe and VmData/VmSize/VmRSS deltas; checked above. Here:
    the whole status of a guest that reads it, minus values that differ by design (pids,
    times, the vDSO's pages, host-only fields), line by line as far as the names go."""
    prog = str(sample("mmtest", variant))
    native = run_native(["setarch", "-R", prog])
    emulated = run_pyexec([prog])
    pick = re.compile(rb"^(status [^\n]*|smaps [^\n]*)$", re.M)
    assert pick.findall(emulated.stdout) == pick.findall(native.stdout)
