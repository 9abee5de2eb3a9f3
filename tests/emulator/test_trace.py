"""`--trace`: one line per executed instruction (capstone), register deltas, filters."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

LINE = re.compile(r"0x([0-9a-f]+): ((?:[0-9a-f]{2} )*[0-9a-f]{2})  (\S.*)")


def trace_lines(stderr: bytes) -> list[re.Match[str]]:
    return [m for m in (LINE.fullmatch(ln) for ln in stderr.decode().splitlines()) if m]


@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_every_instruction_once(arch: str, built_samples: Path, run_pyexec: Callable[..., Any],
                                tmp_path: Path) -> None:
    out = tmp_path / "trace"
    res = run_pyexec([f"--trace={out}", built_samples / f"asm-loop-{arch}"])
    assert res.returncode == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 4004 and all(LINE.fullmatch(ln) for ln in lines)
    first = LINE.fullmatch(lines[0])
    assert first is not None
    assert first.group(2) == "b9 e8 03 00 00" and first.group(3) == "mov ecx, 0x3e8"
    assert lines[-1].endswith("  syscall" if arch == "x86_64" else "  int 0x80")


@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_register_deltas(arch: str, built_samples: Path, run_pyexec: Callable[..., Any]) -> None:
    res = run_pyexec(["--trace", "--trace-regs", built_samples / f"asm-loop-{arch}"])
    text = res.stderr.decode().splitlines()
    cx = "rcx" if arch == "x86_64" else "ecx"
    assert text[1] == f"    {cx}=0x3e8"              # after mov $1000, %ecx
    assert re.fullmatch(r"    [re]ax=0x1( eflags=0x[0-9a-f]+)?", text[3])


def test_symbol_filter(built_samples: Path, run_pyexec: Callable[..., Any],
                       sample: Callable[[str, str], Path]) -> None:
    res = run_pyexec(["--trace-symbol=body", built_samples / "asm-calls-x86_64"])
    lines = trace_lines(res.stderr)
    assert len(lines) == 10 * 36                  # body's instructions, 10 calls
    assert lines[0].group(3) == "push rbp" and lines[-1].group(3) == "ret"
    res = run_pyexec(["--trace-symbol=main", sample("hello", "pie")])
    lines = trace_lines(res.stderr)
    assert lines and lines[0].group(3).startswith(("push", "endbr64", "sub", "lea"))
    assert res.stdout == b"hello, world\n"


def test_range_filter(built_samples: Path, run_pyexec: Callable[..., Any]) -> None:
    res = run_pyexec(["--trace-range=0x401005-0x401008", "--trace-range=0x40100c-0x40100e",
                      built_samples / "asm-loop-x86_64"])
    addrs = [int(m.group(1), 16) for m in trace_lines(res.stderr)]
    assert addrs == [0x401005, 0x40100d] * 1000          # add eax, jnz: 1000 iterations


def test_bad_input(built_samples: Path, run_pyexec: Callable[..., Any]) -> None:
    prog = built_samples / "asm-loop-x86_64"
    for opt in ("--trace-range=12", "--trace-range=0x20-0x10", "--trace-range=a-b",
                "--trace-symbol="):
        res = run_pyexec([opt, prog])
        assert res.returncode == 2 and b"Traceback" not in res.stderr, opt
    res = run_pyexec(["--trace-symbol=no_such_function", prog])
    assert res.returncode == 0
    assert b"no function no_such_function" in res.stderr
    assert not trace_lines(res.stderr)
    for opt in ("--trace", "--strace", "--stats", "--maps"):
        res = run_pyexec([f"{opt}=/nonexistent-dir/out", prog])
        assert res.returncode == 2 and b"Traceback" not in res.stderr, opt
        assert res.stderr.startswith(b"pyexec: /nonexistent-dir/out: "), opt
