"""Signal state and delivery: Linux's kernel/signal.c and arch/x86/kernel/signal*.c, in Python.

A signal becomes pending (kill to itself, a CPU exception, a host signal forwarded in, alarm);
at the next return to user mode the run loop calls `deliver_pending`, which either applies the
default action or builds a signal frame on the guest stack and redirects the CPU to the
handler. rt_sigreturn / sigreturn read the frame back and restore every register and the mask.

Frame layouts follow the kernel's: x86-64 `struct rt_sigframe`, i386 `struct rt_sigframe_ia32`
and the legacy `struct sigframe_ia32`, with the FPU state in fxsave format after them.
"""
from __future__ import annotations

import enum
import logging
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from emulator import ucconst as x86

from emulator.errors import GuestFault, SyscallError
from emulator.signum import SI_KERNEL, Signal
from loader.elf import Arch
from mmu.uaccess import copy_from_user, copy_to_user
from syscalls.errno import Errno

if TYPE_CHECKING:
    from emulator.process import Process

log = logging.getLogger("pyexec.signals")

NSIG = 64
SIG_DFL, SIG_IGN = 0, 1
SA_NOCLDSTOP = 0x00000001
SA_NOCLDWAIT = 0x00000002
SA_SIGINFO = 0x00000004
SA_RESTORER = 0x04000000
SA_ONSTACK = 0x08000000
SA_RESTART = 0x10000000
SA_NODEFER = 0x40000000
SA_RESETHAND = 0x80000000
SS_ONSTACK, SS_DISABLE, SS_AUTODISARM = 1, 2, 1 << 31
MINSIGSTKSZ = 2048
SI_USER, SI_TKILL = 0, -6

# Kernel-internal errnos a syscall returns when a signal interrupts it (include/linux/errno.h).
ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK = 512, 513, 514, 516

UNBLOCKABLE = (1 << (Signal.SIGKILL - 1)) | (1 << (Signal.SIGSTOP - 1))
SYNCHRONOUS = {Signal.SIGSEGV, Signal.SIGBUS, Signal.SIGILL, Signal.SIGTRAP, Signal.SIGFPE,
               Signal.SIGSYS}


class Default(enum.Enum):
    TERM = "terminate"
    CORE = "core"
    IGNORE = "ignore"
    STOP = "stop"
    CONT = "continue"


_CORE = {Signal.SIGQUIT, Signal.SIGILL, Signal.SIGTRAP, Signal.SIGABRT, Signal.SIGBUS,
         Signal.SIGFPE, Signal.SIGSEGV, Signal.SIGXCPU, Signal.SIGXFSZ, Signal.SIGSYS}
_IGNORE = {Signal.SIGCHLD, Signal.SIGURG, Signal.SIGWINCH}
_STOP = {Signal.SIGSTOP, Signal.SIGTSTP, Signal.SIGTTIN, Signal.SIGTTOU}


def default_action(sig: int) -> Default:
    """Compare Linux's sig_kernel_{coredump,ignore,stop}_mask."""
    if sig in _CORE:
        return Default.CORE
    if sig in _IGNORE:
        return Default.IGNORE
    if sig in _STOP:
        return Default.STOP
    if sig == Signal.SIGCONT:
        return Default.CONT
    return Default.TERM


def sigbit(sig: int) -> int:
    return 1 << (sig - 1)


@dataclass
class SigAction:
    handler: int = SIG_DFL
    flags: int = 0
    restorer: int = 0
    mask: int = 0


@dataclass
class SigInfo:
    """The parts of siginfo_t pyexec fills in."""
    signo: int
    code: int = SI_USER
    errno: int = 0
    pid: int = 0
    uid: int = 0
    addr: Optional[int] = None      # SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGTRAP
    status: int = 0                 # SIGCHLD

    def pack(self, arch: Arch) -> bytes:
        """siginfo_t (128 bytes); the union starts at 16 on x86-64, at 12 on i386."""
        word = arch.word
        head = struct.pack("<iii", self.signo, self.errno, self.code)
        head += bytes(4) if word == 8 else b""
        if self.addr is not None:
            body = self.addr.to_bytes(word, "little")
        elif self.signo == Signal.SIGCHLD:
            body = struct.pack("<iIi", self.pid, self.uid, self.status)
        else:
            body = struct.pack("<iI", self.pid, self.uid)
        return (head + body).ljust(128, b"\0")


@dataclass
class AltStack:
    sp: int = 0
    size: int = 0
    flags: int = SS_DISABLE

    def on_stack(self, sp: int) -> bool:
        return self.flags != SS_DISABLE and self.sp < sp <= self.sp + self.size


@dataclass
class SignalState:
    """Per-process signal state: dispositions, the blocked mask, pending signals, altstack."""
    actions: Dict[int, SigAction] = field(default_factory=dict)
    blocked: int = 0
    pending: Dict[int, List[SigInfo]] = field(default_factory=dict)
    altstack: AltStack = field(default_factory=AltStack)

    def action(self, sig: int) -> SigAction:
        act = self.actions.get(sig)
        if act is None:
            act = self.actions[sig] = SigAction()
        return act

    def is_ignored(self, sig: int) -> bool:
        act = self.actions.get(sig)
        handler = act.handler if act else SIG_DFL
        return handler == SIG_IGN or (handler == SIG_DFL and default_action(sig) in
                                      (Default.IGNORE, Default.CONT))

    def queue(self, info: SigInfo) -> None:
        """Compare Linux's __send_signal: standard signals coalesce, realtime ones queue."""
        sig = info.signo
        if self.is_ignored(sig) and not self.blocked & sigbit(sig):
            return
        queue = self.pending.setdefault(sig, [])
        if sig < 32 and queue:
            return
        queue.append(info)

    def pending_mask(self) -> int:
        mask = 0
        for sig, queue in self.pending.items():
            if queue:
                mask |= sigbit(sig)
        return mask

    def next_deliverable(self) -> Optional[int]:
        """Synchronous signals first, then the lowest-numbered (compare next_signal)."""
        ready = self.pending_mask() & ~self.blocked
        if not ready:
            return None
        for sig in SYNCHRONOUS:
            if ready & sigbit(sig):
                return sig
        return (ready & -ready).bit_length()

    def dequeue(self, sig: int) -> SigInfo:
        queue = self.pending[sig]
        info = queue.pop(0)
        if not queue:
            del self.pending[sig]
        return info


# --- register sets --------------------------------------------------------------------------
GPR_64 = ["r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rdi", "rsi", "rbp", "rbx",
          "rdx", "rax", "rcx", "rsp", "rip", "eflags"]
GPR_32 = ["edi", "esi", "ebp", "esp", "ebx", "edx", "ecx", "eax"]
# Compare Linux's FIX_EFLAGS: the flags sigreturn may change.
FIX_EFLAGS = 0x40DD5 | 0x00040000 | 0x00010000   # CF PF AF ZF SF TF DF OF, AC, RF
EFLAGS_DF, EFLAGS_TF, EFLAGS_RF = 0x400, 0x100, 0x10000


def _uc_id(name: str) -> int:
    return int(getattr(x86, f"UC_X86_REG_{name.upper()}"))


def read_fxsave(proc: "Process") -> bytes:
    """The FPU/SSE state in the 512-byte fxsave layout."""
    uc = proc.machine.uc
    nxmm = 16 if proc.arch is Arch.X86_64 else 8
    fcw = uc.reg_read(x86.UC_X86_REG_FPCW)
    fsw = uc.reg_read(x86.UC_X86_REG_FPSW)
    mxcsr = uc.reg_read(x86.UC_X86_REG_MXCSR)
    out = bytearray(512)
    struct.pack_into("<HHBxH", out, 0, fcw, fsw, 0xFF, 0)
    struct.pack_into("<II", out, 24, mxcsr, 0xFFFF)
    for i in range(8):
        mant, exp = uc.reg_read(x86.UC_X86_REG_FP0 + i)
        struct.pack_into("<QH", out, 32 + 16 * i, mant & (2**64 - 1), exp & 0xFFFF)
    for i in range(nxmm):
        val = uc.reg_read(x86.UC_X86_REG_XMM0 + i)
        out[160 + 16 * i:176 + 16 * i] = val.to_bytes(16, "little")
    return bytes(out)


def write_fxsave(proc: "Process", data: bytes) -> None:
    uc = proc.machine.uc
    nxmm = 16 if proc.arch is Arch.X86_64 else 8
    fcw, fsw = struct.unpack_from("<HH", data, 0)
    (mxcsr,) = struct.unpack_from("<I", data, 24)
    uc.reg_write(x86.UC_X86_REG_FPCW, fcw)
    uc.reg_write(x86.UC_X86_REG_FPSW, fsw)
    uc.reg_write(x86.UC_X86_REG_MXCSR, mxcsr)
    for i in range(8):
        mant, exp = struct.unpack_from("<QH", data, 32 + 16 * i)
        uc.reg_write(x86.UC_X86_REG_FP0 + i, (mant, exp))
    for i in range(nxmm):
        uc.reg_write(x86.UC_X86_REG_XMM0 + i,
                     int.from_bytes(data[160 + 16 * i:176 + 16 * i], "little"))


# --- frames ---------------------------------------------------------------------------------
RT_FRAME_64 = 440       # pretcode 8 + ucontext 304 + siginfo 128
UC_OFF_64, INFO_OFF_64, MCTX_OFF_64, MASK_OFF_64 = 8, 312, 48, 304
RT_FRAME_32 = 268       # pretcode, sig, pinfo, puc, siginfo 128, ucontext 116, retcode 8
INFO_OFF_32, UC_OFF_32, RETCODE_RT_32 = 16, 144, 260
SIGFRAME_32 = 732       # pretcode, sig, sigcontext 88, fpstate_unused 624, extramask, retcode
SC_OFF_LEGACY, EXTRAMASK_OFF, RETCODE_LEGACY = 8, 720, 724
FPSTATE_32 = 624        # fsave header 112 + fxsave 512
UC_FLAGS_64 = 0x2 | 0x4  # UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS
NR_SIGRETURN_32, NR_RT_SIGRETURN_32 = 119, 173


class SignalDelivery:
    """Builds and unwinds signal frames for one process."""

    def __init__(self, proc: "Process") -> None:
        self.proc = proc
        self.arch = proc.arch
        names = GPR_64 if proc.arch is Arch.X86_64 else GPR_32 + ["eip", "eflags"]
        self._ids = {n: _uc_id(n) for n in names}

    def regs(self) -> Dict[str, int]:
        m = self.proc.machine
        return {n: m.reg(i) for n, i in self._ids.items()}

    def set_regs(self, values: Dict[str, int]) -> None:
        m = self.proc.machine
        for name, value in values.items():
            m.set_reg(self._ids[name] if name in self._ids else _uc_id(name), value)

    def _frame_sp(self, sp: int, act: SigAction, frame_size: int, fp_size: int) -> Tuple[int, int]:
        """Compare Linux's get_sigframe: red zone, altstack, FPU area, ABI alignment."""
        alt = self.proc.signals.altstack
        if self.arch is Arch.X86_64:
            sp -= 128
        if act.flags & SA_ONSTACK and alt.flags == 0 and not alt.on_stack(sp):
            sp = alt.sp + alt.size
        sp = (sp - fp_size) & ~63
        fp_addr = sp
        sp -= frame_size
        if self.arch is Arch.X86_64:
            sp = (sp & ~15) - 8
        else:
            sp = ((sp + 4) & ~15) - 4
        return sp, fp_addr

    def setup_frame(self, sig: int, info: SigInfo, act: SigAction, regs: Dict[str, int],
                    oldmask: int) -> None:
        """Write the frame and point the CPU at the handler (raises SyscallError on EFAULT)."""
        mm = self.proc.mm
        alt = self.proc.signals.altstack
        stack_t = (alt.sp, alt.flags if not alt.on_stack(regs.get("rsp", regs.get("esp", 0)))
                   else SS_ONSTACK, alt.size)
        fx = read_fxsave(self.proc)
        if self.arch is Arch.X86_64:
            if not act.flags & SA_RESTORER:
                raise SyscallError(Errno.EFAULT, "x86-64 handler without SA_RESTORER")
            sp, fp = self._frame_sp(regs["rsp"], act, RT_FRAME_64, 512)
            seg = struct.pack("<HHHH", 0x33, 0, 0, 0x2B)
            sc = struct.pack("<18Q", *(regs[n] for n in GPR_64)) + seg + \
                struct.pack("<QQQQQ", 0, 0, oldmask & 0xFFFFFFFF, info.addr or 0, fp) + bytes(64)
            uc = struct.pack("<QQQi4xQ", UC_FLAGS_64, 0, *stack_t)
            frame = struct.pack("<Q", act.restorer) + uc + sc + struct.pack("<Q", oldmask) + \
                info.pack(self.arch)
            assert len(frame) == RT_FRAME_64
            copy_to_user(mm, fp, fx)
            copy_to_user(mm, sp, frame)
            self.set_regs({"rsp": sp, "rip": act.handler, "rdi": sig, "rsi": sp + INFO_OFF_64,
                           "rdx": sp + UC_OFF_64, "rax": 0,
                           "eflags": regs["eflags"] & ~(EFLAGS_DF | EFLAGS_TF | EFLAGS_RF)})
            return
        # i386: the fpstate is an fsave header (magic 0xffff: fxsave follows) + fxsave.
        fpstate = bytearray(FPSTATE_32)
        struct.pack_into("<HH", fpstate, 108, 0, 0xFFFF)
        fpstate[112:] = fx
        sc_values = (regs["edi"], regs["esi"], regs["ebp"], regs["esp"], regs["ebx"],
                     regs["edx"], regs["ecx"], regs["eax"])
        gs = self.proc.machine.reg(x86.UC_X86_REG_GS)
        fs = self.proc.machine.reg(x86.UC_X86_REG_FS)

        def sigcontext(fp_addr: int) -> bytes:
            return struct.pack("<IIII", gs, fs, 0x2B, 0x2B) + struct.pack("<8I", *sc_values) + \
                struct.pack("<IIIIIIIIII", 0, 0, regs["eip"], 0x23, regs["eflags"], regs["esp"],
                            0x2B, fp_addr, oldmask & 0xFFFFFFFF, info.addr or 0)
        restorer = act.restorer if act.flags & SA_RESTORER else 0
        if act.flags & SA_SIGINFO:
            sp, fp = self._frame_sp(regs["esp"], act, RT_FRAME_32, FPSTATE_32)
            retcode = b"\xb8" + struct.pack("<I", NR_RT_SIGRETURN_32) + b"\xcd\x80\x00"
            uc = struct.pack("<II", 0, 0) + struct.pack("<IiI", *stack_t) + sigcontext(fp) + \
                struct.pack("<Q", oldmask)
            frame = struct.pack("<IiII", restorer or sp + RETCODE_RT_32, sig, sp + INFO_OFF_32,
                                sp + UC_OFF_32) + info.pack(self.arch) + uc + retcode
            assert len(frame) == RT_FRAME_32
            copy_to_user(mm, fp, bytes(fpstate))
            copy_to_user(mm, sp, frame)
            self.set_regs({"esp": sp, "eip": act.handler, "eax": sig, "edx": sp + INFO_OFF_32,
                           "ecx": sp + UC_OFF_32,
                           "eflags": regs["eflags"] & ~(EFLAGS_DF | EFLAGS_TF | EFLAGS_RF)})
        else:
            sp, fp = self._frame_sp(regs["esp"], act, SIGFRAME_32, FPSTATE_32)
            retcode = b"\x58\xb8" + struct.pack("<I", NR_SIGRETURN_32) + b"\xcd\x80"
            frame = struct.pack("<Ii", restorer or sp + RETCODE_LEGACY, sig) + sigcontext(fp) + \
                bytes(FPSTATE_32) + struct.pack("<I", (oldmask >> 32) & 0xFFFFFFFF) + retcode
            assert len(frame) == SIGFRAME_32
            copy_to_user(mm, fp, bytes(fpstate))
            copy_to_user(mm, sp, frame)
            self.set_regs({"esp": sp, "eip": act.handler, "eax": sig, "edx": 0, "ecx": 0,
                           "eflags": regs["eflags"] & ~(EFLAGS_DF | EFLAGS_TF | EFLAGS_RF)})

    # --- sigreturn ----------------------------------------------------------------------
    def _restore_sigcontext(self, sc_addr: int) -> Tuple[Dict[str, int], int]:
        """Registers from a sigcontext; returns (registers, fpstate pointer)."""
        mm = self.proc.mm
        if self.arch is Arch.X86_64:
            raw = copy_from_user(mm, sc_addr, 256)
            vals = struct.unpack_from("<18Q", raw, 0)
            regs = dict(zip(GPR_64, vals))
            (fp,) = struct.unpack_from("<Q", raw, 184)
        else:
            raw = copy_from_user(mm, sc_addr, 88)
            gs, fs, es, ds = struct.unpack_from("<IIII", raw, 0)
            vals = struct.unpack_from("<8I", raw, 16)
            regs = dict(zip(GPR_32, vals))
            eip, _cs, eflags, _esp_at_signal, _ss, fp = struct.unpack_from("<IIIIII", raw, 56)
            regs["eip"] = eip
            regs["eflags"] = eflags
            regs["gs"] = gs & 0xFFFF
            regs["fs"] = fs & 0xFFFF
        cur = self.proc.machine.reg(self._ids["eflags"])
        regs["eflags"] = (cur & ~FIX_EFLAGS) | (regs["eflags"] & FIX_EFLAGS)
        return regs, fp

    def sigreturn(self, rt: bool) -> Dict[str, int]:
        """rt_sigreturn / sigreturn: the registers to resume with; the mask is restored."""
        sp = self.proc.machine.sp
        sig = self.proc.signals
        if self.arch is Arch.X86_64:
            frame = sp - 8                     # the handler's `ret` popped pretcode
            regs, fp = self._restore_sigcontext(frame + MCTX_OFF_64)
            mask = int.from_bytes(copy_from_user(self.proc.mm, frame + MASK_OFF_64, 8), "little")
            ss = struct.unpack("<Qi4xQ", copy_from_user(self.proc.mm, frame + UC_OFF_64 + 16, 24))
        elif rt:
            frame = sp - 4                     # `ret` popped pretcode
            regs, fp = self._restore_sigcontext(frame + UC_OFF_32 + 20)
            mask = int.from_bytes(copy_from_user(self.proc.mm, frame + UC_OFF_32 + 108, 8),
                                  "little")
            ss = struct.unpack("<IiI", copy_from_user(self.proc.mm, frame + UC_OFF_32 + 8, 12))
        else:
            frame = sp - 8                     # `ret` popped pretcode, the stub popped sig
            regs, fp = self._restore_sigcontext(frame + SC_OFF_LEGACY)
            low = struct.unpack("<I", copy_from_user(self.proc.mm, frame + SC_OFF_LEGACY + 80, 4))[0]
            high = struct.unpack("<I", copy_from_user(self.proc.mm, frame + EXTRAMASK_OFF, 4))[0]
            mask = low | (high << 32)
            ss = None
        sig.blocked = mask & ~UNBLOCKABLE
        if ss is not None and rt:
            restore_altstack(self.proc, ss)
        if fp:
            data = copy_from_user(self.proc.mm, fp, 512 if self.arch is Arch.X86_64 else FPSTATE_32)
            write_fxsave(self.proc, data if self.arch is Arch.X86_64 else data[112:])
        return regs


def restore_altstack(proc: "Process", ss: Tuple[int, int, int]) -> None:
    """Compare Linux's restore_altstack: errors are ignored on sigreturn."""
    sp, flags, size = ss
    alt = proc.signals.altstack
    if alt.on_stack(proc.machine.sp):
        return
    if flags & SS_DISABLE:
        proc.signals.altstack = AltStack()
    elif size >= MINSIGSTKSZ:
        proc.signals.altstack = AltStack(sp, size, flags & ~SS_ONSTACK)


def fault_siginfo(fault: GuestFault) -> SigInfo:
    if fault.signo in SYNCHRONOUS or fault.signo == Signal.SIGBUS:
        return SigInfo(fault.signo, fault.code, addr=fault.addr if fault.code != SI_KERNEL
                       else 0)
    return SigInfo(fault.signo, fault.code)
