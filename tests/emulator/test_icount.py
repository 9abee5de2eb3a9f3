"""Exact instruction counts (`--stats`' instructions line) and `--icount-limit`.

The -nostdlib samples in samples/asm/*.S state their count, known by construction, in an
`icount: ... = N` comment, and what valgrind's lackey reports for them (`lackey: M` where it
differs: lackey counts every repetition of a rep-prefixed instruction and the faulting load);
lackey's "guest instrs" is the independent check.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ASM_DIR = REPO / "samples" / "asm"
ASM = sorted(p.stem for p in ASM_DIR.glob("*.S"))
ARCHES = ("x86_64", "i386")
LIMIT_STATUS = 124


def expected(name: str) -> tuple[int, int, int]:
    """(instructions, lackey's guest instrs, exit status) stated in the sample's comment."""
    text = (ASM_DIR / f"{name}.S").read_text()
    count = re.search(r"icount:[^\n]*?= (\d+)", text)
    assert count, f"{name}.S states no `icount: ... = N`"
    lackey = re.search(r"lackey: (\d+|-)", text)
    status = re.search(r"exit status: (\d+)", text)
    n = int(count.group(1))
    return (n, n if lackey is None else -1 if lackey.group(1) == "-" else int(lackey.group(1)),
            int(status.group(1)) if status else 0)


def asm_binary(name: str, arch: str, built: Path) -> Path:
    path = built / f"asm-{name}-{arch}"
    if not path.is_file():
        proc = subprocess.run(["make", "-C", str(REPO), str(path.relative_to(REPO))],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
    return path


def stats(stderr: bytes) -> dict[str, str]:
    out = {}
    for line in stderr.decode().splitlines():
        key, sep, value = line.partition(": ")
        if sep and re.fullmatch(r"[a-z_]+", key):
            out[key] = value
    return out


@pytest.fixture(scope="module")
def asm(built_samples: Path) -> Callable[[str, str], Path]:
    targets = [f"samples/build/asm-{n}-{a}" for n in ASM for a in ARCHES]
    proc = subprocess.run(["make", "-C", str(REPO), *targets], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    return lambda name, arch: asm_binary(name, arch, built_samples)


def test_samples_state_their_counts() -> None:
    assert {"loop", "calls", "rep", "fault"} <= set(ASM)
    for name in ASM:
        expected(name)


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("name", ASM)
def test_count_is_exact(name: str, arch: str, asm: Callable[[str, str], Path],
                        run_pyexec: Callable[..., Any]) -> None:
    count, _, status = expected(name)
    res = run_pyexec(["--stats", asm(name, arch)])
    assert res.returncode == status, res.stderr
    assert stats(res.stderr)["instructions"] == str(count), res.stderr


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("name", ASM)
def test_lackey_agrees(name: str, arch: str, asm: Callable[[str, str], Path]) -> None:
    """valgrind --tool=lackey counts the same guest instructions (see expected())."""
    _, lackey, status = expected(name)
    if lackey < 0:
        pytest.skip(f"{name}.S: lackey's count is not comparable")
    res = subprocess.run(["valgrind", "--tool=lackey", str(asm(name, arch))],
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == status, res.stderr
    m = re.search(r"guest instrs:\s+([\d,]+)", res.stderr)
    assert m, res.stderr
    assert int(m.group(1).replace(",", "")) == lackey


@pytest.mark.parametrize("force_python", [False, True], ids=["c-hook", "python-hook"])
@pytest.mark.parametrize("arch", ARCHES)
def test_counter_api_both_hooks(arch: str, force_python: bool,
                                asm: Callable[[str, str], Path]) -> None:
    """The C hook and the Python fallback count alike (in-process, through Options.attach)."""
    from emulator.icount import InstructionCounter
    from emulator.process import Options, Process
    for name in ("loop", "calls", "rep", "fault"):
        counter = InstructionCounter(force_python=force_python)
        if force_python:
            assert not counter.native
        proc = Process.spawn(str(asm(name, arch)), capture=True,
                             options=Options(attach=[counter.attach]))
        proc.run()
        assert counter.total == expected(name)[0], name


def test_missing_library_falls_back_with_a_warning(monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture,
                                                   asm: Callable[[str, str], Path]) -> None:
    import emulator.icount as icount
    from emulator.process import Options, Process
    monkeypatch.setattr(icount, "LIBRARY", Path("/nonexistent/_icount.so"))
    monkeypatch.setattr(icount, "_lib_cache", [])
    counter = icount.InstructionCounter()
    assert not counter.native
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "\n" not in warnings[0].getMessage()
    assert "Python block hook" in warnings[0].getMessage()
    proc = Process.spawn(str(asm("calls", "i386")), capture=True,
                         options=Options(attach=[counter.attach]))
    proc.run()
    assert counter.total == expected("calls")[0]


def test_c_hook_is_built() -> None:
    """`make setup` builds emulator/_icount.so; without it counting falls back (slowly)."""
    from emulator.icount import LIBRARY, load_library
    if not LIBRARY.is_file():
        subprocess.run(["make", "-C", str(REPO), "emulator/_icount.so"], check=True,
                       capture_output=True)
    assert load_library() is not None or not LIBRARY.is_file()


def full_trace(prog: Path, run_pyexec: Callable[..., Any]) -> list[int]:
    res = run_pyexec(["--trace", prog])
    return [int(m.group(1), 16) for m in re.finditer(rb"^0x([0-9a-f]+): ", res.stderr, re.M)]


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("name", ["loop", "calls"])
def test_icount_limit_stops_after_exactly_n(name: str, arch: str,
                                            asm: Callable[[str, str], Path],
                                            run_pyexec: Callable[..., Any]) -> None:
    """With --icount-limit=N the guest stops after N instructions: --stats says N, the trace
    has N lines (the first N of the full trace) and the stop pc is the next instruction."""
    prog = asm(name, arch)
    addrs = full_trace(prog, run_pyexec)
    total = expected(name)[0]
    assert len(addrs) == total
    for n in sorted({1, 2, 3, 5, 6, 7, total // 3, total // 2, total - 2, total - 1}):
        res = run_pyexec(["--stats", "--trace", f"--icount-limit={n}", prog])
        assert res.returncode == LIMIT_STATUS, (n, res.stderr[-500:])
        assert stats(res.stderr)["instructions"] == str(n)
        traced = [int(m.group(1), 16)
                  for m in re.finditer(rb"^0x([0-9a-f]+): ", res.stderr, re.M)]
        assert traced == addrs[:n], n
        m = re.search(rb"stopped after (\d+) instructions \(--icount-limit\) at pc=0x([0-9a-f]+)",
                      res.stderr)
        assert m and int(m.group(1)) == n, res.stderr[-300:]
        assert int(m.group(2), 16) == addrs[n], n


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("name", ["rep", "fault"])
def test_icount_limit_every_n(name: str, arch: str, asm: Callable[[str, str], Path],
                              run_pyexec: Callable[..., Any]) -> None:
    """Every stop point: a rep instruction is one instruction for the limit too, and the
    faulting load (which a code-hook trace would show) is not counted."""
    prog = asm(name, arch)
    total = expected(name)[0]
    for n in range(1, total):
        res = run_pyexec(["--stats", f"--icount-limit={n}", prog])
        assert res.returncode == LIMIT_STATUS, (n, res.stderr[-300:])
        assert stats(res.stderr)["instructions"] == str(n)


@pytest.mark.parametrize("arch", ARCHES)
def test_limit_at_or_past_the_end_is_a_normal_exit(arch: str, asm: Callable[[str, str], Path],
                                                   run_pyexec: Callable[..., Any]) -> None:
    total = expected("loop")[0]
    for n in (total, total + 1, 10 * total):
        res = run_pyexec(["--stats", f"--icount-limit={n}", asm("loop", arch)])
        assert res.returncode == 0, res.stderr
        assert stats(res.stderr)["instructions"] == str(total)
        assert b"icount-limit" not in res.stderr


@pytest.mark.parametrize("arch", ARCHES)
def test_c_sample_counts_repeat(arch: str, sample: Callable[[str, str], Path],
                                run_pyexec: Callable[..., Any], tmp_path: Path) -> None:
    """A glibc program: the same count every run, and --icount-limit lands anywhere in it."""
    prog = sample("heap", arch)
    runs = [run_pyexec(["--stats", prog]) for _ in range(2)]
    counts = [int(stats(r.stderr)["instructions"]) for r in runs]
    assert counts[0] == counts[1] > 10000
    n = counts[0] // 2 + 1
    res = run_pyexec(["--stats", f"--icount-limit={n}", prog])
    assert res.returncode == LIMIT_STATUS
    assert stats(res.stderr)["instructions"] == str(n)


@pytest.mark.parametrize("bad", ["0", "-5", "ten", ""])
def test_bad_limit_is_a_usage_error(bad: str, run_pyexec: Callable[..., Any],
                                    sample: Callable[[str, str], Path]) -> None:
    res = run_pyexec([f"--icount-limit={bad}", sample("hello", "x86_64")])
    assert res.returncode == 2
    assert b"--icount-limit" in res.stderr
    assert b"Traceback" not in res.stderr


def test_stats_lines(run_pyexec: Callable[..., Any], sample: Callable[[str, str], Path]) -> None:
    res = run_pyexec(["--stats", sample("hello", "x86_64")])
    keys = list(stats(res.stderr))
    assert keys[0] == "instructions"
    for key in ("syscalls", "page_faults", "resident_pages", "peak_rss_kb", "wall_s"):
        assert key in keys
