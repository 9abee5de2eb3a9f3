"""--trace-faults, --stats and --maps (emulator/cli.py, mmu/fault.py FaultEvent.describe).

One trace line per fault: `fault ADDR ACCESS[ (by ORIGIN)]: KIND[ frame=PADDR] [VMA][ DETAIL]`,
where VMA is `start-end perms name` or `no VMA`. --stats counts the same faults by kind.
"""

from __future__ import annotations

import os
import re
import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from loader.elf import read_elf
from mmu.constants import page_down

LINE = re.compile(
    r"^fault (?P<addr>0x[0-9a-f]+) (?P<access>read|write|exec)(?: \(by (?P<origin>[\w-]+)\))?: "
    r"(?P<kind>[\w-]+)(?: frame=0x[0-9a-f]+)? "
    r"\[(?P<where>no VMA|[0-9a-f]+-[0-9a-f]+ [r-][w-][x-][sp] .+?)\](?: (?P<detail>.*))?$")
WHERE = re.compile(r"^(?P<start>[0-9a-f]+)-(?P<end>[0-9a-f]+) (?P<perms>[r-][w-][x-][sp]) (?P<name>\S.*)$")
# What each kind of resolved fault is counted as in --stats (segv and sigbus are not page faults).
RESOLVED = {"file", "file-private", "anon", "zero", "cow"}


class Fault(NamedTuple):
    addr: int
    access: str
    origin: str
    kind: str
    where: str
    detail: str


def parse_trace(text: str) -> list[Fault]:
    faults = []
    for line in text.splitlines():
        m = LINE.match(line)
        assert m, f"malformed trace line: {line!r}"
        faults.append(Fault(int(m["addr"], 16), m["access"], m["origin"] or "cpu", m["kind"],
                            m["where"], m["detail"] or ""))
    return faults


def parse_stats(text: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in text.splitlines())


class Traced(NamedTuple):
    proc: Any
    faults: list[Fault]
    stats: dict[str, str]
    maps: str


def traced_run(prog: Path, tmp_path: Path, run_pyexec: Callable[..., Any]) -> Traced:
    trace, stats, maps = tmp_path / "trace", tmp_path / "stats", tmp_path / "maps"
    proc = run_pyexec([f"--trace-faults={trace}", f"--stats={stats}", f"--maps={maps}", prog])
    for f in (trace, stats, maps):
        assert f.is_file(), f"{f.name} not written; stderr:\n{proc.stderr.decode(errors='replace')}"
    return Traced(proc, parse_trace(trace.read_text()), parse_stats(stats.read_text()), maps.read_text())


@pytest.fixture(scope="module", params=["x86_64", "i386"])
def hello(request: pytest.FixtureRequest, sample: Callable[[str, str], Path],
          tmp_path_factory: pytest.TempPathFactory, run_pyexec: Callable[..., Any],
          run_native: Callable[..., Any]) -> tuple[Path, Traced]:
    """One traced run per architecture, shared by the tests below."""
    prog = sample("hello", request.param)
    run = traced_run(prog, tmp_path_factory.mktemp(f"trace-{request.param}"), run_pyexec)
    native = run_native([prog])
    assert run.proc.returncode == native.returncode == 0
    assert run.proc.stdout == native.stdout, "tracing must not change what the program does"
    return prog, run


def test_every_line_names_a_vma_or_no_vma(hello: tuple[Path, Traced]) -> None:
    prog, run = hello
    assert run.faults
    exe = os.path.realpath(prog)
    for f in run.faults:
        if f.where == "no VMA":
            assert f.kind == "segv"
            continue
        m = WHERE.match(f.where)
        assert m, f
        start, end = int(m["start"], 16), int(m["end"], 16)
        assert start <= f.addr < end, f"fault address outside the VMA it names: {f}"
        if f.kind in ("file", "file-private", "cow") and "file offset" in f.detail:
            assert m["name"] == exe
        # Every VMA a fault names is one /proc/self/maps would show (the stack and heap may
        # have grown since; their start is where they were).
        assert any(line.startswith(f"{start:08x}-") or line.split()[0].endswith(f"-{end:08x}")
                   for line in run.maps.splitlines()), f.where


def test_first_guest_fault_is_the_fetch_of_the_entry_point(hello: tuple[Path, Traced]) -> None:
    prog, run = hello
    entry = read_elf(str(prog)).e_entry
    first_cpu = next(i for i, f in enumerate(run.faults) if f.origin == "cpu")
    # Before it, only execve itself touched memory: writing argv, envp and auxv to the stack.
    for f in run.faults[:first_cpu]:
        assert f.origin == "execve" and f.access == "write" and f.where.endswith("[stack]"), f
    first = run.faults[first_cpu]
    assert first.access == "exec"
    assert page_down(first.addr) == page_down(entry)
    assert first.kind == "file" and "r-x" in first.where


def test_kinds_match_the_stats(hello: tuple[Path, Traced]) -> None:
    _, run = hello
    kinds = Counter(f.kind for f in run.faults)
    assert set(kinds) <= RESOLVED | {"segv", "sigbus"}, kinds
    for kind in ("anon", "zero", "segv", "sigbus"):
        assert kinds[kind] == int(run.stats[f"page_faults_{kind}"]), kind
    assert int(run.stats["page_faults_stack_growth"]) == 0


def test_line_count_equals_page_faults_plus_signals(hello: tuple[Path, Traced]) -> None:
    _, run = hello
    s = run.stats
    assert len(run.faults) == int(s["page_faults"]) + int(s["page_faults_segv"]) + \
        int(s["page_faults_sigbus"])


def test_maps_after_sigsegv(sample: Callable[[str, str], Path], tmp_path: Path,
                            run_pyexec: Callable[..., Any], run_native: Callable[..., Any]) -> None:
    prog = sample("segv", "x86_64")
    native = run_native([prog])
    assert native.returncode == -signal.SIGSEGV
    run = traced_run(prog, tmp_path, run_pyexec)
    assert run.proc.returncode == native.returncode
    assert run.proc.stdout == native.stdout
    stack = [line for line in run.maps.splitlines() if line.split()[-1] == "[stack]"]
    assert len(stack) == 1, run.maps
    # The stack ends where the native one does with randomization off.
    ref = run_native(["setarch", "-R", sample("maps", "x86_64")])
    assert ref.returncode == 0
    native_stack = [ln for ln in ref.stdout.decode().splitlines() if ln.endswith("[stack]")]
    assert len(native_stack) == 1
    assert stack[0].split()[0].split("-")[1] == native_stack[0].split()[0].split("-")[1]
    # The last fault is the one that killed it: a write to no VMA, counted once.
    last = run.faults[-1]
    assert (last.kind, last.access, last.where, last.detail) == ("segv", "write", "no VMA", "SEGV_MAPERR")
    assert run.stats["page_faults_segv"] == "1"
