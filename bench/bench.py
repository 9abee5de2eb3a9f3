#!/usr/bin/env python3
"""Benchmark pyexec against native execution and qemu-x86_64 (x86-64 samples).

Each command runs --runs times (default 3); the best wall-clock time is kept.
pyexec's peak RSS comes from `/usr/bin/time -f %M` wrapped around its runs
(about 1 ms extra, negligible next to Python's start-up): wait4's ru_maxrss of
a child spawned by this (larger) Python process would include the parent's
RSS, because the kernel carries the pre-exec peak across vfork+exec.
A failing pyexec or qemu run is reported (FAIL/TIMEOUT/WRONG) instead of
aborting, so this can be run before the emulator is complete.

Run `make samples` first (`make bench` does).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "samples" / "build"
BUSYBOX = Path("/bin/busybox")
GNU_TIME = Path("/usr/bin/time")
SYSCALLS = 200_000


@dataclass
class Bench:
    key: str
    title: str
    argv: list[str]
    check_output: bool = True  # pyexec/qemu stdout must equal native's
    pyexec_opts: tuple[str, ...] = ()  # pyexec options before the program
    baseline: str | None = None  # the same run without pyexec_opts: native/qemu are reused


@dataclass
class Result:
    seconds: float | None = None  # best wall-clock time
    rss_kb: int = 0  # peak resident set size
    error: str | None = None  # why there is no time: FAIL rc=N, TIMEOUT, WRONG, absent
    detail: str = ""  # last stderr line of a failed run
    stdout: bytes = b""


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def run_once(
    argv: list[str], timeout: float, devnull_stdout: bool, want_rss: bool
) -> tuple[float, int, int, bytes, bytes]:
    """Run argv once; returns (seconds, exit code, peak RSS KB or 0, stdout, stderr)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as rssfile:
        stdout = subprocess.DEVNULL if devnull_stdout else out
        if want_rss:
            argv = [str(GNU_TIME), "-f", "%M", "-o", rssfile.name, *argv]
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=err, start_new_session=True
        )
        killer = threading.Timer(timeout, _kill_group, (proc.pid,))
        killer.start()
        try:
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
            elapsed = time.perf_counter() - start
        except BaseException:
            _kill_group(proc.pid)
            raise
        finally:
            killer.cancel()
            _kill_group(proc.pid)  # leftovers (e.g. pyexec under a killed time); leader not reaped yet
            _, status = os.waitpid(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        if elapsed >= timeout:
            raise subprocess.TimeoutExpired(argv, timeout)
        code, rss = proc.returncode, 0
        if want_rss:  # GNU time: "Command terminated by signal N" / "...status N", then %M
            report = rssfile.read().split()
            rss = int(report[-1]) if report and report[-1].isdigit() else 0
            if "signal" in report and code > 128:
                code = 128 - code
        out.seek(0)
        err.seek(0)
        return elapsed, code, rss, out.read(), err.read()


def measure(
    argv: list[str], runs: int, timeout: float, devnull_stdout: bool, expect: bytes | None, want_rss: bool = False
) -> Result:
    res = Result()
    for _ in range(runs):
        try:
            elapsed, code, rss, out, err = run_once(argv, timeout, devnull_stdout, want_rss)
        except subprocess.TimeoutExpired:
            return Result(error=f"TIMEOUT>{timeout:g}s", rss_kb=res.rss_kb)
        except OSError as exc:
            return Result(error=f"FAIL ({exc.strerror})")
        res.rss_kb = max(res.rss_kb, rss)
        if code != 0:
            last = err.decode(errors="replace").strip().splitlines()[-1:]
            return Result(error=f"FAIL rc={code}", rss_kb=res.rss_kb, detail="".join(last)[:200])
        if expect is not None and out != expect:
            return Result(error="WRONG", rss_kb=res.rss_kb, detail=f"stdout differs from native: {out[:100]!r}")
        res.stdout = out
        res.seconds = elapsed if res.seconds is None else min(res.seconds, elapsed)
    return res


def make_gzip_input(directory: Path, size: int = 4 << 20) -> Path:
    """~4 MiB of deterministic, moderately compressible text."""
    rng = random.Random(20240601)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 10))) for _ in range(2000)]
    lines, total, n = [], 0, 0
    while total < size:
        line = f"{n:08d} " + " ".join(rng.choices(words, k=12)) + f" {rng.getrandbits(32):08x}\n"
        lines.append(line)
        total += len(line)
        n += 1
    path = directory / "gzip-input.txt"
    path.write_text("".join(lines))
    return path


def fmt_time(r: Result) -> str:
    return f"{r.seconds:.3f}s" if r.seconds is not None else (r.error or "-")


def fmt_ratio(a: Result, b: Result | None) -> str:
    if b is None or a.seconds is None or b.seconds is None or b.seconds <= 0:
        return "-"
    return f"{a.seconds / b.seconds:.1f}x"


def per_syscall_us(results: dict[str, Result]) -> str:
    start, sysc = results.get("startup"), results.get("syscalls")
    if not start or not sysc or start.seconds is None or sysc.seconds is None:
        return "n/a"
    return f"{(sysc.seconds - start.seconds) / SYSCALLS * 1e6:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="runs per command; best time is kept (default 3)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per single run (default 300)")
    ap.add_argument("--pyexec", default=str(ROOT / ".venv" / "bin" / "pyexec"), help="pyexec command")
    ap.add_argument("--qemu", default=shutil.which("qemu-x86_64"), help="qemu-x86_64 (default: from PATH)")
    ap.add_argument("--only", nargs="*", help="benchmark keys to run: startup syscalls touch cpu cpu-stats gzip")
    args = ap.parse_args()

    def sample(name: str) -> str:
        path = BUILD / f"{name}-x86_64"
        if not path.is_file():
            sys.exit(f"bench: {path} missing; run `make samples`")
        return str(path)

    tmp = Path(tempfile.mkdtemp(prefix="pyexec-bench-"))
    benches = [
        Bench("startup", "startup (hello)", [sample("hello")]),
        Bench("syscalls", f"{SYSCALLS // 1000}k syscalls", [sample("syscalls"), str(SYSCALLS)]),
        Bench("touch", "256 MB touched", [sample("touch"), "256"]),
        Bench("cpu", "CPU-bound (cpu)", [sample("cpu")]),
        # --stats counts every instruction (emulator/_icount.so): its overhead, pyexec only.
        Bench("cpu-stats", "CPU-bound --stats", [sample("cpu")], pyexec_opts=("--stats=/dev/null",),
              baseline="cpu"),
    ]
    if BUSYBOX.is_file() and (not args.only or "gzip" in args.only):
        data = make_gzip_input(tmp)
        benches.append(Bench("gzip", "busybox gzip 4 MB", [str(BUSYBOX), "gzip", "-c", str(data)], False))
    if args.only:
        benches = [b for b in benches if b.key in args.only]

    pyexec_ok = Path(args.pyexec).is_file() or shutil.which(args.pyexec) is not None
    runners: dict[str, list[str] | None] = {
        "native": [],
        "pyexec": [args.pyexec] if pyexec_ok else None,
        "qemu": [args.qemu] if args.qemu else None,
    }
    results: dict[str, dict[str, Result]] = {name: {} for name in runners}
    notes: list[str] = [] if BUSYBOX.is_file() else [f"{BUSYBOX} missing: busybox gzip skipped"]
    if not GNU_TIME.is_file():
        notes.append(f"{GNU_TIME} missing: pyexec RSS not measured")
    try:
        for b in benches:
            print(f"running {b.title} ...", file=sys.stderr, flush=True)
            if b.baseline in results["native"]:
                native = results["native"][b.baseline]
            else:
                native = measure(b.argv, args.runs, args.timeout, not b.check_output, None)
            results["native"][b.key] = native
            if native.detail:
                notes.append(f"native {b.key}: {native.error}: {native.detail}")
            expect = native.stdout if b.check_output and native.seconds is not None else None
            for name in ("pyexec", "qemu"):
                prefix = runners[name]
                if prefix is None:
                    results[name][b.key] = Result(error="absent")
                    continue
                if name == "qemu" and b.baseline in results[name]:
                    results[name][b.key] = results[name][b.baseline]
                    continue
                want_rss = name == "pyexec" and GNU_TIME.is_file()
                opts = list(b.pyexec_opts) if name == "pyexec" else []
                r = measure(prefix + opts + b.argv, args.runs, args.timeout, not b.check_output, expect, want_rss)
                results[name][b.key] = r
                if r.detail:
                    notes.append(f"{name} {b.key}: {r.error}: {r.detail}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    header = ("benchmark", "native", "pyexec", "qemu", "pyexec/native", "pyexec/qemu", "pyexec RSS")
    rows = [header]
    for b in benches:
        n, p, q = (results[k][b.key] for k in ("native", "pyexec", "qemu"))
        rss = f"{p.rss_kb / 1024:.1f} MB" if p.rss_kb else "-"
        rows.append((b.title, fmt_time(n), fmt_time(p), fmt_time(q), fmt_ratio(p, n), fmt_ratio(p, q), rss))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for i, row in enumerate(rows):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print()
    print("µs per syscall ((t_syscalls - t_startup) / %d): pyexec %s, native %s, qemu %s" % (
        SYSCALLS, per_syscall_us(results["pyexec"]), per_syscall_us(results["native"]),
        per_syscall_us(results["qemu"])))
    for b in benches:
        if b.baseline and b.baseline in results["pyexec"]:
            with_opts, without = results["pyexec"][b.key], results["pyexec"][b.baseline]
            if with_opts.seconds and without.seconds:
                print(f"overhead of pyexec {' '.join(b.pyexec_opts)} on {b.baseline}: "
                      f"{with_opts.seconds / without.seconds:.2f}x "
                      f"({fmt_time(with_opts)} vs {fmt_time(without)})")
    if runners["pyexec"] is None:
        print(f"note: pyexec not found at {args.pyexec} (run `make setup`)")
    elif not args.only or "snapshot" in args.only:
        # The Python API's snapshots (issue 8): run in the venv's interpreter.
        venv_python = Path(args.pyexec).with_name("python")
        done = subprocess.run([str(venv_python), str(ROOT / "bench" / "snapshot_bench.py"),
                               sample("touch")], capture_output=True, text=True,
                              timeout=args.timeout, cwd=ROOT)
        print(done.stdout.strip() if done.returncode == 0 else
              f"note: snapshot bench failed: {done.stderr.strip().splitlines()[-1:]}")
    for note in notes:
        print("note:", note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
