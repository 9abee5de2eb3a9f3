"""The debugged process, as the REPL (emulator/debugger.py) and the gdb stub (emulator/gdbstub.py)
both see it: one stepping engine on top of emulator/control.py.

Control already owns breakpoints and the syscall / fault / signal catchpoints. This layer adds
what both front ends need and must agree on:

- a process stopped before its first instruction with nothing of the image resident;
- watchpoints that work with Unicorn's virtual TLB (memory hooks see *physical* addresses, and a
  hook that stops the CPU leaves the access done but the instruction not retired);
- memory reads that do not fault anything in (the debugger must not change the paging it shows);
- the explanation of a page fault: the state before, what the MMU will do, what it did;
- exec (a new address space and CPU) and restarting the program.
"""
from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

from emulator.ucconst import UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE

from emulator.control import Breakpoint, FaultCatch, Stop, StopReason
from emulator.errors import ExecError, PyexecError, SyscallError
from emulator.process import Options, Process
from emulator.signum import Signal
from loader.elf import Arch
from mmu.constants import (ACCESS_FETCH, ACCESS_WRITE, PAGE_SHIFT, PAGE_SIZE, PROT, UC_PROT_WRITE,
                           VM, page_down, page_up, prot_to_uc)
from mmu.fault import ACCESS_NAMES, FaultEvent, access_allowed, prot_str
from mmu.pagetable import PTE, PageKind
from mmu.uaccess import copy_to_user, peek
from mmu.vma import VMA

log = logging.getLogger("pyexec.inferior")


class DebugError(Exception):
    """A command cannot be done (bad address, no process...): one line for the user."""


# gdb's descriptions of the Linux signals ("Program received signal SIGSEGV, Segmentation fault.").
SIGNAL_DESCRIPTIONS: Dict[int, str] = {
    1: "Hangup", 2: "Interrupt", 3: "Quit", 4: "Illegal instruction", 5: "Trace/breakpoint trap",
    6: "Aborted", 7: "Bus error", 8: "Arithmetic exception", 9: "Killed",
    10: "User defined signal 1", 11: "Segmentation fault", 12: "User defined signal 2",
    13: "Broken pipe", 14: "Alarm clock", 15: "Terminated", 16: "Stack fault",
    17: "Child status changed", 18: "Continued", 19: "Stopped (signal)", 20: "Stopped (user)",
    21: "Stopped (tty input)", 22: "Stopped (tty output)", 23: "Urgent I/O condition",
    24: "CPU time limit exceeded", 25: "File size limit exceeded", 26: "Virtual timer expired",
    27: "Profiling timer expired", 28: "Window size changed", 29: "I/O possible",
    30: "Power fail/restart", 31: "Bad system call",
}
# Signals gdb lets through without stopping ("handle" defaults: Stop No).
GDB_NOSTOP = {Signal.SIGALRM, Signal.SIGURG, Signal.SIGCHLD, Signal.SIGIO, Signal.SIGVTALRM,
              Signal.SIGPROF, Signal.SIGWINCH}


def signal_description(signo: int) -> str:
    if signo in SIGNAL_DESCRIPTIONS:
        return SIGNAL_DESCRIPTIONS[signo]
    return f"Real-time event {signo}" if signo >= 32 else f"Unknown signal {signo}"


def parse_signal(text: str) -> int:
    """SIGSEGV, SEGV, segv or 11."""
    t = text.strip().upper()
    try:
        n = int(t, 0)
    except ValueError:
        name = t if t.startswith("SIG") else "SIG" + t
        try:
            return int(Signal[name])
        except KeyError:
            raise DebugError(f"Only signals 1-64 are valid as numeric signals; "
                             f"unknown signal name: {text}.") from None
    if not 1 <= n <= 64:
        raise DebugError(f"Only signals 1-64 are valid as numeric signals.")
    return n


# --- symbols ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Symbol:
    name: str
    addr: int
    size: int
    is_func: bool


class Symbols:
    """The ELF .symtab (pyelftools, read once), relocated by the load bias (static-pie)."""

    _RANK = {"STB_GLOBAL": 0, "STB_WEAK": 1, "STB_LOCAL": 2}

    def __init__(self, path: str, bias: int) -> None:
        self.path = path
        self.bias = bias
        self._loaded = False
        self._by_name: Dict[str, Symbol] = {}
        self._sorted: List[Symbol] = []
        self._starts: List[int] = []
        self.sections: List[Tuple[str, int, int]] = []

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        try:
            from elftools.common.exceptions import ELFError
            from elftools.elf.elffile import ELFFile
            from elftools.elf.sections import SymbolTableSection
        except ImportError:           # pragma: no cover - pyelftools is a dependency
            log.warning("pyelftools is not installed: no symbols")
            return
        ranked: Dict[int, Tuple[Tuple[int, ...], Symbol]] = {}
        try:
            with open(self.path, "rb") as f:
                elf = ELFFile(f)
                for sec in elf.iter_sections():
                    if sec["sh_flags"] & 2 and sec["sh_addr"]:          # SHF_ALLOC
                        self.sections.append((sec.name, sec["sh_addr"] + self.bias,
                                              sec["sh_size"]))
                    if not isinstance(sec, SymbolTableSection) or sec.name != ".symtab":
                        continue
                    for sym in sec.iter_symbols():
                        kind = sym["st_info"]["type"]
                        if not sym.name or sym.name.startswith(".L") or kind not in (
                                "STT_FUNC", "STT_OBJECT", "STT_NOTYPE", "STT_GNU_IFUNC"):
                            continue
                        if sym["st_shndx"] in ("SHN_UNDEF", "SHN_ABS") or not sym["st_value"]:
                            continue
                        s = Symbol(sym.name, sym["st_value"] + self.bias, sym["st_size"],
                                   kind in ("STT_FUNC", "STT_GNU_IFUNC"))
                        self._by_name.setdefault(s.name, s)
                        # One name per address for display: functions, then sized symbols,
                        # then the public name (write over __libc_write), global over local.
                        under = len(s.name) - len(s.name.lstrip("_"))
                        rank = (0 if s.is_func else 1 if s.size else 2, min(under, 1),
                                self._RANK.get(sym["st_info"]["bind"], 3) // 2, len(s.name))
                        old = ranked.get(s.addr)
                        if old is None or rank < old[0]:
                            ranked[s.addr] = (rank, s)
        except (OSError, ELFError) as exc:
            log.warning("cannot read symbols of %s: %s", self.path, exc)
        self._sorted = sorted((s for _, s in ranked.values()), key=lambda s: s.addr)
        self._starts = [s.addr for s in self._sorted]

    def address(self, name: str) -> Optional[int]:
        self._load()
        sym = self._by_name.get(name)
        return sym.addr if sym is not None else None

    def symbol(self, name: str) -> Optional[Symbol]:
        self._load()
        return self._by_name.get(name)

    def containing(self, addr: int) -> Optional[Symbol]:
        """The symbol addr falls in: the nearest one at or below it, within its size when it
        has one (gdb's minimal-symbol lookup)."""
        import bisect
        self._load()
        i = bisect.bisect_right(self._starts, addr) - 1
        if i < 0:
            return None
        sym = self._sorted[i]
        if sym.size and addr >= sym.addr + sym.size:
            return None
        if not sym.size and (self.section_of(addr) is None
                             or self.section_of(addr) != self.section_of(sym.addr)):
            return None
        return sym

    def lookup(self, addr: int) -> Optional[Tuple[str, int]]:
        sym = self.containing(addr)
        return (sym.name, addr - sym.addr) if sym is not None else None

    def section_of(self, addr: int) -> Optional[str]:
        self._load()
        for name, start, size in self.sections:
            if start <= addr < start + size:
                return name
        return None

    def names(self) -> List[str]:
        self._load()
        return list(self._by_name)


# --- what the debugger shows about a fault ------------------------------------------------------
def vma_brief(mm: Any, vma: Optional[VMA]) -> str:
    if vma is None:
        return "none"
    name = mm.vma_name(vma) or "[anon]"
    return f"{vma.start:x}-{vma.end:x} {prot_str(vma)} {name}"


def page_state(mm: Any, addr: int) -> str:
    """What the page table holds for addr's page, in words."""
    pte = mm.pt.get(addr >> PAGE_SHIFT)
    if pte is None:
        return "not present"
    return describe_pte(mm, addr, pte)


def perms_str(perms: int) -> str:
    return ("r" if perms & 1 else "-") + ("w" if perms & 2 else "-") + ("x" if perms & 4 else "-")


def mappers(mm: Any, paddr: int) -> int:
    return sum(1 for p in mm.pt.values() if p.paddr == paddr)


def describe_pte(mm: Any, addr: int, pte: PTE) -> str:
    rc = mm.frames.refcount.get(pte.paddr, 0)
    if pte.kind == PageKind.ZERO:
        return f"the shared zero page (frame {pte.paddr:#x}, refcount {rc}), read-only"
    what = f"present, frame {pte.paddr:#x} {perms_str(pte.perms)}"
    if pte.kind == PageKind.SHARED:
        return what + ", MAP_SHARED (the host's page-cache page)"
    if pte.kind == PageKind.FILE:
        return (what + f", page-cache page shared by {mappers(mm, pte.paddr)} mapping(s) "
                f"(refcount {rc})" + (", copy-on-write" if pte.cow else ""))
    if pte.cow:
        return what + f", shared (refcount {rc}), copy-on-write"
    return what + f", private ({pte.kind.name.lower()}, refcount {rc})"


def predict_fault(mm: Any, addr: int, access: int) -> str:
    """What mmu/fault.py's handle_mm_fault will do for this access, read from the state before
    (it changes nothing)."""
    page = page_down(addr)
    vma = mm.vmas.find(addr)
    grow = ""
    if vma is None:
        nxt = mm.vmas.find_vma(addr)
        if nxt is None or not nxt.flags & VM.GROWSDOWN:
            return "SIGSEGV (SEGV_MAPERR): no VMA covers the address"
        grow = f"grow the stack VMA down to {page:#x} (unless the guard gap or RLIMIT_STACK " \
               f"forbids it: SIGSEGV), then "
        vma = nxt
    if not access_allowed(vma, access):
        return f"SIGSEGV (SEGV_ACCERR): the VMA does not allow {ACCESS_NAMES[access]}"
    pte = mm.pt.get(page >> PAGE_SHIFT)
    if pte is not None and not grow:
        if access == ACCESS_WRITE and pte.cow:
            if pte.kind == PageKind.ZERO:
                return "replace the zero page by a new zero-filled frame (first write)"
            rc = mm.frames.refcount.get(pte.paddr, 0)
            return (f"copy-on-write: copy frame {pte.paddr:#x} (refcount {rc}) into a new "
                    f"private frame, mapped {perms_str(_uc_perms(vma))}")
        return "only refill the TLB: the page is present and allows the access"
    perms = perms_str(_uc_perms(vma))
    if vma.file is not None:
        offset = vma.file_offset(page)
        try:
            size = vma.file.size()
        except OSError:
            size = 0
        if offset >= page_up(size):
            return f"SIGBUS (BUS_ADRERR): file offset {offset:#x} is past the end of the file"
        if vma.mayshare and getattr(mm, "windows", None) is not None:
            return grow + f"map the host's page-cache page of file offset {offset:#x} " \
                          f"(MAP_SHARED), {perms}"
        if vma.file_end is not None and offset + PAGE_SIZE > vma.file_end:
            keep = max(vma.file_end - offset, 0)
            return grow + (f"a new private frame: {keep:#x} bytes from file offset "
                           f"{offset:#x}, zeros after them (the segment's bss tail), {perms}")
        cached = mm.pagecache.lookup(vma.file, offset)
        src = (f"page-cache frame {cached:#x} (page cache hit)" if cached is not None
               else "a new page-cache frame, read from the file")
        if vma.shared or access != ACCESS_WRITE:
            mapped = _uc_perms(vma) if vma.shared else _uc_perms(vma) & ~UC_PROT_WRITE
            cow = ", copy-on-write" if not vma.shared and vma.prot & PROT.WRITE else ""
            return grow + f"map file offset {offset:#x}: {src}, {perms_str(mapped)}{cow}"
        return grow + f"copy file offset {offset:#x} ({src}) into a new private frame, {perms}"
    if access != ACCESS_WRITE and not vma.mayshare:
        return grow + f"map the shared zero page (frame {mm.zero_frame:#x}) read-only"
    return grow + f"a new zero-filled frame, {perms}"


def _uc_perms(vma: VMA) -> int:
    return prot_to_uc(vma.prot)


def describe_event(ev: FaultEvent, grew_stack: bool = False, addr: Optional[int] = None) -> str:
    """What the MMU did, from its FaultEvent (addr: the exact address, when known)."""
    detail = ev.detail
    frame = f"frame {ev.paddr:#x}"
    if ev.kind == "file":
        if "shared" in detail:
            text = f"mapped the host's page-cache page ({detail}) as {frame}"
        elif "page cache hit" in detail:
            text = f"mapped page-cache {frame} ({detail.replace(', page cache hit', '')}, " \
                   f"already cached)"
        else:
            text = f"read {detail.replace(', read from file', '')} into page-cache {frame} " \
                   f"and mapped it"
    elif ev.kind == "file-private":
        text = f"filled private {frame} ({detail})"
    elif ev.kind == "anon":
        text = (f"replaced the zero page by zero-filled {frame}" if "zero page" in detail
                else f"zero-filled new {frame}")
    elif ev.kind == "zero":
        text = f"mapped the shared zero page ({frame}) read-only"
    elif ev.kind == "cow":
        if detail.startswith("copied frame"):
            text = f"copy-on-write: copied {detail[len('copied '):]} to new {frame}"
        else:
            text = f"copy-on-write at the first touch: {detail}, copied into private {frame}"
    elif ev.kind == "segv":
        text = f"SIGSEGV {detail}"
    elif ev.kind == "sigbus":
        text = f"SIGBUS {detail}"
    else:
        text = f"{ev.kind} {frame} {detail}".strip()
    if grew_stack:
        assert ev.vma is not None
        text = f"grew the stack to {ev.vma.start:#x}; " + text
    by = "" if ev.origin == "cpu" else f" (by {ev.origin})"
    where = ev.addr if addr is None or page_down(addr) != page_down(ev.addr) else addr
    return f"{ACCESS_NAMES.get(ev.access, '?')} {where:#x}{by}: {text}"


@dataclass
class FaultReport:
    """A `catch fault` stop: the CPU is at the instruction, the MMU has not acted yet."""
    addr: int                # exact address of the access (page start when not decodable)
    page: int
    access: int
    pc: int
    vma: str
    before: str
    prediction: str
    stack_growth: bool = False


# --- points: what the user numbered -------------------------------------------------------------
@dataclass
class Point:
    number: int
    kind: str                # breakpoint, watchpoint, catch-syscall, catch-fault, catch-signal
    spec: str = ""                     # what the user typed (re-resolved at exec / run)
    addr: int = 0
    length: int = 0
    access: str = ""                   # watchpoints: write / read / access
    temporary: bool = False
    enabled: bool = True
    hits: int = 0
    syscalls: Optional[Set[int]] = None     # catch syscall: None = any
    signals: Optional[Set[int]] = None      # catch signal: None = any (but SIGTRAP/SIGINT)
    fault: Optional[FaultCatch] = None
    old_value: bytes = b""
    cbp: Optional[Breakpoint] = None
    hooks: Dict[int, Any] = field(default_factory=dict)     # page vaddr -> Unicorn hook
    armed: Dict[int, int] = field(default_factory=dict)    # page vaddr -> frame it is hooked on


@dataclass
class WatchHit:
    point: Point
    vaddr: int
    paddr: int
    access: int
    old_bytes: bytes


@dataclass
class Event:
    """One stop, with everything the front ends report about it."""
    stop: Stop
    point: Optional[Point] = None
    mmu: List[FaultEvent] = field(default_factory=list)      # faults handled during the run
    did: List[str] = field(default_factory=list)              # the held fault's outcome
    fault: Optional[FaultReport] = None
    watch: Optional[WatchHit] = None
    watches: List[Tuple[WatchHit, bytes, bytes]] = field(default_factory=list)
    old_value: bytes = b""
    new_value: bytes = b""
    execs: List[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def reason(self) -> StopReason:
        return self.stop.reason


_HOOK_FOR_ACCESS = {"write": UC_HOOK_MEM_WRITE, "read": UC_HOOK_MEM_READ,
                    "access": UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE}
_UC_MEM_WRITE = 17
_NO_FRAME = (1 << 64) - 4096     # a physical address no frame has: the anchor hooks' range


def _ignore_access(uc: Any, access: int, address: int, size: int, value: int, data: Any) -> None:
    return None


class Inferior:
    """One debugged program: spawn, run/step, points, memory, registers, restart."""

    def __init__(self, argv: Sequence[str], env: Optional[Dict[str, str]] = None,
                 options: Optional[Options] = None) -> None:
        self.argv = list(argv)
        self.env = env
        self.options = options
        self.proc: Optional[Process] = None
        self.points: Dict[int, Point] = {}
        self._next_number = 1
        self.default_signal_stops: Set[int] = set(range(1, 32)) - GDB_NOSTOP - {Signal.SIGKILL}
        self.started = False           # the guest executed an instruction
        self.exited: Optional[Stop] = None
        self.symbols: Optional[Symbols] = None
        self._events: List[FaultEvent] = []
        self._watch_hit: Optional[WatchHit] = None
        self._watch_suspended = False
        self._redo_hits: List[WatchHit] = []
        self._anchors: Dict[int, Any] = {}
        self._held_fault: Optional[FaultReport] = None
        self._pending: Optional[Stop] = None
        self._interrupted = False
        self.last_event: Optional[Event] = None
        self._stepping = False          # the last emu_start counted instructions
        # Called with "what the MMU did" for the fault a `catch fault` stop held, as soon as
        # the MMU has acted (the REPL prints it before the program's next output).
        self.on_did: Optional[Callable[[str], None]] = None
        self._held_running: Optional[FaultReport] = None
        self._did: List[str] = []

    # --- the process ------------------------------------------------------------------------
    def start(self) -> Process:
        """Spawn the program stopped before its first instruction (raises ExecError)."""
        proc = Process.spawn(self.argv[0], self.argv, env=self.env, options=self.options)
        self.proc = proc
        self.started = False
        self.exited = None
        self._pending = None
        self._held_fault = None
        self._after_new_image()
        return proc

    def _after_new_image(self) -> None:
        proc = self.require()
        self._stepping = False
        proc.mm.listeners.append(self._on_fault_event)
        proc.control.refresh()
        assert proc.load is not None
        self.symbols = Symbols(proc.image.host_path, proc.load.load_bias)
        self._reinstall_points()

    def require(self) -> Process:
        if self.proc is None or self.exited is not None:
            raise DebugError("The program is not being run.")
        return self.proc

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.exited is None

    @property
    def arch(self) -> Arch:
        assert self.proc is not None
        return self.proc.arch

    @property
    def word(self) -> int:
        return self.arch.word

    def kill(self) -> None:
        proc = self.proc
        if proc is None:
            return
        for p in self.points.values():
            self._unhook_watch(p)
            p.cbp = None
        self.proc = None
        self.exited = None
        self._pending = None
        self._held_fault = None

    # --- points -----------------------------------------------------------------------------
    def _number(self) -> int:
        n = self._next_number
        self._next_number += 1
        return n

    def resolve(self, spec: str) -> int:
        """An address from `*0x401000`, `0x401000`, `main`, `main+4`."""
        from emulator.expr import evaluate
        text = spec.strip()
        if text.startswith("*"):
            text = text[1:]
        return evaluate(text, self)

    def add_breakpoint(self, spec: str, temporary: bool = False) -> Point:
        addr = self.resolve(spec)
        p = Point(self._number(), "breakpoint", spec=spec, addr=addr, temporary=temporary)
        self.points[p.number] = p
        if self.alive:
            self._install_breakpoint(p)
        return p

    def _install_breakpoint(self, p: Point) -> None:
        proc = self.require()
        p.cbp = proc.control.add_breakpoint(p.addr, p.temporary)   # drops stale blocks
        p.cbp.enabled = p.enabled

    def add_watchpoint(self, addr: int, length: int, access: str, spec: str = "") -> Point:
        if length <= 0 or length > PAGE_SIZE:
            raise DebugError("Watchpoint length must be between 1 and 4096 bytes.")
        if addr + length > self.require().mm.layout.task_size:
            raise DebugError(f"Cannot watch constant value or kernel address {addr:#x}.")
        p = Point(self._number(), "watchpoint", spec=spec or f"*{addr:#x}", addr=addr,
                  length=length, access=access)
        p.old_value = self.read_memory_or_empty(addr, length)
        self.points[p.number] = p
        self._arm_watches()
        return p

    def _add_catch(self, kind: str, spec: str, **what: Any) -> Point:
        p = Point(self._number(), kind, spec=spec, **what)
        self.points[p.number] = p
        self.sync_catches()
        return p

    def add_catch_syscall(self, numbers: Optional[Set[int]], spec: str) -> Point:
        return self._add_catch("catch-syscall", spec, syscalls=numbers)

    def add_catch_fault(self, start: int, end: int, accesses: Set[int], spec: str) -> Point:
        return self._add_catch("catch-fault", spec, fault=FaultCatch(start, end, set(accesses)))

    def add_catch_signal(self, signals: Optional[Set[int]], spec: str) -> Point:
        return self._add_catch("catch-signal", spec, signals=signals)

    def delete(self, number: int) -> None:
        p = self.points.pop(number, None)
        if p is None:
            raise DebugError(f"No breakpoint number {number}.")
        self._remove(p)

    def delete_all(self) -> None:
        for n in list(self.points):
            self.delete(n)

    def _remove(self, p: Point) -> None:
        if p.cbp is not None and self.proc is not None:
            self.proc.control.delete(p.cbp.number)
            p.cbp = None
        if p.kind == "watchpoint":
            self._unhook_watch(p)
            self._arm_watches()
        self.sync_catches()

    def set_enabled(self, number: int, enabled: bool) -> None:
        p = self.points.get(number)
        if p is None:
            raise DebugError(f"No breakpoint number {number}.")
        p.enabled = enabled
        if p.cbp is not None:
            p.cbp.enabled = enabled
        if p.kind == "watchpoint":
            if enabled:
                p.old_value = self.read_memory_or_empty(p.addr, p.length)
            self._arm_watches()
        self.sync_catches()

    def _reinstall_points(self) -> None:
        """After exec or a restart: breakpoints are resolved again in the new image;
        watchpoints start over from the current values."""
        self._anchors = {}
        for p in list(self.points.values()):
            p.cbp = None
            p.hooks = {}
            p.armed = {}
            if p.kind == "breakpoint":
                try:
                    p.addr = self.resolve(p.spec)
                except DebugError:
                    log.debug("breakpoint %d (%s) does not resolve in the new image",
                              p.number, p.spec)
                    continue
                self._install_breakpoint(p)
            elif p.kind == "watchpoint":
                p.old_value = self.read_memory_or_empty(p.addr, p.length)
        self._arm_watches()
        self.sync_catches()

    def sync_catches(self) -> None:
        """Control's catch state is the union of the enabled catchpoints."""
        if self.proc is None:
            return
        control = self.proc.control
        syscalls: Optional[Set[int]] = None
        signals: Set[int] = set(self.default_signal_stops)
        faults: List[FaultCatch] = []
        for p in self.points.values():
            if not p.enabled:
                continue
            if p.kind == "catch-syscall":
                if p.syscalls is None:
                    syscalls = set()            # every syscall
                elif syscalls is None:
                    syscalls = set(p.syscalls)
                elif syscalls:
                    syscalls |= p.syscalls
            elif p.kind == "catch-signal":
                signals |= p.signals if p.signals is not None else \
                    set(range(1, 65)) - {Signal.SIGTRAP, Signal.SIGINT}
            elif p.kind == "catch-fault" and p.fault is not None:
                faults.append(p.fault)
        control.catch_syscalls = syscalls
        control.catch_signals = signals if signals else None
        control.catch_faults = faults
        control.refresh()

    # --- watchpoints: physical hooks --------------------------------------------------------
    # With Unicorn's virtual TLB a memory hook sees the *physical* address, so each watched
    # range is hooked on the frame behind it and hooked again whenever the MMU changes that
    # frame (first touch, copy-on-write, a syscall's fault): the fault listener does it at
    # once, before the access that faulted completes. Unicorn instruments loads and stores only
    # in blocks translated while some memory hook exists, so an "anchor" hook on an address no
    # frame has stays installed while there are watchpoints; later hooks then need no flush.
    def _watches(self) -> List[Point]:
        return [p for p in self.points.values() if p.kind == "watchpoint" and p.enabled]

    def _watch_pages(self, p: Point) -> List[Tuple[int, int, int]]:
        """(page vaddr, offset in page, length) of each page p's range touches."""
        out = []
        a, end = p.addr, p.addr + p.length
        while a < end:
            page = page_down(a)
            n = min(end, page + PAGE_SIZE) - a
            out.append((page, a - page, n))
            a += n
        return out

    def _unhook_watch(self, p: Point) -> None:
        if self.proc is not None:
            for h in p.hooks.values():
                self.proc.machine.uc.hook_del(h)
        p.hooks = {}
        p.armed = {}

    def _sync_anchors(self) -> None:
        proc = self.proc
        if proc is None:
            return
        want = 0
        for p in self._watches():
            want |= _HOOK_FOR_ACCESS[p.access]
        uc = proc.machine.uc
        changed = False
        for kind in (UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE):
            if want & kind and kind not in self._anchors:
                self._anchors[kind] = uc.hook_add(kind, _ignore_access, None, _NO_FRAME, _NO_FRAME)
                changed = True
            elif not want & kind and kind in self._anchors:
                uc.hook_del(self._anchors.pop(kind))
                changed = True
        if changed:
            flush_translations(proc)

    def _arm_watches(self) -> None:
        """Hook every enabled watched range on the frame that backs it now."""
        if self.proc is None:
            return
        self._sync_anchors()
        for p in self.points.values():
            if p.kind == "watchpoint":
                for page, _, _ in self._watch_pages(p):
                    self._arm_page(p, page)

    def _arm_page(self, p: Point, page: int) -> None:
        proc = self.proc
        assert proc is not None
        pte = proc.mm.pt.get(page >> PAGE_SHIFT) if p.enabled else None
        paddr = pte.paddr if pte is not None else None
        if p.armed.get(page) == paddr and (paddr is None or page in p.hooks):
            return
        old = p.hooks.pop(page, None)
        if old is not None:
            proc.machine.uc.hook_del(old)
        p.armed.pop(page, None)
        if paddr is None:
            return
        off, n = next((o, k) for pg, o, k in self._watch_pages(p) if pg == page)
        base = paddr + off
        p.hooks[page] = proc.machine.uc.hook_add(_HOOK_FOR_ACCESS[p.access],
                                                 self._watch_callback(p, page), None,
                                                 base, base + n - 1)
        p.armed[page] = paddr

    def _watch_callback(self, p: Point, page: int) -> Callable[..., None]:
        def hit(uc: Any, access: int, address: int, size: int, value: int, data: Any) -> None:
            if not p.enabled or self.proc is None:
                return
            pte = self.proc.mm.pt.get(page >> PAGE_SHIFT)
            if pte is None or pte.paddr != p.armed.get(page):
                return                  # a stale hook on a frame now used elsewhere
            self._record_hit(p, access, address, size, page + (address - pte.paddr))
        return hit

    def _record_hit(self, p: Point, access: int, paddr: int, size: int, vaddr: int) -> None:
        if self.proc is None:
            return
        if self._watch_suspended:
            # The instruction is being run again after the stop: note what else it touches.
            self._redo_hits.append(WatchHit(p, max(vaddr, p.addr), paddr, access, b""))
            return
        if self._watch_hit is not None:
            return
        old = self.proc.mm.frames.phys.read(paddr, size) if access == _UC_MEM_WRITE else b""
        self._watch_hit = WatchHit(p, max(vaddr, p.addr), paddr, access, old)
        self.proc.cpu.request_stop(Stop(StopReason.WATCHPOINT))

    def _finish_watch_hit(self) -> Tuple[Optional[Stop], List[WatchHit]]:
        """A hook that stops the CPU leaves the access done but the instruction not retired
        (Unicorn restores the pc, as for a fault): undo the store, then run the instruction
        once more with the watchpoints quiet, so it takes effect exactly once. Returns a stop
        that ended that step early (kept for the next resume) and every hit of the
        instruction."""
        hit, self._watch_hit = self._watch_hit, None
        proc = self.require()
        if hit is None:
            return None, []
        if hit.access == _UC_MEM_WRITE:
            proc.mm.frames.phys.write(hit.paddr, hit.old_bytes)
        self._watch_suspended = True
        self._redo_hits = []
        try:
            after = self._step_one()
        finally:
            self._watch_suspended = False
        hits = [hit] + [h for h in self._redo_hits if h.point is not hit.point]
        self._redo_hits = []
        if after.reason not in (StopReason.STEP, StopReason.WATCHPOINT):
            return after, hits
        return None, hits

    def _triggered(self, hits: List[WatchHit]) -> List[Tuple[WatchHit, bytes, bytes]]:
        """The hits gdb would report: reads always, writes only when the value changed."""
        out = []
        seen: Set[int] = set()
        for h in hits:
            p = h.point
            if p.number in seen:
                continue
            seen.add(p.number)
            new = self.read_memory_or_empty(p.addr, p.length)
            old = p.old_value
            p.old_value = new
            if p.access == "write" and new == old:
                continue
            if p.access == "access" and h.access == _UC_MEM_WRITE and new == old:
                continue
            p.hits += 1
            out.append((h, old, new))
        return out

    # --- the fault listener ------------------------------------------------------------------
    def _on_fault_event(self, ev: FaultEvent) -> None:
        self._events.append(ev)
        held = self._held_running
        if held is not None and page_down(ev.addr) == held.page:
            text = describe_event(ev, held.stack_growth, held.addr)
            self._did.append(text)
            if ev.kind not in ("segv", "sigbus"):
                self._held_running = None
            if self.on_did is not None:
                self.on_did(text)
        if self.proc is None:
            return
        page = page_down(ev.addr)
        for p in self._watches():
            if any(pg == page for pg, _, _ in self._watch_pages(p)):
                self._arm_page(p, page)

    # --- signals ----------------------------------------------------------------------------
    def set_signal_stops(self, signals: Set[int]) -> None:
        """Which signals stop the guest before delivery when no catchpoint asks."""
        self.default_signal_stops = set(signals)
        self.sync_catches()

    def discard_signal(self, signo: int) -> None:
        """Resume without the signal the guest stopped for (ptrace's "continue with 0"); a
        fault's signal comes back when the instruction faults again."""
        proc = self.require()
        if proc.signals.pending.get(signo):
            proc.signals.dequeue(signo)
        if proc.term_fault is not None and proc.term_fault.signo == signo:
            proc.term_fault = None
        # Process remembers the signal it stopped for, so that resuming delivers it; with
        # that one gone, the next signal must stop again.
        proc._signal_stop_done = 0

    def send_signal(self, signo: int) -> None:
        """Queue signo for the guest, as kill(2) from outside would."""
        from emulator.signals import SigInfo
        proc = self.require()
        proc.signals.queue(SigInfo(signo, 0, pid=os.getpid(), uid=os.getuid()))

    # --- running ----------------------------------------------------------------------------
    def interrupt(self) -> None:
        """From a signal handler or another thread: stop the guest soon."""
        if self.proc is not None:
            self._interrupted = True
            self.proc.cpu.request_stop(Stop(StopReason.REQUESTED))

    def cont(self) -> Event:
        return self._resume(0)

    def step(self, count: int = 1) -> Event:
        return self._resume(max(count, 1))

    def run_until(self, addrs: Sequence[int], sp_above: Optional[int] = None) -> Event:
        """Continue until one of addrs (internal temporary breakpoints; with sp_above, only
        when the stack pointer is above that value: a frame has returned)."""
        proc = self.require()
        cond: Optional[Callable[[Process], Any]] = None
        if sp_above is not None:
            limit = sp_above

            def cond(pr: Process) -> Any:
                return None if pr.machine.sp > limit else False
        bps = [proc.control.add_breakpoint(a, False, cond) for a in addrs]
        flush_translations(proc)
        try:
            ev = self._resume(0)
        finally:
            if self.proc is proc and self.exited is None:
                for bp in bps:
                    proc.control.delete(bp.number)
        return ev

    def _resume(self, count: int) -> Event:
        """Continue (count 0) or execute `count` instructions; internal stops (watch hooks,
        exec) are handled here so that both front ends see the same stops."""
        proc = self.require()
        ev = Event(Stop(StopReason.STEP))
        self._events = []
        held, self._held_fault = self._held_fault, None
        self._held_running, self._did = held, []
        self._interrupted = False
        self.started = True
        remaining = count
        self._arm_watches()
        while True:
            if self._pending is not None:
                stop, self._pending = self._pending, None
            elif count:
                stop = self._step_one()
            else:
                self._stepping = False
                stop = proc.control.run()
            if proc.exec_pending is not None:
                self._do_exec(ev)
                proc = self.require()
                if count:
                    remaining -= 1
                    if remaining <= 0:
                        stop = Stop(StopReason.STEP, proc.machine.pc)
                        break
                continue
            if stop.reason is StopReason.WATCHPOINT and self._watch_hit is not None:
                extra, hits = self._finish_watch_hit()
                triggered = self._triggered(hits)
                if not triggered:
                    # A store of the value already there: gdb does not report it either.
                    if extra is not None:
                        stop = extra
                        break
                    if count:
                        remaining -= 1
                        if remaining <= 0:
                            stop = Stop(StopReason.STEP, proc.machine.pc)
                            break
                    continue
                ev.watches = triggered
                ev.watch, ev.old_value, ev.new_value = triggered[0]
                ev.point = ev.watch.point
                stop = Stop(StopReason.WATCHPOINT, proc.machine.pc)
                self._pending = extra
                break
            if stop.reason is StopReason.FAULT and stop.fault is not None:
                user = self._user_fault_point(stop.fault.addr, stop.fault.access)
                if user is None:
                    continue          # a catch that went away; the retry is let through
                user.hits += 1
                ev.point = user
                ev.fault = self._fault_report(stop)
                self._held_fault = ev.fault
                break
            if stop.reason is StopReason.STEP and count:
                remaining -= 1
                if remaining > 0:
                    continue
            break
        ev.stop = stop
        ev.mmu = list(self._events)
        ev.did = list(self._did)
        self._held_running = None
        if self._interrupted and stop.reason is StopReason.REQUESTED:
            ev.interrupted = True
        self._classify(ev)
        self.last_event = ev
        return ev

    def _step_one(self) -> Stop:
        """Control.step(1). Unicorn drops its instruction-count hook when it runs without a
        count, and blocks translated then have no per-instruction count check: the first step
        after a continue would run to the end of a chain of such blocks. Retranslate."""
        proc = self.require()
        if not self._stepping:
            flush_translations(proc)
            self._stepping = True
        return proc.control.step(1)

    def _user_fault_point(self, addr: int, access: int) -> Optional[Point]:
        for p in self.points.values():
            if p.kind == "catch-fault" and p.enabled and p.fault is not None \
                    and p.fault.matches(addr, access):
                return p
        return None

    def _classify(self, ev: Event) -> None:
        """Which user point the stop belongs to; end-of-life bookkeeping."""
        stop = ev.stop
        if stop.reason in (StopReason.EXITED, StopReason.SIGNALED):
            self.exited = stop
            if self.proc is not None:
                for p in self.points.values():
                    self._unhook_watch(p)
                    p.cbp = None
            return
        if stop.reason is StopReason.BREAKPOINT and stop.breakpoint is not None:
            for p in list(self.points.values()):
                if p.cbp is stop.breakpoint:
                    p.hits = stop.breakpoint.hits
                    ev.point = p
                    if p.temporary:
                        del self.points[p.number]
                    break
        elif stop.reason in (StopReason.SYSCALL_ENTRY, StopReason.SYSCALL_EXIT) \
                and stop.syscall is not None:
            for p in self.points.values():
                if p.kind == "catch-syscall" and p.enabled and \
                        (p.syscalls is None or stop.syscall.nr in p.syscalls):
                    if stop.reason is StopReason.SYSCALL_ENTRY:
                        p.hits += 1
                    ev.point = p
                    break
        elif stop.reason is StopReason.SIGNAL:
            for p in self.points.values():
                if p.kind == "catch-signal" and p.enabled and \
                        (p.signals is None or stop.signo in p.signals):
                    p.hits += 1
                    ev.point = p
                    break

    def _do_exec(self, ev: Event) -> None:
        proc = self.require()
        for p in self.points.values():
            self._unhook_watch(p)
        proc.finish_exec()
        ev.execs.append(proc.exe_path)
        self._after_new_image()

    def _fault_report(self, stop: Stop) -> FaultReport:
        proc = self.require()
        assert stop.fault is not None
        mm = proc.mm
        access = stop.fault.access
        page = page_down(stop.fault.addr)
        addr = stop.fault.addr
        pc = proc.machine.pc
        if access == ACCESS_FETCH:
            addr = pc if page_down(pc) == page else page
        else:
            addr = self._operand_address(pc, page)
        vma = mm.vmas.find(addr)
        above = mm.vmas.find_vma(addr) if vma is None else None
        growth = above is not None and bool(above.flags & VM.GROWSDOWN)
        return FaultReport(addr, page, access, pc, vma_brief(mm, vma), page_state(mm, addr),
                           predict_fault(mm, addr, access), growth)

    def exact_address(self, addr: int, access: int) -> int:
        """The address an access of the instruction at pc made in addr's page (the MMU only
        learns the page); addr itself when it cannot be pinned down."""
        pc = self.require().machine.pc
        page = page_down(addr)
        if access == ACCESS_FETCH:
            return pc if page_down(pc) == page else addr
        exact = self._operand_address(pc, page)
        return exact if page_down(exact) == page else addr

    def _operand_address(self, pc: int, page: int) -> int:
        from emulator.decode import fault_address
        code = self.read_memory_or_empty(pc, 16)
        if not code:
            return page
        try:
            return fault_address(self.require().machine, self.arch, code, pc, page)
        except Exception:                 # decoding is best effort
            return page

    # --- memory -----------------------------------------------------------------------------
    def read_memory(self, addr: int, size: int, partial: bool = False) -> bytes:
        """What the guest would read, without faulting anything in: present pages from their
        frames, pages not present from what a fault would bring (file bytes or zeros)."""
        proc = self.require()
        mm = proc.mm
        if addr < 0 or addr >= mm.layout.task_size:
            raise DebugError(f"Cannot access memory at address {addr:#x}")
        size = min(size, mm.layout.task_size - addr)
        data, missing = peek(mm, addr, size)
        if not missing:
            return data
        buf = bytearray(data)
        for page in missing:
            vma = mm.vmas.find(page)
            if vma is None or not vma.accessible:
                bad = max(page, addr)
                if bad == addr or not partial:
                    raise DebugError(f"Cannot access memory at address {bad:#x}")
                return bytes(buf[:bad - addr])
            fill = backing_bytes(vma, page)
            lo = max(page, addr)
            hi = min(page + PAGE_SIZE, addr + size)
            buf[lo - addr:hi - addr] = fill[lo - page:hi - page]
        return bytes(buf)

    def absent_pages(self, addr: int, size: int) -> List[int]:
        """Pages of [addr, addr+size) inside a VMA but not present (read_memory showed what a
        fault would bring in)."""
        proc = self.require()
        _, missing = peek(proc.mm, addr, max(size, 1))
        return [p for p in missing if proc.mm.vmas.find(p) is not None]

    def read_memory_or_empty(self, addr: int, size: int) -> bytes:
        try:
            return self.read_memory(addr, size, partial=True)
        except DebugError:
            return b""

    def write_memory(self, addr: int, data: bytes) -> None:
        """A debugger write: faults the page in for writing (copy-on-write) as ptrace's does."""
        proc = self.require()
        mm = proc.mm
        outer = mm.origin
        mm.origin = "debugger"
        try:
            copy_to_user(mm, addr, data)
        except SyscallError:
            raise DebugError(f"Cannot access memory at address {addr:#x}") from None
        finally:
            mm.origin = outer
        mm.flush_tlb()
        flush_translations(proc)
        self._arm_watches()

    def read_word(self, addr: int, size: Optional[int] = None) -> int:
        n = size or self.word
        return int.from_bytes(self.read_memory(addr, n), "little")

    # --- registers --------------------------------------------------------------------------
    def reg(self, name: str) -> int:
        from emulator.registers import read_register
        return read_register(self.require(), name)

    def set_reg(self, name: str, value: int) -> None:
        from emulator.registers import write_register
        write_register(self.require(), name, value)
        flush_translations(self.require())

    # --- words for the front ends -----------------------------------------------------------
    def symbolize(self, addr: int) -> str:
        """`<main+4>` or ''."""
        if self.symbols is None:
            return ""
        found = self.symbols.lookup(addr)
        if found is None:
            return ""
        name, off = found
        return f"<{name}+{off}>" if off else f"<{name}>"

    def function_name(self, addr: int) -> str:
        if self.symbols is None:
            return "??"
        sym = self.symbols.containing(addr)
        return sym.name if sym is not None else "??"

    def frame_line(self, pc: int) -> str:
        width = 16 if self.arch is Arch.X86_64 else 8
        return f"0x{pc:0{width}x} in {self.function_name(pc)} ()"


def backing_bytes(vma: VMA, page: int) -> bytes:
    """The 4 KB a fault at `page` would bring in (file bytes, the bss tail, or zeros)."""
    if vma.file is None:
        return bytes(PAGE_SIZE)
    offset = vma.file_offset(page)
    keep = PAGE_SIZE
    if vma.file_end is not None:
        keep = max(0, min(PAGE_SIZE, vma.file_end - offset))
    try:
        data = os.pread(vma.file.fd, keep, offset) if keep else b""
    except OSError:
        data = b""
    return data + bytes(PAGE_SIZE - len(data))


def flush_translations(proc: Process) -> None:
    """Unicorn decides at translation time which instructions call code and memory hooks: a
    hook added after a block was translated is not seen until the block is translated again."""
    proc.machine.flush_all_code()


def start_or_report(inferior: "Inferior", argv: Sequence[str]) -> Optional[int]:
    """Load the program; on failure print pyexec's one-line error and return the exit status."""
    try:
        inferior.start()
    except ExecError as exc:
        sys.stderr.write(f"pyexec: {exc}\n")
        return exc.status
    except PyexecError as exc:
        sys.stderr.write(f"pyexec: internal error while loading {argv[0]}: {exc}\n")
        return 70
    return None
