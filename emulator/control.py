"""The stepping engine shared by the debugger REPL, the gdb stub, tracing and the Python API.

It owns breakpoints and catchpoints (syscalls, page faults, signals) and turns
them into `Stop` values that `Cpu.run` returns. Every client drives the guest through the same
`Control.run` / `Control.step`, so they cannot disagree about where the guest stopped.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Set

from emulator.ucconst import UC_HOOK_CODE

if TYPE_CHECKING:
    from emulator.process import Process


class StopReason(enum.Enum):
    EXITED = "exited"
    SIGNALED = "signaled"        # the guest died by a signal
    BREAKPOINT = "breakpoint"
    WATCHPOINT = "watchpoint"
    STEP = "step"                # a requested number of instructions ran
    SYSCALL_ENTRY = "syscall-entry"
    SYSCALL_EXIT = "syscall-exit"
    FAULT = "fault"              # a page fault, before the MMU handles it
    SIGNAL = "signal"            # a signal about to be delivered
    REQUESTED = "requested"      # an API callback asked to stop
    ICOUNT_LIMIT = "icount-limit"  # the instruction limit (emulator/icount.py) was reached


@dataclass
class SyscallEvent:
    """One syscall: entry listeners may change `args` or set `result` to skip the handler."""
    nr: int
    name: str
    args: List[int]
    pc: int                      # address of the syscall instruction
    result: Optional[int] = None

    @property
    def errno(self) -> Optional[int]:
        return -self.result if self.result is not None and -4096 < self.result < 0 else None


@dataclass
class FaultStop:
    addr: int
    access: int                  # 16 read / 17 write / 18 fetch


@dataclass
class Stop:
    reason: StopReason
    pc: int = 0
    breakpoint: Optional["Breakpoint"] = None
    syscall: Optional[SyscallEvent] = None
    fault: Optional[FaultStop] = None
    signo: int = 0
    status: int = 0              # exit status


@dataclass
class Breakpoint:
    number: int
    addr: int
    temporary: bool = False
    enabled: bool = True
    hits: int = 0
    callback: Optional[Callable[["Process"], Any]] = None
    _hook: Any = None


@dataclass
class FaultCatch:
    start: int = 0
    end: int = 1 << 64
    accesses: Set[int] = field(default_factory=lambda: {16, 17, 18})

    def matches(self, addr: int, access: int) -> bool:
        return self.start <= addr < self.end and access in self.accesses


class Control:
    """Breakpoints and catchpoints of one process."""

    def __init__(self, proc: "Process") -> None:
        self.proc = proc
        self.breakpoints: Dict[int, Breakpoint] = {}
        # Watchpoints live in emulator/inferior.py: in TLB-virtual mode Unicorn's memory hooks
        # see physical addresses, so they follow the frames behind the watched pages.
        self._next_number = 1
        self.catch_syscalls: Optional[Set[int]] = None     # None: off; empty set: all
        self.catch_faults: List[FaultCatch] = []
        self.catch_signals: Optional[Set[int]] = None      # None: off; empty set: all
        self.syscall_entry_listeners: List[Callable[[SyscallEvent], Any]] = []
        self.syscall_exit_listeners: List[Callable[[SyscallEvent], Any]] = []
        # Called with the SigInfo of each signal dequeued for delivery (before its action).
        self.signal_listeners: List[Callable[[Any], Any]] = []
        self._skip_bp_at: Optional[int] = None

    # --- what makes syscalls take the slow path --------------------------------------------
    @property
    def traces_syscalls(self) -> bool:
        return bool(self.catch_syscalls is not None or self.syscall_entry_listeners
                    or self.syscall_exit_listeners)

    def refresh(self) -> None:
        self.proc.cpu.traced = self.traces_syscalls
        self.proc.cpu.fault_catches = self.catch_faults

    def wants_syscall_stop(self, nr: int) -> bool:
        return self.catch_syscalls is not None and (not self.catch_syscalls
                                                    or nr in self.catch_syscalls)

    def wants_signal_stop(self, signo: int) -> bool:
        return self.catch_signals is not None and (not self.catch_signals
                                                   or signo in self.catch_signals)

    # --- breakpoints -----------------------------------------------------------------------
    def _number(self) -> int:
        n = self._next_number
        self._next_number += 1
        return n

    def add_breakpoint(self, addr: int, temporary: bool = False,
                       callback: Optional[Callable[["Process"], Any]] = None) -> Breakpoint:
        bp = Breakpoint(self._number(), addr, temporary, callback=callback)
        m = self.proc.machine

        def hit(uc: Any, address: int, size: int, data: Any) -> None:
            if not bp.enabled:
                return
            if self._skip_bp_at == address:
                self._skip_bp_at = None
                return
            bp.hits += 1
            if bp.callback is not None:
                try:
                    if bp.callback(self.proc) is False:
                        return        # the callback chose to keep going
                except BaseException as exc:
                    self.proc.cpu.error = exc
                    m.stop()
                    return
            self.proc.cpu.request_stop(Stop(StopReason.BREAKPOINT, address, breakpoint=bp))
        bp._hook = m.uc.hook_add(UC_HOOK_CODE, hit, None, addr, addr)
        # Unicorn decides at translation time which instructions call code hooks: drop any
        # block already translated over this address.
        m.flush_code(addr, addr + 1)
        self.breakpoints[bp.number] = bp
        return bp

    def delete(self, number: int) -> bool:
        bp = self.breakpoints.pop(number, None)
        if bp is not None:
            self.proc.machine.uc.hook_del(bp._hook)
            return True
        return False

    def skip_breakpoint_once(self, pc: int) -> None:
        """Resuming at a breakpoint address executes that instruction instead of re-stopping."""
        if any(bp.addr == pc and bp.enabled for bp in self.breakpoints.values()):
            self._skip_bp_at = pc

    def resolve_stop(self, stop: Stop) -> Stop:
        """Fill in what is known only after the CPU stopped (pc, watched values)."""
        stop.pc = self.proc.machine.pc if stop.reason not in (StopReason.EXITED,
                                                               StopReason.SIGNALED) else stop.pc
        bp = stop.breakpoint
        if bp is not None and bp.temporary:
            self.delete(bp.number)
        return stop

    # --- driving ---------------------------------------------------------------------------
    def run(self, max_instructions: int = 0) -> Stop:
        """Continue until something stops the guest (or `max_instructions` ran)."""
        self.refresh()
        self.skip_breakpoint_once(self.proc.machine.pc)
        stop = self.proc.cpu.run(max_instructions)
        return self.resolve_stop(stop)

    def step(self, count: int = 1) -> Stop:
        """Execute `count` instructions one at a time (a syscall counts as one)."""
        self.refresh()
        stop = Stop(StopReason.STEP)
        for _ in range(count):
            self.skip_breakpoint_once(self.proc.machine.pc)
            stop = self.proc.cpu.run(1)
            if stop.reason is not StopReason.STEP:
                break
        return self.resolve_stop(stop)
