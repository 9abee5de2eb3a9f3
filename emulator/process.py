"""One guest process: a Machine (Unicorn + arch), an mm, files, and signal state.

Creation follows Linux's three steps: a new empty address space; the ELF's VMAs (no page read);
registers set and a jump to the entry point (start_thread).
"""
from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, TextIO

from emulator.errors import GuestFault
from emulator.fdtable import FdTable
from emulator.machine import GDT_ADDR, POOL_SIZE, Machine
from emulator.signum import SEGV_ACCERR, SEGV_MAPERR, Signal, signal_name
from loader.elf import Arch, ElfImage, LoadResult, load_elf_binary, read_elf
from loader.stack import Credentials, InitialStack, setup_stack
from mmu.constants import PAGE_SHIFT, PAGE_SIZE, UC_PROT_READ, UC_PROT_WRITE
from mmu.fault import FaultEvent
from mmu.mm import MM
from mmu.pagetable import PTE, PageKind
from syscalls.dispatch import Dispatcher

log = logging.getLogger("pyexec.process")


@dataclass
class Options:
    """What the CLI (or an API user) may ask of a run."""
    trace_faults: Optional[TextIO] = None
    random_seed: Optional[int] = None


@dataclass
class SigAction:
    handler: int = 0        # SIG_DFL
    flags: int = 0
    restorer: int = 0
    mask: int = 0


@dataclass
class RunResult:
    exit_status: Optional[int]
    signal: Optional[int]

    @property
    def wait_status_text(self) -> str:
        if self.signal is not None:
            return f"killed by {signal_name(self.signal)}"
        return f"exited with {self.exit_status}"


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
        self.sigactions: Dict[int, SigAction] = {}
        self.sigmask = 0
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
        # Step 1: a new, empty address space on a new CPU.
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

    # --- creation ------------------------------------------------------------------------
    @classmethod
    def spawn(cls, path: str, argv: Sequence[str], env: Optional[Dict[str, str]] = None,
              options: Optional[Options] = None) -> "Process":
        """Validate and load `path` as execve would; the process is ready to run()."""
        image = read_elf(path)
        env = dict(os.environ) if env is None else env
        envp = [f"{k}={v}".encode() for k, v in env.items()]
        proc = cls(image, [os.fsencode(a) for a in argv], envp, options)
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
        m = self.machine
        if self.arch is Arch.I386:
            gdt = self._gdt_paddr = self.mm.frames.alloc()
            self._kernel_pages[GDT_ADDR >> PAGE_SHIFT] = PTE(gdt, UC_PROT_READ | UC_PROT_WRITE,
                                                              False, PageKind.ANON)
            m.setup_gdt(gdt)
        m.sp = self.stack.sp
        m.pc = self.load.entry
        m.set_reg(m.regs["eflags"], 0x202)

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
        """Pages above TASK_SIZE that only the CPU itself uses (the i386 GDT)."""
        if vaddr < self.mm.layout.task_size:
            return None
        return self._kernel_pages.get(vaddr >> PAGE_SHIFT)

    # --- running -----------------------------------------------------------------------
    def run(self) -> RunResult:
        self.cpu.run()
        return RunResult(self.exit_status, self.term_signal)

    def syscall(self, nr: int, args: List[int]) -> int:
        return self.dispatcher.call(self, nr, args)

    def exit(self, status: int) -> None:
        self.exit_status = status & 0xFF
        self.machine.stop()

    def send_signal_self(self, signo: int) -> None:
        """kill/tgkill to itself, SIGPIPE: the default action applies until delivery lands."""
        action = self.sigactions.get(signo)
        if action is not None and action.handler == 1:      # SIG_IGN
            return
        if signo in (Signal.SIGCHLD, Signal.SIGURG, Signal.SIGWINCH, Signal.SIGCONT):
            return
        if action is not None and action.handler > 1:
            log.warning("signal handlers are not delivered yet: %s terminates the guest",
                        signal_name(signo))
        self.term_signal = signo
        self.machine.stop()

    def force_sig_fault(self, fault: GuestFault) -> None:
        """A synchronous signal. Handlers are not delivered yet: the default action applies
        (every such signal terminates, with a core dump natively)."""
        self.term_signal = fault.signo
        self.term_fault = fault
