"""Signal syscalls: dispositions, the mask, pending signals, altstack, sigreturn, timers."""
from __future__ import annotations

import signal as host_signal
import struct
from typing import TYPE_CHECKING

from emulator.errors import SyscallError
from emulator.signals import (ERESTARTNOHAND, MINSIGSTKSZ, SS_AUTODISARM,
                              SS_DISABLE, SS_ONSTACK, UNBLOCKABLE, AltStack, SigAction)
from mmu.uaccess import copy_from_user, copy_to_user

from .abi import s32
from .errno import Errno

if TYPE_CHECKING:
    from emulator.process import Process

SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
ITIMER_REAL = 0


def _set_action(p: "Process", sig: int, new: SigAction) -> None:
    p.signals.actions[sig] = new
    # Compare Linux's do_sigaction: setting SIG_IGN (or a default-ignore SIG_DFL) discards
    # what is pending.
    if p.signals.is_ignored(sig):
        p.signals.pending.pop(sig, None)
    p.host_signals.sync_action(sig)


def sys_rt_sigaction(p: "Process", sig: int, act: int, oact: int, sigsetsize: int) -> int:
    sig = s32(sig)
    if sigsetsize != 8:
        raise SyscallError(Errno.EINVAL)
    if not 1 <= sig <= 64 or (act and sig in (9, 19)):
        raise SyscallError(Errno.EINVAL)
    fmt = "<QQQQ" if p.arch.word == 8 else "<IIIQ"
    size = struct.calcsize(fmt)
    old = p.signals.action(sig)
    new = None
    if act:
        handler, flags, restorer, mask = struct.unpack(fmt, copy_from_user(p.mm, act, size))
        new = SigAction(handler, flags & 0xFFFFFFFF, restorer, mask & ~UNBLOCKABLE)
    if oact:
        copy_to_user(p.mm, oact, struct.pack(fmt, old.handler, old.flags, old.restorer, old.mask))
    if new is not None:
        _set_action(p, sig, new)
    return 0


def sys_sigaction(p: "Process", sig: int, act: int, oact: int) -> int:
    """i386 sigaction (67): struct old_sigaction {handler, mask (32 bits), flags, restorer}."""
    sig = s32(sig)
    if not 1 <= sig <= 64 or (act and sig in (9, 19)):
        raise SyscallError(Errno.EINVAL)
    old = p.signals.action(sig)
    new = None
    if act:
        handler, mask, flags, restorer = struct.unpack("<IIII", copy_from_user(p.mm, act, 16))
        new = SigAction(handler, flags, restorer, mask & ~UNBLOCKABLE)
    if oact:
        copy_to_user(p.mm, oact, struct.pack("<IIII", old.handler, old.mask & 0xFFFFFFFF,
                                             old.flags, old.restorer))
    if new is not None:
        _set_action(p, sig, new)
    return 0


def sys_signal(p: "Process", sig: int, handler: int) -> int:
    """i386 signal (48): SysV semantics (SA_ONESHOT | SA_NOMASK)."""
    sig = s32(sig)
    if not 1 <= sig <= 64 or sig in (9, 19):
        raise SyscallError(Errno.EINVAL)
    old = p.signals.action(sig).handler
    _set_action(p, sig, SigAction(handler, 0x80000000 | 0x40000000, 0, 0))
    return old


def _change_mask(p: "Process", how: int, new: int) -> None:
    old = p.signals.blocked
    if how == SIG_BLOCK:
        mask = old | new
    elif how == SIG_UNBLOCK:
        mask = old & ~new
    elif how == SIG_SETMASK:
        mask = new
    else:
        raise SyscallError(Errno.EINVAL)
    p.signals.blocked = mask & ~UNBLOCKABLE
    p.host_signals.sync_mask()
    if p.signals.next_deliverable() is not None:
        p.machine.stop()     # something became deliverable: take it on the way out


def sys_rt_sigprocmask(p: "Process", how: int, set_: int, oset: int, sigsetsize: int) -> int:
    if sigsetsize != 8:
        raise SyscallError(Errno.EINVAL)
    old = p.signals.blocked
    new = int.from_bytes(copy_from_user(p.mm, set_, 8), "little") if set_ else None
    if oset:
        copy_to_user(p.mm, oset, old.to_bytes(8, "little"))
    if new is not None:
        _change_mask(p, s32(how), new)
    return 0


def sys_sigprocmask(p: "Process", how: int, set_: int, oset: int) -> int:
    """i386 sigprocmask (126): 32-bit old_sigset_t."""
    old = p.signals.blocked
    new = int.from_bytes(copy_from_user(p.mm, set_, 4), "little") if set_ else None
    if oset:
        copy_to_user(p.mm, oset, (old & 0xFFFFFFFF).to_bytes(4, "little"))
    if new is not None:
        if s32(how) == SIG_SETMASK:
            new |= old & ~0xFFFFFFFF
        _change_mask(p, s32(how), new)
    return 0


def sys_rt_sigpending(p: "Process", set_: int, sigsetsize: int) -> int:
    if sigsetsize > 8:
        raise SyscallError(Errno.EINVAL)
    pending = p.signals.pending_mask() & p.signals.blocked
    copy_to_user(p.mm, set_, pending.to_bytes(8, "little")[:sigsetsize])
    return 0


def _wait_for_signal(p: "Process") -> int:
    """Sleep until a signal is deliverable; the syscall then ends with -ERESTARTNOHAND."""
    from emulator.hostsig import GuestInterrupt
    if p.signals.next_deliverable() is None:
        p.in_blocking_syscall = True
        try:
            p.host_signals.wait()
        except GuestInterrupt:
            pass
        finally:
            p.in_blocking_syscall = False
    raise SyscallError(ERESTARTNOHAND)


def sys_pause(p: "Process") -> int:
    return _wait_for_signal(p)


def sys_rt_sigsuspend(p: "Process", mask: int, sigsetsize: int) -> int:
    if sigsetsize != 8:
        raise SyscallError(Errno.EINVAL)
    new = int.from_bytes(copy_from_user(p.mm, mask, 8), "little")
    p.saved_sigmask = p.signals.blocked
    p.signals.blocked = new & ~UNBLOCKABLE
    p.host_signals.sync_mask()
    return _wait_for_signal(p)


def sys_sigsuspend(p: "Process", a: int, b: int, mask: int) -> int:
    """i386 sigsuspend (72): the mask is the third argument, 32 bits."""
    p.saved_sigmask = p.signals.blocked
    p.signals.blocked = (mask & 0xFFFFFFFF | (p.signals.blocked & ~0xFFFFFFFF)) & ~UNBLOCKABLE
    p.host_signals.sync_mask()
    return _wait_for_signal(p)


def sys_sigaltstack(p: "Process", ss: int, old: int) -> int:
    """Compare Linux's do_sigaltstack."""
    fmt, size = ("<Qi4xQ", 24) if p.arch.word == 8 else ("<IiI", 12)
    alt = p.signals.altstack
    sp = p.machine.sp
    on = alt.on_stack(sp)
    if ss:
        ss_sp, flags, ss_size = struct.unpack(fmt, copy_from_user(p.mm, ss, size))
        if on:
            raise SyscallError(Errno.EPERM)
        mode = flags & ~SS_AUTODISARM
        if mode not in (SS_DISABLE, SS_ONSTACK, 0):
            raise SyscallError(Errno.EINVAL)
        if mode == SS_DISABLE:
            new = AltStack()
        else:
            if ss_size < MINSIGSTKSZ:
                raise SyscallError(Errno.ENOMEM)
            new = AltStack(ss_sp, ss_size, flags & SS_AUTODISARM)
    if old:
        flags_out = SS_ONSTACK if on else alt.flags
        copy_to_user(p.mm, old, struct.pack(fmt, alt.sp, flags_out, alt.size))
    if ss:
        p.signals.altstack = new
    return 0


def sys_rt_sigreturn(p: "Process") -> int:
    p.pending_regs = p.delivery.sigreturn(rt=True)
    p.machine.stop()
    return p.pending_regs.get("rax", p.pending_regs.get("eax", 0))


def sys_sigreturn(p: "Process") -> int:
    p.pending_regs = p.delivery.sigreturn(rt=False)
    p.machine.stop()
    return p.pending_regs.get("eax", 0)


def sys_alarm(p: "Process", seconds: int) -> int:
    """The host's ITIMER_REAL: its SIGALRM reaches the guest through hostsig."""
    return host_signal.alarm(seconds & 0xFFFFFFFF)


def _itimerval(p: "Process", addr: int) -> tuple[float, float]:
    fmt, size = ("<qqqq", 32) if p.arch.word == 8 else ("<iiii", 16)
    isec, iusec, vsec, vusec = struct.unpack(fmt, copy_from_user(p.mm, addr, size))
    if not (0 <= iusec < 1_000_000 and 0 <= vusec < 1_000_000):
        raise SyscallError(Errno.EINVAL)
    return vsec + vusec / 1e6, isec + iusec / 1e6


def _put_itimerval(p: "Process", addr: int, value: float, interval: float) -> None:
    fmt = "<qqqq" if p.arch.word == 8 else "<iiii"

    def split(t: float) -> tuple[int, int]:
        usec = round(t * 1e6)
        return usec // 1_000_000, usec % 1_000_000
    copy_to_user(p.mm, addr, struct.pack(fmt, *split(interval), *split(value)))


def sys_setitimer(p: "Process", which: int, new: int, old: int) -> int:
    if s32(which) != ITIMER_REAL:
        raise SyscallError(Errno.EINVAL)
    if new:
        value, interval = _itimerval(p, new)
        prev = host_signal.setitimer(host_signal.ITIMER_REAL, value, interval)
    else:
        prev = host_signal.getitimer(host_signal.ITIMER_REAL)
    if old:
        _put_itimerval(p, old, *prev)
    return 0


def sys_getitimer(p: "Process", which: int, cur: int) -> int:
    if s32(which) != ITIMER_REAL:
        raise SyscallError(Errno.EINVAL)
    _put_itimerval(p, cur, *host_signal.getitimer(host_signal.ITIMER_REAL))
    return 0
