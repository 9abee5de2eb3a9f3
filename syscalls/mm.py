"""Memory syscalls: thin handlers that call the MM (mmu/mm.py)."""
from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING, Optional

from emulator.errors import SyscallError
from mmu.constants import MAP, PAGE_SHIFT, PAGE_SIZE, PROT, page_offset, page_up
from mmu.uaccess import copy_from_user
from mmu.vma import MappedFile

from .abi import s32
from .errno import Errno

if TYPE_CHECKING:
    from emulator.process import Process

MADV_DONTNEED = 4
READ_IMPLIES_EXEC = 0x0400000


def sys_brk(p: "Process", brk: int) -> int:
    return p.mm.do_brk(brk)


def do_mmap(p: "Process", addr: int, length: int, prot: int, flags: int, fd: int,
            offset: int) -> int:
    file: Optional[MappedFile] = None
    if not flags & MAP.ANONYMOUS:
        of = p.fds.get(s32(fd))
        try:
            st = os.fstat(of.host_fd)
        except OSError:
            raise SyscallError(Errno.EBADF)
        import stat as stat_mod
        if not stat_mod.S_ISREG(st.st_mode):
            raise SyscallError(Errno.ENODEV)
        shared_write = (flags & MAP.TYPE) != MAP.PRIVATE and prot & PROT.WRITE
        if shared_write:
            import fcntl
            if fcntl.fcntl(of.host_fd, fcntl.F_GETFL) & os.O_ACCMODE != os.O_RDWR:
                raise SyscallError(Errno.EACCES)
        # The VMA keeps the file after the guest closes its descriptor.
        dup = os.dup(of.host_fd)
        file = MappedFile(os.readlink(f"/proc/self/fd/{dup}"), dup, st.st_dev, st.st_ino)
    if p.personality & READ_IMPLIES_EXEC and prot & PROT.READ:
        prot |= PROT.EXEC
    return p.mm.do_mmap(addr, length, prot, flags, file, offset)


def sys_mmap(p: "Process", addr: int, length: int, prot: int, flags: int, fd: int,
             offset: int) -> int:
    if page_offset(offset):
        raise SyscallError(Errno.EINVAL)
    return do_mmap(p, addr, length, prot, flags, fd, offset)


def sys_mmap2(p: "Process", addr: int, length: int, prot: int, flags: int, fd: int,
              pgoff: int) -> int:
    return do_mmap(p, addr, length, prot, flags, fd, pgoff << PAGE_SHIFT)


def sys_old_mmap(p: "Process", args: int) -> int:
    """i386 mmap (90): the six arguments in a struct mmap_arg_struct."""
    addr, length, prot, flags, fd, offset = struct.unpack("<6I", copy_from_user(p.mm, args, 24))
    if page_offset(offset):
        raise SyscallError(Errno.EINVAL)
    return do_mmap(p, addr, length, prot, flags, fd, offset)


def sys_munmap(p: "Process", addr: int, length: int) -> int:
    return p.mm.do_munmap(addr, length)


def sys_mprotect(p: "Process", addr: int, length: int, prot: int) -> int:
    if p.personality & READ_IMPLIES_EXEC and prot & PROT.READ:
        prot |= PROT.EXEC
    return p.mm.do_mprotect(addr, length, prot)


def sys_madvise(p: "Process", addr: int, length: int, advice: int) -> int:
    if page_offset(addr):
        raise SyscallError(Errno.EINVAL)
    if advice == MADV_DONTNEED:
        end = addr + page_up(length)
        p.mm.zap_range(addr, end)
        p.mm.flush_tlb()
    return 0
