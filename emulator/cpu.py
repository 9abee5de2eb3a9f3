"""The run loop and the hooks it registers once: TLB fill (page walk), syscalls, interrupts."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Optional

from emulator import ucconst as ucc
from emulator import ucconst as x86
from emulator.ucbind import UcError

from emulator.control import FaultStop, Stop, StopReason, SyscallEvent
from emulator.errors import GuestFault, InternalError, SyscallError
from emulator.signals import ERESTARTSYS
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
        # The stepping engine (emulator/control.py) sets these:
        self.traced = False                 # syscalls take the slow path with events
        self.fault_catches: list = []       # FaultCatch filters: stop before the MMU acts
        self._fault_catch_ok: Optional[tuple[int, int]] = None
        self._fault_stop: Optional[tuple[int, int]] = None
        self.stop: Optional[Stop] = None    # why the CPU stopped, when it was asked to
        self.pending_syscall: Optional[SyscallEvent] = None   # caught at entry, not yet run
        self._counted = False               # was the last run bounded by an instruction count
        m = self.machine
        m.hook_tlb_fill(self._tlb_fill)
        m.hook_intr(self._interrupt)
        if proc.arch is Arch.X86_64:
            m.hook_syscall(self._syscall64)
        m.hook_port_io(self._port_io)
        self._init_syscall_fast_path()

    def _init_syscall_fast_path(self) -> None:
        """Preallocated ctypes arrays: one batch read of the syscall registers (plus RIP and
        RFLAGS on x86-64), one batch write of the result (plus RCX and R11)."""
        import ctypes
        from emulator.ucbind import uclib
        from emulator.machine import SYSCALL_REGS
        self._uclib = uclib
        self._uch = self.machine._uch
        read_ids = list(SYSCALL_REGS[self.proc.arch])
        if self.proc.arch is Arch.X86_64:
            read_ids += [x86.UC_X86_REG_RIP, x86.UC_X86_REG_EFLAGS]
            write_ids = [x86.UC_X86_REG_RAX, x86.UC_X86_REG_RCX, x86.UC_X86_REG_R11]
        else:
            write_ids = [x86.UC_X86_REG_EAX]

        def arrays(ids: list) -> tuple:
            idarr = (ctypes.c_int * len(ids))(*ids)
            vals = (ctypes.c_uint64 * len(ids))()
            base = ctypes.addressof(vals)
            ptrs = (ctypes.c_void_p * len(ids))(*[base + 8 * i for i in range(len(ids))])
            return idarr, vals, ptrs, len(ids)
        self._rd = arrays(read_ids)
        self._wr = arrays(write_ids)
        self.refresh_table()

    def refresh_table(self) -> None:
        """Re-read the dispatcher's table (after a per-process override, e.g. --deterministic)."""
        self._table = {nr: (e.handler, e.nargs) for nr, e in self.proc.dispatcher.table.items()}

    def _do_syscall(self, nr: int, v: object) -> int:
        """Dispatch with the registers in v[1..6]; errors become -errno (dispatch.py's rule)."""
        entry = self._table.get(nr)
        if entry is None:
            return self.proc.dispatcher.call(self.proc, nr, list(v[1:7]))  # type: ignore[index]
        handler, nargs = entry
        self.proc.dispatcher.count += 1
        try:
            return handler(self.proc, *v[1:1 + nargs])  # type: ignore[index]
        except SyscallError as exc:
            if exc.errno >= ERESTARTSYS:
                # Interrupted: the run loop restarts it or turns it into -EINTR.
                self.proc.restart = (nr, -exc.errno)
                self.machine.stop()
            return -exc.errno

    # --- hooks (hot) -----------------------------------------------------------------------
    def _tlb_fill(self, uch: int, vaddr: int, access: int, entry_ptr: Any, data: int) -> bool:
        pte = self.mm.pt.get(vaddr >> PAGE_SHIFT)
        if pte is None or not pte.perms & _NEED[access]:
            if self.fault_catches and self._catch_fault(vaddr, access):
                return False
            try:
                pte = self.proc.kernel_page(vaddr) or handle_mm_fault(self.mm, vaddr, access)
            except GuestFault as fault:
                self.fault = fault
                return False
            except BaseException as exc:   # never let an exception vanish inside Unicorn
                self.error = exc
                self.machine.stop()
                return False
        entry = entry_ptr[0]
        entry.paddr = pte.paddr
        entry.perms = pte.perms
        return True

    def _syscall64(self) -> None:
        try:
            ids, v, ptrs, n = self._rd
            self._uclib.uc_reg_read_batch(self._uch, ids, ptrs, n)
            if self.traced:
                self._syscall_traced(v[0], list(v[1:7]), v[7])
                return
            ret = self._do_syscall(v[0], v)
            wids, w, wptrs, wn = self._wr
            # Linux's syscall entry leaves RCX = return address, R11 = RFLAGS.
            w[0] = ret & 0xFFFFFFFFFFFFFFFF
            w[1] = v[7] + 2
            w[2] = v[8]
            self._uclib.uc_reg_write_batch(self._uch, wids, wptrs, wn)
        except BaseException as exc:
            self.error = exc
            self.machine.stop()

    def _interrupt(self, intno: int) -> None:
        try:
            if intno == 0x80 and self.proc.arch is Arch.I386:
                ids, v, ptrs, n = self._rd
                self._uclib.uc_reg_read_batch(self._uch, ids, ptrs, n)
                # 32-bit registers fill only the low half; the high half stays zero.
                if self.traced:
                    self._syscall_traced(v[0], list(v[1:7]), self.machine.pc - 2)
                    return
                wids, w, wptrs, wn = self._wr
                w[0] = self._do_syscall(v[0], v) & 0xFFFFFFFF
                self._uclib.uc_reg_write_batch(self._uch, wids, wptrs, wn)
                return
            signo, code = EXCEPTION_SIGNALS.get(intno, (Signal.SIGSEGV, SI_KERNEL))
            pc = self.machine.pc
            # Compare Linux's traps.c: si_addr is the faulting instruction (for int3 the
            # address after it, where RIP already points); #GP carries no address.
            self.fault = GuestFault(signo, code, 0 if code == SI_KERNEL else pc,
                                    f"CPU exception {intno} at {pc:#x}")
            self.machine.stop()
        except BaseException as exc:
            self.error = exc
            self.machine.stop()

    def _port_io(self) -> None:
        """in/out at ring 3 with IOPL 0: #GP natively; Unicorn lets them through to a hook."""
        pc = self.machine.pc
        self.fault = GuestFault(Signal.SIGSEGV, SI_KERNEL, 0, f"port I/O at {pc:#x}")
        self.machine.stop()

    # --- the slow paths the stepping engine needs --------------------------------------------
    def request_stop(self, stop: Stop) -> None:
        if self.stop is None:
            self.stop = stop
        self.machine.stop()

    def _catch_fault(self, vaddr: int, access: int) -> bool:
        """Refuse the fill once so the CPU stops at the faulting instruction, before the MMU
        acts; the retry after the stop is let through."""
        page = vaddr & ~0xFFF
        if self._fault_catch_ok == (page, access):
            self._fault_catch_ok = None
            return False
        if self.proc.kernel_page(vaddr) is not None:
            return False
        if any(c.matches(vaddr, access) for c in self.fault_catches):
            self._fault_stop = (vaddr, access)
            return True
        return False

    def _syscall_traced(self, nr: int, args: list, pc: int) -> None:
        """Syscall entry with listeners or a catchpoint: the event may stop the CPU before
        the handler runs; then run() finishes it when the guest is resumed."""
        control = self.proc.control
        ev = SyscallEvent(nr, self.proc.dispatcher.name_of(nr), args, pc)
        for fn in control.syscall_entry_listeners:
            fn(ev)
        if control.wants_syscall_stop(nr):
            self.pending_syscall = ev
            self.request_stop(Stop(StopReason.SYSCALL_ENTRY, pc, syscall=ev))
            return
        self._finish_syscall(ev)

    def _finish_syscall(self, ev: SyscallEvent) -> None:
        """Run the handler (unless a listener already gave the result) and set the result
        registers as the kernel's syscall exit does."""
        if ev.result is None:
            args = ev.args + [0] * (6 - len(ev.args))
            ev.result = self._do_syscall(ev.nr, [ev.nr] + args)
        m = self.machine
        if self.proc.arch is Arch.X86_64:
            m.set_reg(x86.UC_X86_REG_RAX, ev.result)
            m.set_reg(x86.UC_X86_REG_RCX, ev.pc + 2)
            m.set_reg(x86.UC_X86_REG_R11, m.reg(x86.UC_X86_REG_EFLAGS))
        else:
            m.set_reg(x86.UC_X86_REG_EAX, ev.result & 0xFFFFFFFF)
        control = self.proc.control
        for fn in control.syscall_exit_listeners:
            fn(ev)
        if control.wants_syscall_stop(ev.nr) and self.proc.exit_status is None:
            self.request_stop(Stop(StopReason.SYSCALL_EXIT, ev.pc + 2, syscall=ev))

    # --- the loop ----------------------------------------------------------------------------
    def _finished(self) -> Optional[Stop]:
        proc = self.proc
        if proc.exit_status is not None:
            return Stop(StopReason.EXITED, self.machine.pc, status=proc.exit_status)
        if proc.term_signal is not None:
            return Stop(StopReason.SIGNALED, self.machine.pc, signo=proc.term_signal)
        return None

    def run(self, count: int = 0) -> Stop:
        """Run until the process exits or dies, a stop is requested, or `count` instructions
        (when non-zero) ran; raises InternalError for pyexec's own bugs."""
        proc = self.proc
        self.stop = None
        if count and not self._counted:
            # Blocks translated for an unbounded run have no per-instruction count check:
            # a counted run (stepping) must not reuse them.
            self.machine.flush_all_code()
        self._counted = bool(count)
        if self.pending_syscall is not None:
            ev, self.pending_syscall = self.pending_syscall, None
            self._finish_syscall(ev)
            proc.return_to_user()
            done = self._finished()
            if done is not None or self.stop is not None:
                return done or self._take_stop()
        if proc.signals.pending:
            proc.return_to_user()      # e.g. a signal a `catch signal` stop held back
            if self.stop is not None:
                return self._take_stop()
        if self._fault_stop is not None:
            page, access = self._fault_stop[0] & ~0xFFF, self._fault_stop[1]
            self._fault_catch_ok = (page, access)
            self._fault_stop = None
        while True:
            done = self._finished()
            if done is not None:
                return done
            if proc.exec_pending is not None:
                return Stop(StopReason.REQUESTED, self.machine.pc)
            pc = self.machine.pc
            try:
                self.machine.start(pc, count)
            except UcError as exc:
                if self._fault_stop is not None:
                    self.stop = Stop(StopReason.FAULT, pc, fault=FaultStop(*self._fault_stop))
                    return self._take_stop()
                if self.fault is None and self.error is None:
                    self.fault = self._uc_error_to_fault(exc)
            if self.error is not None:
                err, self.error = self.error, None
                from emulator.api import HookError
                if isinstance(err, (KeyboardInterrupt, SystemExit, HookError)):
                    raise err
                raise InternalError(f"{type(err).__name__}: {err} at pc={self.machine.pc:#x}") from err
            if self.fault is not None:
                fault, self.fault = self.fault, None
                if fault.access:
                    fault.addr = self._exact_fault_address(fault)
                proc.force_sig_fault(fault)
            proc.return_to_user()
            if self.stop is not None:
                return self._take_stop()
            if count and self._finished() is None and proc.exec_pending is None:
                return Stop(StopReason.STEP, self.machine.pc)

    def _take_stop(self) -> Stop:
        stop, self.stop = self.stop, None
        assert stop is not None
        return stop

    def _exact_fault_address(self, fault: GuestFault) -> int:
        """The TLB hook saw a page; Linux's si_addr is the operand's address (or RIP)."""
        from mmu.constants import ACCESS_FETCH
        from mmu.uaccess import copy_from_user
        from emulator.decode import fault_address
        from emulator.errors import SyscallError as _SE
        pc = self.machine.pc
        page = fault.addr & ~0xFFF
        if fault.access == ACCESS_FETCH:
            return pc if pc & ~0xFFF == page else page
        try:
            code = copy_from_user(self.mm, pc, 15)
        except _SE:
            try:
                code = copy_from_user(self.mm, pc, 0x1000 - (pc & 0xFFF))
            except _SE:
                return page
        return fault_address(self.machine, self.proc.arch, code, pc, page)

    def _uc_error_to_fault(self, exc: UcError) -> GuestFault:
        pc = self.machine.pc
        if exc.errno == ucc.UC_ERR_INSN_INVALID:
            return GuestFault(Signal.SIGILL, ILL_ILLOPN, pc, f"invalid instruction at {pc:#x}")
        if exc.errno in (ucc.UC_ERR_READ_UNMAPPED, ucc.UC_ERR_WRITE_UNMAPPED,
                         ucc.UC_ERR_FETCH_UNMAPPED, ucc.UC_ERR_EXCEPTION):
            return GuestFault(Signal.SIGSEGV, SI_KERNEL, 0, f"{exc} at {pc:#x}")
        raise InternalError(f"unicorn: {exc} at pc={pc:#x}")
