"""The Python API (emulator.Process): views, hooks, breakpoints, snapshots, errors, examples."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from emulator import HookError, MemoryAccessError, Process, StopReason

ROOT = Path(__file__).resolve().parents[2]
ARCHS = ["x86_64", "i386"]


@pytest.mark.parametrize("arch", ARCHS)
def test_capture_matches_native(arch: str, sample: Callable[[str, str], Path],
                                run_native: Callable[..., Any]) -> None:
    prog = str(sample("args", arch))
    env = {"PYEXEC_TEST": "api"}
    native = run_native([prog, "a", "b c"], env=env)
    result = Process.spawn(prog, [prog, "a", "b c"], env=env, capture=True).run()
    assert result.stop.reason is StopReason.EXITED
    assert (result.stdout, result.exit_status) == (native.stdout, native.returncode)


@pytest.mark.parametrize("arch", ARCHS)
def test_on_syscall_sees_and_can_skip_writes(arch: str, sample: Callable[[str, str], Path],
                                             run_native: Callable[..., Any]) -> None:
    prog = str(sample("hello", arch))
    native = run_native([prog])
    p = Process.spawn(prog, capture=True)
    seen: list[tuple[int, int]] = []

    @p.on_syscall("write")
    def on_write(call: Any) -> None:
        seen.append((call.args[0], call.args[2]))
        if call.args[0] == 2:
            call.skip(call.args[2])      # pretend stderr was written
    result = p.run()
    assert result.stdout == native.stdout
    assert result.stderr == b"" and native.stderr != b""
    assert (1, len(native.stdout)) in seen and (2, len(native.stderr)) in seen


@pytest.mark.parametrize("arch", ARCHS)
def test_breakpoint_registers_memory(arch: str, sample: Callable[[str, str], Path]) -> None:
    prog = str(sample("fuzzme", arch))
    p = Process.spawn(prog, capture=True)
    p.breakpoint("main")
    stop = p.run().stop
    assert stop.reason is StopReason.BREAKPOINT
    pc = p.regs.rip if arch == "x86_64" else p.regs.eip
    assert stop.pc == pc == p.symbols["main"]
    buf = p.symbols["input"]
    assert p.mem.read(buf, 5) == b"seed\0"
    p.mem.write(buf, b"Fx\0")
    result = p.run()
    assert result.stdout == b"input=Fx score=1\n" and result.exit_status == 1
    with pytest.raises(MemoryAccessError):
        p.mem.read(0x10, 4)


@pytest.mark.parametrize("arch", ARCHS)
def test_snapshot_restore_repeats_the_run(arch: str, sample: Callable[[str, str], Path]) -> None:
    prog = str(sample("fuzzme", arch))
    p = Process.spawn(prog, capture=True)
    p.breakpoint("main")
    p.run()
    snap = p.snapshot()
    buf = p.symbols["input"]
    outcomes = []
    for data in (b"F\0", b"FU\0", b"FUZZ\0", b"F\0"):
        p.mem.write(buf, data)
        result = p.run()
        outcomes.append((result.exit_status, result.signal))
        p.restore(snap)
        assert p.mem.read(buf, 5) == b"seed\0"      # memory is back as it was at main
        p.mm.check_invariants()
    assert outcomes == [(1, None), (1, None), (None, 6), (1, None)]
    assert p.run().stdout.endswith(b"input=seed score=0\n")


@pytest.mark.parametrize("arch", ARCHS)
def test_handler_exception_is_reported(arch: str, sample: Callable[[str, str], Path]) -> None:
    p = Process.spawn(str(sample("hello", arch)), capture=True)

    @p.on_syscall("write")
    def broken(call: Any) -> None:
        raise ValueError("boom")
    with pytest.raises(HookError, match=r"broken.*ValueError: boom.*guest pc 0x") as info:
        p.run()
    assert isinstance(info.value.__cause__, ValueError)


@pytest.mark.parametrize("arch", ARCHS)
def test_on_fault_counts_match_stats(arch: str, sample: Callable[[str, str], Path]) -> None:
    p = Process.spawn(str(sample("heap", arch)), capture=True)
    at_exec = p.stats()["page_faults"]          # execve itself wrote the stack
    kinds: list[str] = []
    p.on_fault(lambda ev: kinds.append(ev.kind))
    stats = p.run().stats
    handled = [k for k in kinds if k in ("file", "file-private", "anon", "zero", "cow")]
    assert at_exec > 0 and len(handled) > 0
    assert at_exec + len(handled) == stats["page_faults"]


@pytest.mark.parametrize("arch", ARCHS)
def test_examples_run(arch: str, sample: Callable[[str, str], Path], tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done
    tracer = run("examples/syscall_tracer.py", str(sample("hello", arch)))
    assert "write(0x1," in tracer.stderr and "+++ exited with 0 +++" in tracer.stderr
    fuzz = run("examples/snapshot_fuzz.py", str(sample("fuzzme", arch)), "300")
    assert "crashing input(s): [b'FUZZ']" in fuzz.stdout
    svg = tmp_path / "as.svg"
    run("examples/address_space_svg.py", str(sample("hello", arch)), str(svg))
    text = svg.read_text()
    assert text.startswith("<svg") and text.count("<rect") > 10
