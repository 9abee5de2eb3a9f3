"""wait4, waitid, waitpid: a guest's children are pyexec's own host children (fork copies the
whole pyexec process, guest pid = host pid), so the host's wait calls answer for the guest.
The raw host syscalls are used: the wait status and struct rusage come back as the kernel
wrote them, and a signal that interrupts the wait reaches the guest as EINTR, as natively."""
from __future__ import annotations

import ctypes
import struct
from typing import TYPE_CHECKING

from emulator.errors import SyscallError
from mmu.uaccess import copy_to_user, write_word

from . import host as hostsys
from .abi import s32
from .errno import Errno
from .process import RUSAGE_X86_64, rusage_bytes

if TYPE_CHECKING:
    from emulator.process import Process

WNOHANG, WUNTRACED, WEXITED, WCONTINUED = 1, 2, 4, 8
WNOWAIT = 0x01000000
__WNOTHREAD, __WALL, __WCLONE = 0x20000000, 0x40000000, 0x80000000
WAIT4_OPTIONS = WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WALL | __WCLONE
WAITID_OPTIONS = WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | __WNOTHREAD | __WALL \
    | __WCLONE
P_ALL, P_PID, P_PGID, P_PIDFD = 0, 1, 2, 3
NR_WAIT4, NR_WAITID = 61, 247      # the host's


def do_wait4(p: "Process", pid: int, status: int, options: int, rusage: int) -> int:
    """Compare Linux's kernel_wait4: status and rusage are written only for a reaped child."""
    options &= 0xFFFFFFFF
    if options & ~WAIT4_OPTIONS:
        raise SyscallError(Errno.EINVAL)
    if s32(pid) == -0x80000000:       # INT_MIN: -pid would overflow
        raise SyscallError(Errno.ESRCH)
    wstatus = ctypes.c_int(0)
    ru = ctypes.create_string_buffer(144)
    child = hostsys.interruptible(p, hostsys.syscall, NR_WAIT4, s32(pid),
                                  ctypes.addressof(wstatus), options, ru)
    if child > 0:
        if status:
            write_word(p.mm, status, wstatus.value, 4)
        if rusage:
            copy_to_user(p.mm, rusage, rusage_bytes(p, list(struct.unpack(RUSAGE_X86_64,
                                                                          ru.raw))))
    return child


def sys_wait4(p: "Process", pid: int, status: int, options: int, rusage: int) -> int:
    return do_wait4(p, pid, status, options, rusage)


def sys_waitpid(p: "Process", pid: int, status: int, options: int) -> int:
    """i386's waitpid: wait4 without rusage."""
    return do_wait4(p, pid, status, options, 0)


# siginfo_t for SIGCHLD: signo, errno, code, then the union (8-aligned on x86-64).
SIGCHLD_INFO_X86_64 = "<iii4xiii"
SIGCHLD_INFO_I386 = "<iiiiii"


def sys_waitid(p: "Process", idtype: int, id_: int, infop: int, options: int,
               rusage: int) -> int:
    """Compare Linux's waitid: with WNOHANG and no child ready it returns 0 and writes zeros
    to the siginfo fields it owns (si_signo, si_errno, si_code, si_pid, si_uid, si_status)."""
    options &= 0xFFFFFFFF
    if options & ~WAITID_OPTIONS or not options & (WEXITED | WUNTRACED | WCONTINUED):
        raise SyscallError(Errno.EINVAL)
    idtype = s32(idtype)
    if idtype not in (P_ALL, P_PID, P_PGID):
        # P_PIDFD would name a host pidfd: the guest has none to give.
        raise SyscallError(Errno.EINVAL)
    info = ctypes.create_string_buffer(128)
    ru = ctypes.create_string_buffer(144)
    hostsys.interruptible(p, hostsys.syscall, NR_WAITID, idtype, s32(id_), info, options, ru)
    signo, errno_, code, pid, uid, status = struct.unpack_from(SIGCHLD_INFO_X86_64, info.raw)
    if infop:
        layout = SIGCHLD_INFO_X86_64 if p.arch.word == 8 else SIGCHLD_INFO_I386
        copy_to_user(p.mm, infop, struct.pack(layout, signo, errno_, code, pid, uid, status))
    if rusage:
        copy_to_user(p.mm, rusage, rusage_bytes(p, list(struct.unpack(RUSAGE_X86_64, ru.raw))))
    return 0
