"""The run loop and the hooks it registers once: TLB fill (page walk), syscalls, interrupts."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Optional

from unicorn import UcError
from unicorn import unicorn_const as ucc
from unicorn import x86_const as x86

from emulator.errors import GuestFault, InternalError
from emulator.signum import FPE_INTDIV, ILL_ILLOPN, SI_KERNEL, TRAP_BRKPT, Signal
from loader.elf import Arch
from mmu.constants import PAGE_SHIFT
from mmu.fault import handle_mm_fault

if TYPE_CHECKING:
    from emulator.process import Process

log = logging.getLogger("pyexec.cpu")

# Which TLB permission bit an access needs: UC_MEM_READ(16) / WRITE(17) / FETCH(18).
_NEED = {16: 1, 17: 2, 18: 4}

# x86 exception vectors -> (signal, si_code) as Linux's traps.c sends them.
EXCEPTION_SIGNALS = {
    0: (Signal.SIGFPE, FPE_INTDIV),     # #DE divide error
    1: (Signal.SIGTRAP, TRAP_BRKPT),    # #DB
    3: (Signal.SIGTRAP, SI_KERNEL),     # int3 (#BP)
    4: (Signal.SIGSEGV, SI_KERNEL),     # #OF into
    5: (Signal.SIGSEGV, SI_KERNEL),     # #BR bound
    6: (Signal.SIGILL, ILL_ILLOPN),     # #UD
    13: (Signal.SIGSEGV, SI_KERNEL),    # #GP
}


class Cpu:
    """Owns the hooks of one process's Machine and runs it until something needs Python."""

    def __init__(self, proc: "Process") -> None:
        self.proc = proc
        self.machine = proc.machine
        self.mm = proc.mm
        self.fault: Optional[GuestFault] = None
        self.error: Optional[BaseException] = None
        m = self.machine
        m.hook_tlb_fill(self._tlb_fill)
        m.hook_intr(self._interrupt)
        if proc.arch is Arch.X86_64:
            m.hook_syscall(self._syscall64)
        ids = [x86.UC_X86_REG_RAX, x86.UC_X86_REG_RCX, x86.UC_X86_REG_R11]
        import ctypes
        from unicorn.unicorn_py3.unicorn import uclib
        self._uclib = uclib
        self._wb_ids = (ctypes.c_int * 3)(*ids)
        self._wb_vals = (ctypes.c_uint64 * 3)()
        base = ctypes.addressof(self._wb_vals)
        self._wb_ptrs = (ctypes.c_void_p * 3)(base, base + 8, base + 16)
        self._rip_eflags = (ctypes.c_int * 2)(x86.UC_X86_REG_RIP, x86.UC_X86_REG_EFLAGS)
        self._re_vals = (ctypes.c_uint64 * 2)()
        b2 = ctypes.addressof(self._re_vals)
        self._re_ptrs = (ctypes.c_void_p * 2)(b2, b2 + 8)

    # --- hooks (hot) -----------------------------------------------------------------------
    def _tlb_fill(self, vaddr: int, access: int, entry: object) -> bool:
        pte = self.mm.pt.get(vaddr >> PAGE_SHIFT)
        if pte is None or not pte.perms & _NEED[access]:
            try:
                pte = self.proc.kernel_page(vaddr) or handle_mm_fault(self.mm, vaddr, access)
            except GuestFault as fault:
                self.fault = fault
                return False
            except BaseException as exc:   # never let an exception vanish inside Unicorn
                self.error = exc
                self.machine.stop()
                return False
        entry.paddr = pte.paddr  # type: ignore[attr-defined]
        entry.perms = pte.perms  # type: ignore[attr-defined]
        return True

    def _syscall64(self) -> None:
        try:
            vals = self.machine.read_syscall_regs()
            ret = self.proc.syscall(vals[0], list(vals[1:7]))
            # Linux's syscall entry leaves RCX = return address, R11 = RFLAGS.
            lib = self._uclib
            lib.uc_reg_read_batch(self.machine._uch, self._rip_eflags, self._re_ptrs, 2)
            w = self._wb_vals
            w[0] = ret & 0xFFFFFFFFFFFFFFFF
            w[1] = self._re_vals[0] + 2
            w[2] = self._re_vals[1]
            lib.uc_reg_write_batch(self.machine._uch, self._wb_ids, self._wb_ptrs, 3)
        except BaseException as exc:
            self.error = exc
            self.machine.stop()

    def _interrupt(self, intno: int) -> None:
        try:
            if intno == 0x80 and self.proc.arch is Arch.I386:
                vals = self.machine.read_syscall_regs()
                ret = self.proc.syscall(vals[0] & 0xFFFFFFFF, [v & 0xFFFFFFFF for v in vals[1:7]])
                self.machine.set_reg(x86.UC_X86_REG_EAX, ret & 0xFFFFFFFF)
                return
            signo, code = EXCEPTION_SIGNALS.get(intno, (Signal.SIGSEGV, SI_KERNEL))
            pc = self.machine.pc
            self.fault = GuestFault(signo, code, pc if signo != Signal.SIGSEGV else 0,
                                    f"CPU exception {intno} at {pc:#x}")
            self.machine.stop()
        except BaseException as exc:
            self.error = exc
            self.machine.stop()

    # --- the loop ----------------------------------------------------------------------------
    def run(self) -> None:
        """Run until the process exits or dies; raises InternalError for pyexec's own bugs."""
        proc = self.proc
        while proc.exit_status is None and proc.term_signal is None:
            pc = self.machine.pc
            try:
                self.machine.start(pc)
            except UcError as exc:
                if self.fault is None and self.error is None:
                    self.fault = self._uc_error_to_fault(exc)
            if self.error is not None:
                err, self.error = self.error, None
                if isinstance(err, (KeyboardInterrupt, SystemExit)):
                    raise err
                raise InternalError(f"{type(err).__name__}: {err} at pc={self.machine.pc:#x}") from err
            if self.fault is not None:
                fault, self.fault = self.fault, None
                proc.force_sig_fault(fault)

    def _uc_error_to_fault(self, exc: UcError) -> GuestFault:
        pc = self.machine.pc
        if exc.errno == ucc.UC_ERR_INSN_INVALID:
            return GuestFault(Signal.SIGILL, ILL_ILLOPN, pc, f"invalid instruction at {pc:#x}")
        if exc.errno in (ucc.UC_ERR_READ_UNMAPPED, ucc.UC_ERR_WRITE_UNMAPPED,
                         ucc.UC_ERR_FETCH_UNMAPPED, ucc.UC_ERR_EXCEPTION):
            return GuestFault(Signal.SIGSEGV, SI_KERNEL, 0, f"{exc} at {pc:#x}")
        raise InternalError(f"unicorn: {exc} at pc={pc:#x}")
