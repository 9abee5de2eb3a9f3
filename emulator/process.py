"""One guest process: a Machine (Unicorn + arch), an mm, files, and signal state.

Creation follows Linux's three steps: a new empty address space; the ELF's VMAs (no page read);
registers set and a jump to the entry point (start_thread).
"""
from __future__ import annotations

import logging
import os
import signal as host_signal
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, TextIO

from emulator.errors import GuestFault, PyexecError, SyscallError
from emulator.fdtable import FdTable
from emulator.machine import KERNEL_PAGES, POOL_SIZE, Machine
from emulator.signals import (SIG_DFL, SIG_IGN, SA_NODEFER, SA_RESETHAND, SA_RESTART,
                              UNBLOCKABLE, AltStack, Default, SigAction, SigInfo, SignalDelivery,
                              SignalState, default_action, fault_siginfo, sigbit)
from emulator.signum import SI_KERNEL, Signal
from loader.elf import Arch, ElfImage, LoadResult, load_elf_binary, read_elf
from loader.stack import Credentials, InitialStack, setup_stack
from mmu.constants import PAGE_SHIFT, PAGE_SIZE, UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE
from mmu.fault import FaultEvent
from mmu.mm import MM
from mmu.pagetable import PTE, PageKind
from syscalls.dispatch import Dispatcher

if TYPE_CHECKING:
    from emulator.api import Memory, Registers, Result, Symbols, SyscallCall
    from emulator.control import Breakpoint, Stop, SyscallEvent
    from emulator.snapshot import Snapshot
    from syscalls.exec import ExecRequest

log = logging.getLogger("pyexec.process")


@dataclass
class Options:
    """What the CLI (or an API user) may ask of a run."""
    trace_faults: Optional[TextIO] = None
    random_seed: Optional[int] = None
    # Called with the process after each new address space and CPU (spawn, execve): tools
    # that hook the Machine or Control (--strace, --stats' instruction count, --trace...).
    attach: List[Callable[["Process"], None]] = field(default_factory=list)


class Process:
    def __init__(self, image: ElfImage, argv: Sequence[bytes], envp: Sequence[bytes],
                 options: Optional[Options] = None) -> None:
        self.options = options or Options()
        self.image = image
        self.arch: Arch = image.arch
        self.argv = list(argv)
        self.envp = list(envp)
        self.exe_path = image.path
        self.pid = os.getpid()
        self.ppid = os.getppid()
        self.exit_status: Optional[int] = None
        self.term_signal: Optional[int] = None
        self.term_fault: Optional[GuestFault] = None
        self.signals = SignalState()
        self._inherit_signal_state()
        self.saved_sigmask: Optional[int] = None    # rt_sigsuspend's mask to restore
        self.pending_regs: Optional[Dict[str, int]] = None   # set by sigreturn
        self.restart: Optional[tuple[int, int]] = None      # (nr, -ERESTART*) of the last syscall
        self.in_blocking_syscall = False
        self._signal_stop_done = 0
        self._symbols: Optional["Symbols"] = None
        self._capture: Optional[tuple[int, int]] = None
        self.clear_child_tid = 0
        self.fds = FdTable.inherit_std()
        self.rlimits: Dict[int, tuple[int, int]] = {}
        self.tls_entries: set[int] = set()
        self.personality = 0
        self._gdt_paddr = 0
        self._rng = None if self.options.random_seed is None else \
            __import__("random").Random(self.options.random_seed)
        self.load: Optional[LoadResult] = None
        self.stack: Optional[InitialStack] = None
        self.comm = os.fsencode(os.path.basename(image.path))[:15]   # prctl PR_GET_NAME
        self.exec_pending: Optional["ExecRequest"] = None   # set by execve, run() finishes it
        self.vfork_done: Optional[int] = None   # a vfork child's pipe end: closed at exec/exit
        self.forked_child = False               # set in a fork's child: run() ends the host process
        from emulator.hostsig import HostSignals
        self.host_signals = HostSignals(self)
        self.machine: Machine       # both set by _new_address_space (again at each execve)
        self.mm: MM
        self._new_address_space()

    def _new_address_space(self) -> None:
        """Step 1: a new, empty address space on a new CPU."""
        self.machine = Machine(self.arch)
        self.mm = MM(self.machine.phys, self.arch.layout, PAGE_SIZE, POOL_SIZE)
        self.mm.flush_tlb = self.machine.flush_tlb
        self._kernel_pages: Dict[int, PTE] = {}
        if self.options.trace_faults is not None:
            out = self.options.trace_faults
            self.mm.listeners.append(lambda ev: print(ev.describe(), file=out, flush=True))
        from syscalls.table import table_for
        self.dispatcher = Dispatcher(table_for(self.arch), self.arch.value)
        from emulator.cpu import Cpu
        self.cpu = Cpu(self)
        from emulator.control import Control
        self.control = Control(self)
        self.delivery = SignalDelivery(self)
        for attach in self.options.attach:
            attach(self)

    # --- creation ------------------------------------------------------------------------
    @classmethod
    def spawn(cls, path: str, argv: Optional[Sequence[str]] = None,
              env: Optional[Dict[str, str]] = None, options: Optional[Options] = None,
              stdin: Optional[bytes] = None, capture: bool = False) -> "Process":
        """Validate and load `path` as execve would; the process is ready to run().

        argv defaults to [path]; env to pyexec's own environment. With capture=True the
        guest's stdout/stderr go to Result.stdout/stderr; stdin=bytes feeds its stdin.
        """
        image = read_elf(path)
        if env is None:
            envp = inherited_environment()
        else:
            envp = [f"{k}={v}".encode() for k, v in env.items()]
        proc = cls(image, [os.fsencode(a) for a in (argv if argv is not None else [path])],
                   envp, options)
        if capture or stdin is not None:
            proc.capture_output(stdin)
        proc.exec_image()
        return proc

    def exec_image(self) -> None:
        """Steps 2 and 3: map the image, build the stack, set the registers (start_thread)."""
        image = self.image
        self.mm.origin = "execve"
        self.load = load_elf_binary(self.mm, image)
        self.mm.reserve_vdso_area()
        creds = Credentials(os.getuid(), os.geteuid(), os.getgid(), os.getegid())
        self.stack = setup_stack(self.mm, image, self.load, self.argv, self.envp,
                                 os.fsencode(self.exe_path), self.random_bytes(16),
                                 self._hwcap(), creds)
        self.mm.origin = "cpu"
        self.personality = 0x0400000 if image.read_implies_exec else 0   # READ_IMPLIES_EXEC
        # Step 3: start_thread, entered through an iret to ring 3.
        gdt_vaddr, stub_vaddr = KERNEL_PAGES[self.arch]
        rw = UC_PROT_READ | UC_PROT_WRITE
        self._gdt_paddr = self.mm.frames.alloc()
        stub_paddr = self.mm.frames.alloc()
        self._kernel_pages = {
            gdt_vaddr >> PAGE_SHIFT: PTE(self._gdt_paddr, rw, False, PageKind.ANON),
            stub_vaddr >> PAGE_SHIFT: PTE(stub_paddr, rw | UC_PROT_EXEC, False, PageKind.ANON),
        }
        self.machine.enter_user_mode(self._gdt_paddr, stub_paddr, self.load.entry,
                                     self.stack.sp)

    def _inherit_signal_state(self) -> None:
        """Like execve: ignored signals stay ignored, the blocked mask is kept (from the host
        process pyexec was started as)."""
        from emulator.hostsig import FORWARDABLE
        for sig in FORWARDABLE:
            if sig != host_signal.SIGPIPE and host_signal.getsignal(sig) == host_signal.SIG_IGN:
                self.signals.actions[sig] = SigAction(SIG_IGN)
        for blocked in host_signal.pthread_sigmask(host_signal.SIG_BLOCK, []):
            self.signals.blocked |= sigbit(int(blocked))
        self.signals.blocked &= ~UNBLOCKABLE

    def random_bytes(self, n: int) -> bytes:
        """AT_RANDOM, getrandom: from the host, or from --seed for repeatable runs."""
        if self._rng is not None:
            return self._rng.randbytes(n)
        return os.urandom(n)

    def write_gdt(self, index: int, descriptor: int) -> None:
        self.machine.phys.write(self._gdt_paddr + 8 * index, descriptor.to_bytes(8, "little"))

    def _hwcap(self) -> int:
        # CPUID.1:EDX of Unicorn's default CPU model (qemu64), as AT_HWCAP reports it.
        return 0x078BFBFD if self.arch is Arch.X86_64 else 0x078BFBFD

    def kernel_page(self, vaddr: int) -> Optional[PTE]:
        """Pages above TASK_SIZE that only the CPU itself uses (GDT, ring-3 entry stub)."""
        if vaddr < self.mm.layout.task_size:
            return None
        return self._kernel_pages.get(vaddr >> PAGE_SHIFT)

    # --- running -----------------------------------------------------------------------
    def run(self, max_instructions: int = 0) -> "Result":
        """Run until the guest exits or dies (through any execve), or until a breakpoint,
        catchpoint or `max_instructions` stops it; Result.stop says which."""
        from emulator.control import StopReason
        while True:
            stop = self.control.run(max_instructions)
            if self.exec_pending is not None:
                self.finish_exec()
                continue
            if stop.reason is StopReason.REQUESTED and self.exit_status is None \
                    and self.term_signal is None:
                continue
            if self.forked_child and (self.exit_status is not None or
                                      self.term_signal is not None):
                self._exit_forked_child()
            return self.result(stop)

    def _exit_forked_child(self) -> None:
        """A guest child (fork in syscalls/process.py kernel_clone) ends its host process with
        its exit status or signal, never returning into whatever started the first guest."""
        sys.stdout.flush()
        sys.stderr.flush()
        if self.term_signal is not None:
            from emulator.cli import die_by_signal
            die_by_signal(self.term_signal)
        os._exit(self.exit_status or 0)

    # --- the Python API: views and hooks (emulator/api.py), snapshots (emulator/snapshot.py) --
    @property
    def regs(self) -> "Registers":
        from emulator.api import Registers
        return Registers(self)

    @property
    def mem(self) -> "Memory":
        from emulator.api import Memory
        return Memory(self)

    @property
    def symbols(self) -> "Symbols":
        if self._symbols is None or self._symbols._proc is not self:
            from emulator.api import Symbols
            self._symbols = Symbols(self)
        return self._symbols

    def maps(self) -> str:
        """The guest's /proc/self/maps."""
        from mmu.maps import render_maps
        return render_maps(self.mm)

    def _guarded(self, fn: Callable[..., Any], what: str) -> Callable[..., Any]:
        """User callbacks: an exception stops the run as a HookError naming the guest pc."""
        def call(*args: Any) -> Any:
            try:
                return fn(*args)
            except Exception as exc:
                from emulator.api import HookError
                raise HookError(f"{what} callback {getattr(fn, '__qualname__', fn)!s} raised "
                                f"{type(exc).__name__}: {exc} (guest pc {self.machine.pc:#x})"
                                ) from exc
        return call

    def on_syscall(self, which: "str | int | None" = None, *, on_exit: bool = False
                   ) -> Callable[[Callable[["SyscallCall"], Any]], Callable[["SyscallCall"], Any]]:
        """Decorator: call fn(call) at every syscall (or the one named / numbered) entry, or
        at its return with on_exit=True. At entry fn may change call.args or call.skip(res)."""
        def register(fn: Callable[["SyscallCall"], Any]) -> Callable[["SyscallCall"], Any]:
            from emulator.api import SyscallCall
            guarded = self._guarded(fn, "on_syscall")

            def listener(ev: "SyscallEvent") -> None:
                if which is None or which == ev.name or which == ev.nr:
                    guarded(SyscallCall(ev, self))
            lst = (self.control.syscall_exit_listeners if on_exit
                   else self.control.syscall_entry_listeners)
            lst.append(listener)
            self.control.refresh()
            return fn
        return register

    def on_fault(self, fn: Callable[[FaultEvent], Any]) -> Callable[[FaultEvent], Any]:
        """Decorator: call fn(event) for every page fault the MMU handles (mmu.fault.FaultEvent)."""
        self.mm.listeners.append(self._guarded(fn, "on_fault"))
        return fn

    def breakpoint(self, where: "int | str", callback: Optional[Callable[["Process"], Any]] = None,
                   temporary: bool = False) -> "Breakpoint":
        """Stop run() at an address or symbol; with a callback, call it there instead and keep
        going unless it returns True."""
        addr = self.symbols.resolve(where)
        cb = None
        if callback is not None:
            guarded = self._guarded(callback, "breakpoint")
            cb = (lambda p: True if guarded(p) is True else False)
        return self.control.add_breakpoint(addr, temporary, cb)

    def snapshot(self) -> "Snapshot":
        """CPU context + copy-on-write memory view; cheap (no page is copied now)."""
        from emulator import snapshot
        return snapshot.take(self)

    def restore(self, snap: "Snapshot") -> None:
        from emulator import snapshot
        snapshot.restore(self, snap)

    def step(self, count: int = 1) -> "Stop":
        return self.control.step(count)

    def result(self, stop: "Stop") -> "Result":
        from emulator.api import Result
        res = Result(stop, self.exit_status, self.term_signal, stats=self.stats())
        if self._capture is not None:
            res.stdout = _memfd_contents(self._capture[0])
            res.stderr = _memfd_contents(self._capture[1])
        return res

    def stats(self) -> Dict[str, Any]:
        mm = self.mm
        out: Dict[str, Any] = {"syscalls": self.dispatcher.count,
                               "page_faults": mm.stats.total}
        out.update({f"page_faults_{k}": v for k, v in mm.stats.as_dict().items()})
        out.update({"page_cache_pages": len(mm.pagecache), "resident_pages": mm.rss,
                    "peak_rss_kb": mm.peak_rss * 4})
        return out

    def capture_output(self, stdin: Optional[bytes]) -> None:
        """Guest fds 0/1/2 become in-memory files (spawn's stdin= and capture=)."""
        from emulator.fdtable import OpenFile
        if stdin is not None:
            fd = os.memfd_create("pyexec-stdin", os.MFD_CLOEXEC)
            os.write(fd, stdin)
            os.lseek(fd, 0, os.SEEK_SET)
            self.fds.install_at(0, OpenFile(fd, "<stdin>"))
        out = os.memfd_create("pyexec-stdout", os.MFD_CLOEXEC)
        err = os.memfd_create("pyexec-stderr", os.MFD_CLOEXEC)
        self.fds.install_at(1, OpenFile(os.dup(out), "<stdout>"))
        self.fds.install_at(2, OpenFile(os.dup(err), "<stderr>"))
        self._capture = (out, err)

    def start_exec(self, request: "ExecRequest") -> None:
        """execve validated everything: stop this CPU; run() builds the new image."""
        self.exec_pending = request
        self.machine.stop()

    def finish_exec(self) -> None:
        """Compare Linux's begin_new_exec + load_elf_binary: a new address space and CPU (the
        architecture may change); pid, descriptors without FD_CLOEXEC, cwd, umask, rlimits,
        the signal mask and ignored signals stay; handled signals go back to SIG_DFL."""
        request, self.exec_pending = self.exec_pending, None
        assert request is not None
        self.image, self.arch = request.image, request.image.arch
        self.argv, self.envp = request.argv, request.envp
        self.exe_path = request.filename
        self.comm = os.fsencode(os.path.basename(request.filename))[:15]
        self.fds.close_on_exec()
        # Compare flush_signal_handlers: handled signals go back to SIG_DFL; no altstack.
        for sig, act in list(self.signals.actions.items()):
            if act.handler != SIG_IGN:
                self.signals.actions[sig] = SigAction()
                self.host_signals.sync_action(sig)
        self.signals.altstack = AltStack()
        self.tls_entries = set()
        self.clear_child_tid = 0
        # exit_mmap of the old image: shared pages reach their files, mapped files are closed.
        old_mm = self.mm
        files = {id(vma.file): vma.file for vma in old_mm.vmas if vma.file is not None}
        old_mm.munmap_range(0, old_mm.layout.task_size)
        for file in files.values():
            try:
                os.close(file.fd)
            except OSError:
                pass
        self._new_address_space()
        import gc
        gc.collect()     # the old Unicorn instance sits in a reference cycle with its hooks
        if self.vfork_done is not None:
            os.close(self.vfork_done)
            self.vfork_done = None
        try:
            self.exec_image()
        except PyexecError as exc:
            log.warning("exec %s failed past the point of no return: %s", self.exe_path, exc)
            self.term_signal = Signal.SIGSEGV

    def exit(self, status: int) -> None:
        self.exit_status = status & 0xFF
        self.machine.stop()

    def send_signal_self(self, signo: int, code: int = 0) -> None:
        """kill/tgkill/raise to itself, SIGPIPE: queue it; delivery happens at the next stop."""
        self.signals.queue(SigInfo(signo, code, pid=self.pid, uid=os.getuid()))
        self.machine.stop()

    def force_sig_fault(self, fault: GuestFault) -> None:
        """Compare Linux's force_sig_info: a fault's signal cannot be blocked or ignored —
        if it is, the handler is reset to SIG_DFL and the signal unblocked."""
        sig = fault.signo
        act = self.signals.action(sig)
        if self.signals.blocked & sigbit(sig) or act.handler == SIG_IGN:
            self.signals.actions[sig] = SigAction()
            self.signals.blocked &= ~sigbit(sig)
        if act.handler in (SIG_DFL, SIG_IGN):
            self.term_fault = fault
        self.signals.queue(fault_siginfo(fault))

    def terminate(self, signo: int) -> None:
        self.term_signal = signo
        self.machine.stop()

    # --- return to user mode: sigreturn, syscall restart, signal delivery -----------------
    def return_to_user(self) -> None:
        """Compare Linux's exit_to_user_mode_loop / arch_do_signal_or_restart."""
        if self.pending_regs is not None:
            self.delivery.set_regs(self.pending_regs)
            self.pending_regs = None
        restart, self.restart = self.restart, None
        while self.exit_status is None and self.term_signal is None:
            sig = self.signals.next_deliverable()
            if sig is None:
                break
            if self.control.wants_signal_stop(sig) and self._signal_stop_done != sig:
                # `catch signal`: stop before delivery; resuming delivers it.
                from emulator.control import Stop, StopReason
                self._signal_stop_done = sig
                self.cpu.request_stop(Stop(StopReason.SIGNAL, self.machine.pc, signo=sig))
                if restart is not None:
                    self.restart = restart
                return
            self._signal_stop_done = 0
            info = self.signals.dequeue(sig)
            for listener in self.control.signal_listeners:
                listener(info)
            act = self.signals.action(sig)
            if act.handler == SIG_IGN:
                continue
            if act.handler == SIG_DFL:
                what = default_action(sig)
                if what in (Default.IGNORE, Default.CONT):
                    continue
                if what is Default.STOP:
                    os.kill(os.getpid(), host_signal.SIGSTOP)   # the host job control sees it
                    continue
                self.term_signal = sig
                return
            if restart is not None:
                self._restart_syscall(restart, act)
                restart = None
            oldmask = self.saved_sigmask if self.saved_sigmask is not None else self.signals.blocked
            self.saved_sigmask = None
            try:
                self.delivery.setup_frame(sig, info, act, self.delivery.regs(), oldmask)
            except SyscallError:
                # Compare Linux's signal_setup_done failure: force_sigsegv.
                self.force_sig_fault(GuestFault(Signal.SIGSEGV, SI_KERNEL, 0,
                                                "cannot build the signal frame"))
                continue
            blocked = self.signals.blocked | act.mask
            if not act.flags & SA_NODEFER:
                blocked |= sigbit(sig)
            self.signals.blocked = blocked & ~UNBLOCKABLE
            if act.flags & SA_RESETHAND:
                self.signals.actions[sig] = SigAction()
        if restart is not None:
            self._restart_syscall(restart, None)
        if self.saved_sigmask is not None:
            self.signals.blocked = self.saved_sigmask
            self.saved_sigmask = None

    def _restart_syscall(self, restart: tuple[int, int], act: Optional[SigAction]) -> None:
        """Compare Linux's handle_signal/arch_do_signal_or_restart: -ERESTART* becomes -EINTR
        or re-executes the syscall instruction (both `syscall` and `int $0x80` are 2 bytes)."""
        from emulator.signals import ERESTARTNOHAND, ERESTARTNOINTR, ERESTARTSYS
        nr, ret = restart
        m = self.machine
        rax = m.regs["rax" if self.arch is Arch.X86_64 else "eax"]
        again = ret == -ERESTARTNOINTR or (act is None and ret in (-ERESTARTSYS, -ERESTARTNOHAND)) \
            or (act is not None and ret == -ERESTARTSYS and act.flags & SA_RESTART)
        if again:
            m.set_reg(rax, nr)
            m.pc = m.pc - 2
        else:
            m.set_reg(rax, -4)   # -EINTR


def _memfd_contents(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    return os.pread(fd, size, 0) if size else b""


def inherited_environment() -> List[bytes]:
    """The environment pyexec itself was started with, as execve passed it: Python's
    os.environ may hold variables the interpreter added (PEP 538's LC_CTYPE coercion)."""
    try:
        with open("/proc/self/environ", "rb") as f:
            return [e for e in f.read().split(b"\0") if e]
    except OSError:
        return [k + b"=" + v for k, v in os.environb.items()]
