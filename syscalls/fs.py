"""File syscalls: thin handlers over the host's files, through the guest's fd table."""
from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING, List, Tuple

from emulator.errors import SyscallError
from emulator.fdtable import FD_CLOEXEC, OpenFile
from mmu.uaccess import copy_from_user, copy_to_user, strncpy_from_user, write_word

from . import abi, proc as procfs
from .abi import s32, s64
from .errno import Errno, from_oserror

if TYPE_CHECKING:
    from emulator.process import Process

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_EMPTY_PATH = 0x1000
AT_REMOVEDIR = 0x200
O_CLOEXEC = 0o2000000
O_ACCMODE = 3
MAX_IO = 0x7FFFF000          # Linux's MAX_RW_COUNT
TCGETS, TIOCGWINSZ = 0x5401, 0x5413
F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC = 0, 1, 2, 3, 4, 1030


def _host(p: "Process", fd: int) -> int:
    return p.fds.host(s32(fd))


def _path(p: "Process", addr: int) -> str:
    if addr == 0:
        raise SyscallError(Errno.EFAULT)
    raw = strncpy_from_user(p.mm, addr, 4096)
    if not raw:
        raise SyscallError(Errno.ENOENT)
    return os.fsdecode(raw)


def _dirfd_path(p: "Process", dirfd: int, path: str) -> str:
    """Resolve a *at() path against dirfd on the host (absolute paths ignore dirfd)."""
    dfd = s32(dirfd)
    if path.startswith("/") or dfd == AT_FDCWD:
        return path
    host = p.fds.host(dfd)
    return os.path.join(f"/proc/self/fd/{host}", path)


def _oserr(exc: OSError) -> SyscallError:
    return SyscallError(from_oserror(exc))


# --- read / write -------------------------------------------------------------------------
def sys_read(p: "Process", fd: int, buf: int, count: int) -> int:
    host = _host(p, fd)
    try:
        data = os.read(host, min(count, MAX_IO))
    except OSError as exc:
        raise _oserr(exc)
    copy_to_user(p.mm, buf, data)
    return len(data)


def sys_write(p: "Process", fd: int, buf: int, count: int) -> int:
    host = _host(p, fd)
    data = copy_from_user(p.mm, buf, min(count, MAX_IO))
    try:
        return os.write(host, data)
    except BrokenPipeError:
        p.send_signal_self(13)   # SIGPIPE
        raise SyscallError(Errno.EPIPE)
    except OSError as exc:
        raise _oserr(exc)


def sys_pread64(p: "Process", fd: int, buf: int, count: int, offset: int) -> int:
    host = _host(p, fd)
    try:
        data = os.pread(host, min(count, MAX_IO), s64(offset))
    except OSError as exc:
        raise _oserr(exc)
    copy_to_user(p.mm, buf, data)
    return len(data)


def sys_pwrite64(p: "Process", fd: int, buf: int, count: int, offset: int) -> int:
    host = _host(p, fd)
    try:
        return os.pwrite(host, copy_from_user(p.mm, buf, min(count, MAX_IO)), s64(offset))
    except OSError as exc:
        raise _oserr(exc)


def sys_pread64_i386(p: "Process", fd: int, buf: int, count: int, lo: int, hi: int) -> int:
    return sys_pread64(p, fd, buf, count, lo | (hi << 32))


def sys_pwrite64_i386(p: "Process", fd: int, buf: int, count: int, lo: int, hi: int) -> int:
    return sys_pwrite64(p, fd, buf, count, lo | (hi << 32))


def _iovecs(p: "Process", iov: int, iovcnt: int) -> List[Tuple[int, int]]:
    n = s32(iovcnt)
    if n < 0 or n > 1024:
        raise SyscallError(Errno.EINVAL)
    word = p.arch.word
    raw = copy_from_user(p.mm, iov, 2 * word * n)
    fmt = "<" + ("Q" if word == 8 else "I") * (2 * n)
    vals = struct.unpack(fmt, raw)
    return [(vals[2 * i], vals[2 * i + 1]) for i in range(n)]


def sys_readv(p: "Process", fd: int, iov: int, iovcnt: int) -> int:
    host = _host(p, fd)
    total = 0
    for base, length in _iovecs(p, iov, iovcnt):
        if length == 0:
            continue
        try:
            data = os.read(host, length)
        except OSError as exc:
            if total:
                break
            raise _oserr(exc)
        copy_to_user(p.mm, base, data)
        total += len(data)
        if len(data) < length:
            break
    return total


def sys_writev(p: "Process", fd: int, iov: int, iovcnt: int) -> int:
    host = _host(p, fd)
    data = b"".join(copy_from_user(p.mm, base, length) for base, length in _iovecs(p, iov, iovcnt))
    if not data:
        return 0
    try:
        return os.write(host, data)
    except BrokenPipeError:
        p.send_signal_self(13)
        raise SyscallError(Errno.EPIPE)
    except OSError as exc:
        raise _oserr(exc)


# --- open / close / seek ------------------------------------------------------------------
def do_open(p: "Process", dirfd: int, path: str, flags: int, mode: int) -> int:
    flags = s32(flags)
    virtual = procfs.open_virtual(p, path)
    try:
        if virtual is not None:
            host = virtual
        else:
            host = os.open(_dirfd_path(p, dirfd, path), flags | os.O_CLOEXEC, mode & 0o7777)
    except OSError as exc:
        raise _oserr(exc)
    return p.fds.install(OpenFile(host, path, bool(flags & O_CLOEXEC)))


def sys_open(p: "Process", path: int, flags: int, mode: int) -> int:
    return do_open(p, AT_FDCWD, _path(p, path), flags, mode)


def sys_openat(p: "Process", dirfd: int, path: int, flags: int, mode: int) -> int:
    return do_open(p, dirfd, _path(p, path), flags, mode)


def sys_creat(p: "Process", path: int, mode: int) -> int:
    return do_open(p, AT_FDCWD, _path(p, path), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, mode)


def sys_close(p: "Process", fd: int) -> int:
    p.fds.close(s32(fd))
    return 0


def sys_lseek(p: "Process", fd: int, offset: int, whence: int) -> int:
    host = _host(p, fd)
    off = s64(offset) if p.arch.word == 8 else s32(offset)
    try:
        return os.lseek(host, off, s32(whence))
    except OSError as exc:
        raise _oserr(exc)


def sys_llseek(p: "Process", fd: int, hi: int, lo: int, result: int, whence: int) -> int:
    host = _host(p, fd)
    try:
        pos = os.lseek(host, s64((hi << 32) | lo), s32(whence))
    except OSError as exc:
        raise _oserr(exc)
    write_word(p.mm, result, pos, 8)
    return 0


def sys_dup(p: "Process", fd: int) -> int:
    of = p.fds.get(s32(fd))
    return p.fds.install(OpenFile(os.dup(of.host_fd), of.path))


def sys_dup3(p: "Process", old: int, new: int, flags: int) -> int:
    old, new = s32(old), s32(new)
    if old == new:
        raise SyscallError(Errno.EINVAL)
    of = p.fds.get(old)
    if new < 0 or new >= 1024:
        raise SyscallError(Errno.EBADF)
    p.fds.install_at(new, OpenFile(os.dup(of.host_fd), of.path, bool(flags & O_CLOEXEC)))
    return new


def sys_dup2(p: "Process", old: int, new: int) -> int:
    if s32(old) == s32(new):
        p.fds.get(s32(old))
        return s32(new)
    return sys_dup3(p, old, new, 0)


def sys_fcntl(p: "Process", fd: int, cmd: int, arg: int) -> int:
    of = p.fds.get(s32(fd))
    cmd = s32(cmd)
    if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
        return p.fds.install(OpenFile(os.dup(of.host_fd), of.path, cmd == F_DUPFD_CLOEXEC), s32(arg))
    if cmd == F_GETFD:
        return FD_CLOEXEC if of.cloexec else 0
    if cmd == F_SETFD:
        of.cloexec = bool(arg & FD_CLOEXEC)
        return 0
    if cmd == F_GETFL:
        import fcntl
        return fcntl.fcntl(of.host_fd, fcntl.F_GETFL) & ~os.O_CLOEXEC
    if cmd == F_SETFL:
        import fcntl
        try:
            return fcntl.fcntl(of.host_fd, fcntl.F_SETFL, arg)
        except OSError as exc:
            raise _oserr(exc)
    raise SyscallError(Errno.EINVAL)


def sys_ioctl(p: "Process", fd: int, request: int, arg: int) -> int:
    host = _host(p, fd)
    request &= 0xFFFFFFFF
    import fcntl
    if request == TCGETS:
        if not os.isatty(host):
            raise SyscallError(Errno.ENOTTY)
        try:
            data = fcntl.ioctl(host, TCGETS, bytes(60))
        except OSError as exc:
            raise _oserr(exc)
        copy_to_user(p.mm, arg, data[:36])   # struct termios (kernel's, 36 bytes)
        return 0
    if request == TIOCGWINSZ:
        if not os.isatty(host):
            raise SyscallError(Errno.ENOTTY)
        try:
            data = fcntl.ioctl(host, TIOCGWINSZ, bytes(8))
        except OSError as exc:
            raise _oserr(exc)
        copy_to_user(p.mm, arg, data)
        return 0
    if not os.isatty(host):
        raise SyscallError(Errno.ENOTTY)
    raise SyscallError(Errno.EINVAL)


# --- stat ---------------------------------------------------------------------------------
def _stat(p: "Process", dirfd: int, path: str, flags: int) -> os.stat_result:
    try:
        if path == "" and flags & AT_EMPTY_PATH:
            return os.fstat(p.fds.host(s32(dirfd)))
        if path == "":
            raise SyscallError(Errno.ENOENT)
        virtual = procfs.stat_virtual(p, path)
        if virtual is not None:
            return virtual
        return os.stat(_dirfd_path(p, dirfd, path), follow_symlinks=not flags & AT_SYMLINK_NOFOLLOW)
    except OSError as exc:
        raise _oserr(exc)


def _put_stat(p: "Process", buf: int, st: os.stat_result, i386_layout: str = "stat64") -> int:
    if p.arch.word == 8:
        data = abi.stat_x86_64(st)
    elif i386_layout == "stat64":
        data = abi.stat64_i386(st)
    else:
        data = abi.stat_i386(st)
    copy_to_user(p.mm, buf, data)
    return 0


def sys_stat(p: "Process", path: int, buf: int) -> int:
    return _put_stat(p, buf, _stat(p, AT_FDCWD, _path(p, path), 0), "stat")


def sys_lstat(p: "Process", path: int, buf: int) -> int:
    return _put_stat(p, buf, _stat(p, AT_FDCWD, _path(p, path), AT_SYMLINK_NOFOLLOW), "stat")


def sys_fstat(p: "Process", fd: int, buf: int) -> int:
    try:
        st = os.fstat(_host(p, fd))
    except OSError as exc:
        raise _oserr(exc)
    return _put_stat(p, buf, st, "stat")


def sys_stat64(p: "Process", path: int, buf: int) -> int:
    return _put_stat(p, buf, _stat(p, AT_FDCWD, _path(p, path), 0))


def sys_lstat64(p: "Process", path: int, buf: int) -> int:
    return _put_stat(p, buf, _stat(p, AT_FDCWD, _path(p, path), AT_SYMLINK_NOFOLLOW))


def sys_fstat64(p: "Process", fd: int, buf: int) -> int:
    try:
        st = os.fstat(_host(p, fd))
    except OSError as exc:
        raise _oserr(exc)
    return _put_stat(p, buf, st)


def sys_newfstatat(p: "Process", dirfd: int, path: int, buf: int, flags: int) -> int:
    return _put_stat(p, buf, _stat(p, dirfd, _path_or_empty(p, path, flags), flags))


def _path_or_empty(p: "Process", addr: int, flags: int) -> str:
    if flags & AT_EMPTY_PATH:
        return os.fsdecode(strncpy_from_user(p.mm, addr, 4096)) if addr else ""
    return _path(p, addr)


def sys_statx(p: "Process", dirfd: int, path: int, flags: int, mask: int, buf: int) -> int:
    st = _stat(p, dirfd, _path_or_empty(p, path, flags), flags)
    copy_to_user(p.mm, buf, abi.statx_struct(st, mask))
    return 0


# --- names --------------------------------------------------------------------------------
def do_readlink(p: "Process", dirfd: int, path: str, buf: int, size: int) -> int:
    if s32(size) <= 0:
        raise SyscallError(Errno.EINVAL)
    target = procfs.readlink_virtual(p, path)
    if target is None:
        try:
            target = os.readlink(_dirfd_path(p, dirfd, path))
        except OSError as exc:
            raise _oserr(exc)
    data = os.fsencode(target)[:size]
    copy_to_user(p.mm, buf, data)
    return len(data)


def sys_readlink(p: "Process", path: int, buf: int, size: int) -> int:
    return do_readlink(p, AT_FDCWD, _path(p, path), buf, size)


def sys_readlinkat(p: "Process", dirfd: int, path: int, buf: int, size: int) -> int:
    return do_readlink(p, dirfd, _path(p, path), buf, size)


def sys_access(p: "Process", path: int, mode: int) -> int:
    return sys_faccessat(p, AT_FDCWD & 0xFFFFFFFF, path, mode)


def sys_faccessat(p: "Process", dirfd: int, path: int, mode: int) -> int:
    name = _dirfd_path(p, dirfd, _path(p, path))
    if not os.path.lexists(name) and procfs.stat_virtual(p, name) is None:
        raise SyscallError(Errno.ENOENT)
    if not os.access(name, s32(mode)):
        raise SyscallError(Errno.EACCES)
    return 0


def sys_getcwd(p: "Process", buf: int, size: int) -> int:
    cwd = os.fsencode(os.getcwd()) + b"\0"
    if len(cwd) > size:
        raise SyscallError(Errno.ERANGE)
    copy_to_user(p.mm, buf, cwd)
    return len(cwd)


def sys_unlink(p: "Process", path: int) -> int:
    try:
        os.unlink(_path(p, path))
    except OSError as exc:
        raise _oserr(exc)
    return 0


def sys_unlinkat(p: "Process", dirfd: int, path: int, flags: int) -> int:
    name = _dirfd_path(p, dirfd, _path(p, path))
    try:
        if flags & AT_REMOVEDIR:
            os.rmdir(name)
        else:
            os.unlink(name)
    except OSError as exc:
        raise _oserr(exc)
    return 0
