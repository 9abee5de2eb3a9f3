"""`--deterministic [--seed N]`: two runs print the same bytes, and the same strace and stats
(samples/determinism.c prints clocks, the TSC, random bytes, pid and uname)."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any


def run_twice(run_pyexec: Callable[..., Any], prog: Path, tmp_path: Path,
              *opts: str) -> list[tuple[bytes, str, str]]:
    out = []
    for i in range(2):
        st, stats = tmp_path / f"strace{i}", tmp_path / f"stats{i}"
        res = run_pyexec([*opts, f"--strace={st}", f"--stats={stats}", prog])
        assert res.returncode == 0, res.stderr
        out.append((res.stdout, st.read_text(), stats.read_text()))
    return out


def values(stdout: bytes) -> dict[str, str]:
    return dict(re.findall(r"^(\w+)=(.*)$", stdout.decode(), re.M))


def test_two_runs_are_identical(variant: str, tmp_path: Path, run_pyexec: Callable[..., Any],
                                sample: Callable[[str, str], Path]) -> None:
    (out1, strace1, stats1), (out2, strace2, stats2) = run_twice(
        run_pyexec, sample("determinism", variant), tmp_path, "--deterministic")
    assert out1 == out2
    assert strace1 == strace2
    assert stats1 == stats2
    assert "wall_s" not in stats1 and "instructions: " in stats1
    v = values(out1)
    assert v["realtime"].startswith("1704067200.")          # 2024-01-01T00:00:00Z + a bit
    assert v["monotonic"].startswith("100.")
    assert v["time"] == "1704067200"
    assert v["res"] == "0.000000001"
    assert v["pid"].split()[0] == "1000" and "ppid=999" in v["pid"] and "tid=1000" in v["pid"]
    assert v["uname"].startswith("Linux pyexec 6.1.0-pyexec ")
    assert v["tsc_increases"].startswith("1 ")
    tsc, tscp = (int(re.search(rf"{k}=(\d+)", v["tsc_increases"]).group(1))  # type: ignore
                 for k in ("tsc", "tscp"))
    assert 0 < tscp - tsc < 20                                 # 1 tick per instruction
    assert int(v["elapsed_ns"].split()[0]) > 100000            # the loop's instructions
    instructions = int(re.search(r"instructions: (\d+)", stats1).group(1))  # type: ignore
    assert tscp < instructions


def test_native_runs_differ(tmp_path: Path, run_pyexec: Callable[..., Any],
                            sample: Callable[[str, str], Path]) -> None:
    """The sample is a real test: without --deterministic its output changes."""
    prog = sample("determinism", "x86_64")
    a, b = (run_pyexec([prog]).stdout for _ in range(2))
    assert values(a)["getrandom"] != values(b)["getrandom"]
    assert values(a)["tsc_increases"] != values(b)["tsc_increases"]


def test_seed_changes_only_randomness(tmp_path: Path, run_pyexec: Callable[..., Any],
                                      sample: Callable[[str, str], Path]) -> None:
    prog = sample("determinism", "x86_64")
    v0 = values(run_pyexec(["--deterministic", prog]).stdout)
    v7 = values(run_pyexec(["--deterministic", "--seed=7", prog]).stdout)
    v7b = values(run_pyexec(["--deterministic", "--seed", "7", prog]).stdout)
    assert v7 == v7b
    for key in ("getrandom", "at_random", "urandom"):
        assert v0[key] != v7[key]
    for key in ("time", "pid", "uname", "res"):
        assert v0[key] == v7[key]


def test_icount_limit_reaches_the_same_point(tmp_path: Path, run_pyexec: Callable[..., Any],
                                             sample: Callable[[str, str], Path]) -> None:
    """--deterministic with --icount-limit: any point of a run can be reached again."""
    prog = sample("determinism", "i386")
    runs = [run_pyexec(["--deterministic", "--icount-limit=200000", "--strace", prog])
            for _ in range(2)]
    assert runs[0].returncode == runs[1].returncode == 124
    assert runs[0].stdout == runs[1].stdout
    assert runs[0].stderr == runs[1].stderr
    assert b"stopped after 200000 instructions" in runs[0].stderr
