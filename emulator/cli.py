"""The `pyexec` command: run a static Linux ELF as if it were run directly."""
from __future__ import annotations

import logging
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, List, Optional, TextIO, Tuple

if TYPE_CHECKING:
    from emulator.instruments import Instruments

USAGE = """usage: pyexec [OPTIONS] PROG [ARGS...]

Run a static x86-64 or i386 Linux ELF under emulation, as ./PROG ARGS would run.

options:
  --trace-faults[=FILE]  one line per page fault: address, access, VMA, what the MMU did
  --maps[=FILE]          write the guest's /proc/self/maps at exit (default: stderr)
  --stats[=FILE]         instructions, syscalls, page faults by kind, resident pages at exit
  --strace[=FILE]        one line per syscall and signal, in strace's format (default: stderr)
  --trace[=FILE]         one line per instruction: address, bytes, disassembly (default: stderr)
  --trace-regs           with --trace: the registers each instruction changed
  --trace-range=A-B      with --trace: only instructions at A <= address < B (repeatable)
  --trace-symbol=NAME    with --trace: only the instructions of function NAME (repeatable)
  --icount-limit=N       stop the guest after exactly N instructions; exit status 124
  --deterministic        clocks and TSC from the instruction count, fixed pid and uname,
                         randomness from --seed (default 0): runs repeat byte for byte
  --seed=N               AT_RANDOM and getrandom from seed N (repeatable runs)
  --debug                a gdb-like debugger: stops before the first instruction, then reads
                         commands (break, stepi, catch fault, pte, maps...; `help` lists them)
  --batch FILE           with --debug: run the commands in FILE, without prompts
  -g PORT, --gdb PORT    wait for gdb on 127.0.0.1:PORT (0: any free port), like qemu-user -g
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
    strace: Optional[str] = None
    trace: Optional[str] = None
    trace_regs: bool = False
    trace_ranges: List[Tuple[int, int]] = field(default_factory=list)
    trace_symbols: List[str] = field(default_factory=list)
    icount_limit: int = 0
    deterministic: bool = False
    debug_emulator: bool = False
    debug: bool = False                # --debug / --batch FILE: emulator/debugger.py
    batch: Optional[str] = None
    gdb_port: Optional[int] = None     # -g PORT: emulator/gdbstub.py
    argv: List[str] = field(default_factory=list)


class UsageError(Exception):
    pass


FILE_OPTIONS = {"--trace-faults": "trace_faults", "--maps": "maps", "--stats": "stats",
                "--strace": "strace", "--trace": "trace"}
VALUE_OPTIONS = ("--icount-limit", "--trace-range", "--trace-symbol")
ICOUNT_LIMIT_STATUS = 124     # --icount-limit stopped the guest (as timeout(1) reports a timeout)


def _number(name: str, text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise UsageError(f"{name}: not a number: {text!r}") from None


def _set_value(opts: "CliOptions", name: str, value: str) -> None:
    """The options of VALUE_OPTIONS (their value is required)."""
    if name == "--icount-limit":
        opts.icount_limit = _number(name, value)
        if opts.icount_limit <= 0:
            raise UsageError(f"{name}: must be a positive number of instructions")
    elif name == "--trace-range":
        start, sep, end = value.partition("-")
        if not sep:
            raise UsageError(f"{name}: expected START-END, got {value!r}")
        lo, hi = _number(name, start), _number(name, end)
        if not 0 <= lo < hi:
            raise UsageError(f"{name}: empty range {value!r}")
        opts.trace_ranges.append((lo, hi))
    elif name == "--trace-symbol":
        if not value:
            raise UsageError(f"{name}: empty symbol name")
        opts.trace_symbols.append(value)


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
        elif name in VALUE_OPTIONS:
            if not eq:
                i += 1
                if i >= len(args):
                    raise UsageError(f"{name} needs a value")
                value = args[i]
            _set_value(opts, name, value)
        elif name == "--trace-regs":
            opts.trace_regs = True
        elif name == "--deterministic":
            opts.deterministic = True
        elif name in ("--debug", "--batch", "-g", "--gdb"):
            i = _debug_option(opts, name, eq, value, args, i)
        elif name == "--debug-emulator":
            opts.debug_emulator = True
        else:
            raise UsageError(f"unknown option {arg}")
        i += 1
    opts.argv = args[i:]
    if not opts.argv:
        raise UsageError("no program given")
    if opts.trace is None and (opts.trace_regs or opts.trace_ranges or opts.trace_symbols):
        opts.trace = "-"          # --trace-regs/-range/-symbol imply --trace
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
        sys.stderr.write(f"pyexec: {exc}\nTry 'pyexec --help' for more information.\n")
        return 2
    try:
        return run(opts)
    except KeyboardInterrupt:
        die_by_signal(signal.SIGINT)
        return 130


def _debug_option(opts: CliOptions, name: str, eq: str, value: str, args: List[str],
                  i: int) -> int:
    """--debug, --batch FILE, -g/--gdb PORT (the value may also be the next argument)."""
    if name == "--debug":
        opts.debug = True
    else:
        if not eq:
            i += 1
            if i >= len(args):
                raise UsageError(f"{name} needs a {'file' if name == '--batch' else 'port'}")
            value = args[i]
        if name == "--batch":
            opts.debug, opts.batch = True, value
        else:
            opts.gdb_port = _number(name, value)
            if not 0 <= opts.gdb_port <= 65535:
                raise UsageError(f"{name}: not a TCP port: {value!r}")
    if opts.debug and opts.gdb_port is not None:
        raise UsageError("--debug and --gdb cannot be used together")
    return i


def run(opts: CliOptions) -> int:
    if opts.debug or opts.gdb_port is not None:
        from emulator.debugger import debug_main
        return debug_main(opts)
    from emulator.errors import ExecError, InternalError, PyexecError
    from emulator.process import Options, Process
    from emulator.signum import signal_name

    started = time.perf_counter()
    trace = _open_out(opts.trace_faults)
    try:
        for target in (opts.maps, opts.stats):      # written at exit: fail now, not then
            if target is not None and target != "-":
                open(target, "w").close()
        tools = _instruments(opts)
    except OSError as exc:
        sys.stderr.write(f"pyexec: {exc.filename}: {exc.strerror}\n")
        return 2
    except PyexecError as exc:
        sys.stderr.write(f"pyexec: {exc}\n")
        return 2
    seed = opts.seed if tools.random_seed is None else tools.random_seed
    try:
        proc = Process.spawn(opts.argv[0], opts.argv,
                             options=Options(trace_faults=trace, random_seed=seed,
                                             attach=[tools.attach]))
    except ExecError as exc:
        sys.stderr.write(f"pyexec: {exc}\n")
        return exc.status
    except PyexecError as exc:
        if opts.debug_emulator:
            traceback.print_exc()
        sys.stderr.write(f"pyexec: internal error while loading {opts.argv[0]}: {exc}\n")
        return 70
    tools.started(proc)
    try:
        result = proc.run()
    except InternalError as exc:
        if opts.debug_emulator:
            traceback.print_exc()
        sys.stderr.write(f"pyexec: internal error: {exc}\n")
        tools.flush()
        report(proc, opts, started, tools)
        return 70
    tools.finish(proc, result)
    report(proc, opts, started, tools)
    if tools.counter is not None and tools.counter.limit_reached:
        sys.stderr.write(f"pyexec: {opts.argv[0]}: stopped after {tools.counter.total} "
                         f"instructions (--icount-limit) at pc={tools.counter.stop_pc:#x}\n")
        return ICOUNT_LIMIT_STATUS
    if result.signal is not None:
        fault = proc.term_fault
        where = f" at address {fault.addr:#x}" if fault is not None and fault.access else ""
        pc = f" (pc={proc.machine.pc:#x})" if fault is not None else ""
        sys.stderr.write(f"pyexec: {opts.argv[0]}: terminated by {signal_name(result.signal)}"
                         f"{where}{pc}\n")
        die_by_signal(result.signal)
    assert result.exit_status is not None
    return result.exit_status


def _instruments(opts: CliOptions) -> "Instruments":
    """--stats' instruction count, --icount-limit, --deterministic, --strace, --trace."""
    from emulator.instruments import Instruments, TraceSettings
    trace = None
    if opts.trace is not None:
        out = _open_out(opts.trace)
        assert out is not None
        trace = TraceSettings(out, opts.trace_regs, opts.trace_ranges, opts.trace_symbols)
    return Instruments(count=opts.stats is not None, icount_limit=opts.icount_limit,
                       deterministic=opts.deterministic, seed=opts.seed,
                       strace_out=_open_out(opts.strace), trace=trace)


def report(proc: "object", opts: CliOptions, started: float,
           tools: "Optional[Instruments]" = None) -> None:
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
        lines: List[Tuple[str, object]] = list(proc.stats().items())
        lines.append(("wall_s", f"{time.perf_counter() - started:.3f}"))
        if tools is not None and tools.counter is not None:
            lines.insert(0, ("instructions", tools.counter.total))
        if tools is not None and tools.determinism is not None:
            lines = [kv for kv in lines if kv[0] != "wall_s"]   # the one thing runs differ in
        out.write("".join(f"{k}: {v}\n" for k, v in lines))
        out.flush()
