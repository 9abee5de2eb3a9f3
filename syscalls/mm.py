"""Memory syscalls: thin handlers that call the MM (mmu/mm.py)."""
from __future__ import annotations

import os
import stat as stat_mod
import struct
from typing import TYPE_CHECKING, Optional

from emulator.errors import SyscallError
from mmu.constants import MAP, PAGE_SHIFT, PROT, page_offset
from mmu.uaccess import copy_from_user, copy_to_user
from mmu.vma import MappedFile

from .abi import s32
from .errno import Errno

if TYPE_CHECKING:
    from emulator.process import Process

MADV_DONTNEED = 4
READ_IMPLIES_EXEC = 0x0400000


def sys_brk(p: "Process", brk: int) -> int:
    return p.mm.do_brk(brk)


def _mapped_file(p: "Process", fd: int) -> Optional[MappedFile]:
    """The file behind a guest fd for mmap, or None for /dev/zero (anonymous memory).

    Compare ksys_mmap_pgoff (EBADF) and do_mmap's `!file->f_op->mmap` (ENODEV)."""
    of = p.fds.get(s32(fd))
    try:
        st = os.fstat(of.host_fd)
    except OSError:
        raise SyscallError(Errno.EBADF)
    if stat_mod.S_ISCHR(st.st_mode) and (os.major(st.st_rdev), os.minor(st.st_rdev)) == (1, 5):
        return None                     # /dev/zero: a private mapping is anonymous memory
    if not stat_mod.S_ISREG(st.st_mode):
        raise SyscallError(Errno.ENODEV)
    # The VMA keeps the file after the guest closes its descriptor (the same open file).
    dup = os.dup(of.host_fd)
    return MappedFile(os.readlink(f"/proc/self/fd/{dup}"), dup, st.st_dev, st.st_ino)


def do_mmap(p: "Process", addr: int, length: int, prot: int, flags: int, fd: int,
            offset: int) -> int:
    file: Optional[MappedFile] = None
    if not flags & MAP.ANONYMOUS:
        file = _mapped_file(p, fd)
        if file is None:
            if flags & MAP.TYPE == MAP.PRIVATE:
                flags |= MAP.ANONYMOUS
            else:
                raise SyscallError(Errno.ENODEV)
    if p.personality & READ_IMPLIES_EXEC and prot & PROT.READ:
        prot |= PROT.EXEC
    try:
        return p.mm.do_mmap(addr, length, prot, flags, file, offset)
    except SyscallError:
        if file is not None:
            os.close(file.fd)
        raise


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
    return p.mm.do_madvise(addr, length, s32(advice))


def sys_mremap(p: "Process", addr: int, old_len: int, new_len: int, flags: int,
               new_addr: int) -> int:
    return p.mm.do_mremap(addr, old_len, new_len, flags & 0xFFFFFFFF, new_addr)


def sys_msync(p: "Process", addr: int, length: int, flags: int) -> int:
    return p.mm.do_msync(addr, length, s32(flags))


def sys_mincore(p: "Process", addr: int, length: int, vec: int) -> int:
    """Compare Linux's sys_mincore: the part of the vector before a hole is written, then
    ENOMEM; an unwritable vector is EFAULT."""
    out, err = p.mm.mincore_vec(addr, length)
    copy_to_user(p.mm, vec, out)
    if err is not None:
        raise SyscallError(err)
    return 0
