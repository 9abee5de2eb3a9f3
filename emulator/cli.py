"""The `pyexec` command: run a static Linux ELF as if it were run directly."""
from __future__ import annotations

import logging
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import List, Optional, TextIO

USAGE = """usage: pyexec [OPTIONS] PROG [ARGS...]

Run a static x86-64 or i386 Linux ELF under emulation, as ./PROG ARGS would run.

options:
  --trace-faults[=FILE]  one line per page fault: address, access, VMA, what the MMU did
  --maps[=FILE]          write the guest's /proc/self/maps at exit (default: stderr)
  --stats[=FILE]         page-fault counts by kind, resident pages, syscalls at exit
  --seed=N               AT_RANDOM and getrandom from seed N (repeatable runs)
  --debug-emulator       show Python tracebacks for pyexec's own errors
  -h, --help             this help
"""

log = logging.getLogger("pyexec")


@dataclass
class CliOptions:
    trace_faults: Optional[str] = None
    maps: Optional[str] = None
    stats: Optional[str] = None
    seed: Optional[int] = None
    debug_emulator: bool = False
    argv: List[str] = field(default_factory=list)


class UsageError(Exception):
    pass


FILE_OPTIONS = {"--trace-faults": "trace_faults", "--maps": "maps", "--stats": "stats"}


def parse_args(args: List[str]) -> CliOptions:
    """Options come before PROG; an optional value is only ever given as --opt=VALUE,
    so `pyexec --maps ./prog` never mistakes the program for a file name."""
    opts = CliOptions()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        name, eq, value = arg.partition("=")
        if name in ("-h", "--help"):
            sys.stdout.write(USAGE)
            raise SystemExit(0)
        if name in FILE_OPTIONS:
            setattr(opts, FILE_OPTIONS[name], value if eq else "-")
        elif name == "--seed":
            if not eq:
                i += 1
                if i >= len(args):
                    raise UsageError("--seed needs a number")
                value = args[i]
            try:
                opts.seed = int(value, 0)
            except ValueError:
                raise UsageError(f"--seed: not a number: {value!r}") from None
        elif name == "--debug-emulator":
            opts.debug_emulator = True
        else:
            raise UsageError(f"unknown option {arg}")
        i += 1
    opts.argv = args[i:]
    if not opts.argv:
        raise UsageError("no program given")
    return opts


def _open_out(target: Optional[str]) -> Optional[TextIO]:
    if target is None:
        return None
    if target == "-":
        return sys.stderr
    return open(target, "w")


def die_by_signal(signo: int) -> None:
    """End pyexec itself by the guest's signal, so the parent's wait status is the same."""
    import resource
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass
    signal.signal(signo, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signo])
    os.kill(os.getpid(), signo)
    os._exit(128 + signo)   # a signal whose default is to ignore or stop


def main(argv: Optional[List[str]] = None) -> int:
    logging.basicConfig(format="pyexec: %(message)s", level=logging.WARNING)
    # Python ignores SIGPIPE and catches SIGINT; the guest starts with the kernel's defaults
    # (hostsig mirrors its later choices).
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        opts = parse_args(list(sys.argv[1:] if argv is None else argv))
    except UsageError as exc:
        sys.stderr.write(f"pyexec: {exc}\n{USAGE}")
        return 2
    try:
        return run(opts)
    except KeyboardInterrupt:
        die_by_signal(signal.SIGINT)
        return 130


def run(opts: CliOptions) -> int:
    from emulator.errors import ExecError, InternalError, PyexecError
    from emulator.process import Options, Process
    from emulator.signum import signal_name

    started = time.perf_counter()
    trace = _open_out(opts.trace_faults)
    try:
        proc = Process.spawn(opts.argv[0], opts.argv,
                             options=Options(trace_faults=trace, random_seed=opts.seed))
    except ExecError as exc:
        sys.stderr.write(f"pyexec: {exc}\n")
        return exc.status
    except PyexecError as exc:
        if opts.debug_emulator:
            traceback.print_exc()
        sys.stderr.write(f"pyexec: internal error while loading {opts.argv[0]}: {exc}\n")
        return 70
    try:
        result = proc.run()
    except InternalError as exc:
        if opts.debug_emulator:
            traceback.print_exc()
        sys.stderr.write(f"pyexec: internal error: {exc}\n")
        report(proc, opts, started)
        return 70
    report(proc, opts, started)
    if result.signal is not None:
        fault = proc.term_fault
        where = f" at address {fault.addr:#x}" if fault is not None and fault.access else ""
        pc = f" (pc={proc.machine.pc:#x})" if fault is not None else ""
        sys.stderr.write(f"pyexec: {opts.argv[0]}: terminated by {signal_name(result.signal)}"
                         f"{where}{pc}\n")
        die_by_signal(result.signal)
    assert result.exit_status is not None
    return result.exit_status


def report(proc: "object", opts: CliOptions, started: float) -> None:
    """--maps and --stats, written after a normal exit and after a crash alike."""
    from emulator.process import Process
    from mmu.maps import render_maps
    assert isinstance(proc, Process)
    out = _open_out(opts.maps)
    if out is not None:
        out.write(render_maps(proc.mm))
        out.flush()
    out = _open_out(opts.stats)
    if out is not None:
        mm = proc.mm
        lines = [("syscalls", proc.dispatcher.count),
                 ("page_faults", mm.stats.total)]
        lines += [(f"page_faults_{k}", v) for k, v in mm.stats.as_dict().items()]
        lines += [("page_cache_pages", len(mm.pagecache)),
                  ("resident_pages", mm.rss),
                  ("peak_rss_kb", mm.peak_rss * 4),
                  ("wall_s", f"{time.perf_counter() - started:.3f}")]
        out.write("".join(f"{k}: {v}\n" for k, v in lines))
        out.flush()
