"""The observation tools of one run, wired to each new address space through Options.attach:
the instruction counter (--stats, --icount-limit, --deterministic), the deterministic
environment, --strace and --trace. cli.py builds one from its options."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, List, Optional, TextIO, Tuple

if TYPE_CHECKING:
    from emulator.determinism import Deterministic
    from emulator.icount import InstructionCounter
    from emulator.process import Process
    from emulator.trace import InstructionTrace
    from syscalls.strace import Strace

log = logging.getLogger("pyexec.instruments")


@dataclass
class TraceSettings:
    out: TextIO
    regs: bool = False
    ranges: List[Tuple[int, int]] = field(default_factory=list)   # [start, end)
    symbols: List[str] = field(default_factory=list)


class Instruments:
    def __init__(self, *, count: bool = False, icount_limit: int = 0,
                 deterministic: bool = False, seed: Optional[int] = None,
                 strace_out: Optional[TextIO] = None,
                 trace: Optional[TraceSettings] = None) -> None:
        self.counter: Optional["InstructionCounter"] = None
        self.determinism: Optional["Deterministic"] = None
        self.strace: Optional["Strace"] = None
        self.trace: Optional["InstructionTrace"] = None
        if count or icount_limit or deterministic:
            from emulator.icount import InstructionCounter
            self.counter = InstructionCounter(limit=icount_limit)
        if deterministic:
            from emulator.determinism import Deterministic
            assert self.counter is not None
            self.determinism = Deterministic(self.counter, seed)
        if strace_out is not None:
            from syscalls.strace import Strace
            self.strace = Strace(strace_out)
        if trace is not None:
            from emulator.trace import InstructionTrace
            self.trace = InstructionTrace(trace.out, regs=trace.regs, ranges=trace.ranges,
                                          symbols=trace.symbols)

    @property
    def random_seed(self) -> Optional[int]:
        return self.determinism.seed if self.determinism is not None else None

    def attach(self, proc: "Process") -> None:
        """Options.attach: the counter first (its run listener settles before the others)."""
        if self.counter is not None:
            self.counter.attach(proc)
        if self.determinism is not None:
            self.determinism.attach(proc)
        if self.strace is not None:
            self.strace.attach(proc)
        if self.trace is not None:
            self.trace.attach(proc)

    def started(self, proc: "Process") -> None:
        """The process is loaded (spawn returned): strace's execve line."""
        if self.strace is not None:
            self.strace.started(proc)

    def finish(self, proc: "Process", result: Any) -> None:
        """The run ended: strace's +++ line, the trace's last register delta."""
        if self.trace is not None:
            self.trace.finish()
        if self.strace is not None:
            self.strace.finish(proc, result.exit_status, result.signal)

    def flush(self) -> None:
        """After an internal error: keep what was traced."""
        if self.trace is not None:
            self.trace.flush()
        if self.strace is not None:
            self.strace.flush()
