"""Signal syscalls. The foundation records dispositions and the mask; delivery comes later."""
from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from emulator.errors import SyscallError
from mmu.uaccess import copy_from_user, copy_to_user

from .abi import s32
from .errno import Errno

if TYPE_CHECKING:
    from emulator.process import Process

SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
UNBLOCKABLE = (1 << (9 - 1)) | (1 << (19 - 1))   # SIGKILL, SIGSTOP


def sys_rt_sigaction(p: "Process", sig: int, act: int, oact: int, sigsetsize: int) -> int:
    from emulator.process import SigAction
    sig = s32(sig)
    if sigsetsize != 8:
        raise SyscallError(Errno.EINVAL)
    if not 1 <= sig <= 64 or (act and sig in (9, 19)):
        raise SyscallError(Errno.EINVAL)
    word = p.arch.word
    fmt = "<QQQQ" if word == 8 else "<IIIQ"
    size = struct.calcsize(fmt)
    old = p.sigactions.get(sig, SigAction())
    new = None
    if act:
        handler, flags, restorer, mask = struct.unpack(fmt, copy_from_user(p.mm, act, size))
        new = SigAction(handler, flags, restorer, mask & ~UNBLOCKABLE)
    if oact:
        copy_to_user(p.mm, oact, struct.pack(fmt, old.handler, old.flags, old.restorer, old.mask))
    if new is not None:
        p.sigactions[sig] = new
    return 0


def sys_rt_sigprocmask(p: "Process", how: int, set_: int, oset: int, sigsetsize: int) -> int:
    if sigsetsize != 8:
        raise SyscallError(Errno.EINVAL)
    old = p.sigmask
    if set_:
        new = int.from_bytes(copy_from_user(p.mm, set_, 8), "little")
        how = s32(how)
        if how == SIG_BLOCK:
            mask = old | new
        elif how == SIG_UNBLOCK:
            mask = old & ~new
        elif how == SIG_SETMASK:
            mask = new
        else:
            raise SyscallError(Errno.EINVAL)
        p.sigmask = mask & ~UNBLOCKABLE
    if oset:
        copy_to_user(p.mm, oset, old.to_bytes(8, "little"))
    return 0


def sys_sigaltstack(p: "Process", ss: int, old: int) -> int:
    word = p.arch.word
    fmt = "<Qi4xQ" if word == 8 else "<IiI"
    if old:
        copy_to_user(p.mm, old, struct.pack(fmt, 0, 2, 0))   # SS_DISABLE
    return 0
