"""File syscalls: thin handlers over the host's files, through the guest's fd table."""
from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING, List, Optional, Tuple

from emulator.errors import SyscallError
from emulator.fdtable import FD_CLOEXEC, OpenFile
from mmu.uaccess import access_ok, copy_from_user, copy_to_user, strncpy_from_user, write_word

from . import abi, host as hostsys, proc as procfs
from .abi import s32, s64
from .errno import Errno, from_oserror

if TYPE_CHECKING:
    from emulator.process import Process

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_REMOVEDIR = 0x200
AT_SYMLINK_FOLLOW = 0x400
AT_EACCESS = 0x200
AT_EMPTY_PATH = 0x1000
O_NONBLOCK = 0o4000
O_DIRECT = 0o40000
O_CLOEXEC = 0o2000000
O_ACCMODE = 3
MAX_IO = 0x7FFFF000          # Linux's MAX_RW_COUNT
TCGETS, TIOCGWINSZ = 0x5401, 0x5413
F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC = 0, 1, 2, 3, 4, 1030
F_GETLK, F_SETLK, F_SETLKW = 5, 6, 7
F_GETLK64, F_SETLK64, F_SETLKW64 = 12, 13, 14          # i386 fcntl64 only
F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW = 36, 37, 38
# Commands whose argument is an int (or unused): the host does them for the guest's file.
F_SETOWN, F_GETOWN, F_SETSIG, F_GETSIG = 8, 9, 10, 11
F_SETLEASE, F_GETLEASE, F_NOTIFY = 1024, 1025, 1026
F_SETPIPE_SZ, F_GETPIPE_SZ, F_ADD_SEALS, F_GET_SEALS = 1031, 1032, 1033, 1034
FCNTL_INT_PASSTHROUGH = {F_SETOWN, F_GETOWN, F_SETSIG, F_GETSIG, F_SETLEASE, F_GETLEASE,
                         F_NOTIFY, F_SETPIPE_SZ, F_GETPIPE_SZ, F_ADD_SEALS, F_GET_SEALS}
# struct flock: the host's (x86-64), the i386 one (compat_flock) and i386's flock64.
FLOCK_X86_64 = "<hh4xqqi4x"
FLOCK_I386 = "<hhiii"
FLOCK64_I386 = "<hhqqi"


def _host(p: "Process", fd: int) -> int:
    return p.fds.host(s32(fd))


def _path(p: "Process", addr: int, follow: bool = True) -> str:
    """A path argument as the host names the same file (see proc.host_path); follow=False
    for calls that do not follow a final symlink."""
    if addr == 0:
        raise SyscallError(Errno.EFAULT)
    raw = strncpy_from_user(p.mm, addr, 4096)
    if not raw:
        raise SyscallError(Errno.ENOENT)
    return procfs.host_path(p, os.fsdecode(raw), follow)


def _guest_path(p: "Process", addr: int) -> str:
    """A path argument as the guest wrote it (readlink translates it itself)."""
    if addr == 0:
        raise SyscallError(Errno.EFAULT)
    raw = strncpy_from_user(p.mm, addr, 4096)
    if not raw:
        raise SyscallError(Errno.ENOENT)
    return os.fsdecode(raw)


def _dir_fd(p: "Process", dirfd: int, path: str) -> Optional[int]:
    """The os module's dir_fd for a *at() call: None for AT_FDCWD and for absolute paths
    (which ignore dirfd, as Linux's path walk does), else the host descriptor."""
    dfd = s32(dirfd)
    if dfd == AT_FDCWD or path.startswith("/"):
        return None
    return p.fds.host(dfd)


def _host_dirfd(p: "Process", dirfd: int, path: str) -> int:
    """The same for raw host *at() syscalls: AT_FDCWD stays AT_FDCWD."""
    dfd = _dir_fd(p, dirfd, path)
    return AT_FDCWD if dfd is None else dfd


def _oserr(exc: OSError) -> SyscallError:
    return SyscallError(from_oserror(exc))


# --- read / write -------------------------------------------------------------------------
def sys_read(p: "Process", fd: int, buf: int, count: int) -> int:
    host = _host(p, fd)
    access_ok(p.mm, buf, min(count, MAX_IO))
    try:
        data = hostsys.interruptible(p, hostsys.read, host, min(count, MAX_IO))
    except OSError as exc:
        raise _oserr(exc)
    copy_to_user(p.mm, buf, data)
    return len(data)


def sys_write(p: "Process", fd: int, buf: int, count: int) -> int:
    host = _host(p, fd)
    data = copy_from_user(p.mm, buf, min(count, MAX_IO))
    try:
        return hostsys.interruptible(p, hostsys.write, host, data)
    except OSError as exc:
        raise _oserr(exc)


def sys_pread64(p: "Process", fd: int, buf: int, count: int, offset: int) -> int:
    host = _host(p, fd)
    access_ok(p.mm, buf, min(count, MAX_IO))
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
            data = hostsys.interruptible(p, hostsys.read, host, length) if not total else \
                hostsys.read(host, length)
        except (OSError, SyscallError) as exc:
            if total:
                break
            raise exc if isinstance(exc, SyscallError) else _oserr(exc)
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
        return hostsys.interruptible(p, hostsys.write, host, data)
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
            # Interruptible: opening a FIFO waits for the other end.
            host = hostsys.interruptible(p, hostsys.openat, _host_dirfd(p, dirfd, path), path,
                                         flags | os.O_CLOEXEC, mode & 0o7777)
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


def _seek(p: "Process", fd: int, offset: int, whence: int) -> int:
    of = p.fds.get(s32(fd))
    if of.dir_cookies is not None and whence == os.SEEK_SET:
        offset = of.dir_cookies.get(offset, offset)
    try:
        pos = os.lseek(of.host_fd, offset, whence)
    except OSError as exc:
        raise _oserr(exc)
    if of.dir_cookies is not None:
        pos = dir_cookie(of, pos)
    return pos


def sys_lseek(p: "Process", fd: int, offset: int, whence: int) -> int:
    if p.arch.word == 8:
        return _seek(p, fd, s64(offset), s32(whence))
    pos = _seek(p, fd, s32(offset), s32(whence))
    if pos > 0x7FFFFFFF:      # compat lseek: what a 32-bit off_t cannot hold
        raise SyscallError(Errno.EOVERFLOW)
    return pos


def sys_llseek(p: "Process", fd: int, hi: int, lo: int, result: int, whence: int) -> int:
    pos = _seek(p, fd, s64((hi << 32) | lo), s32(whence))
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


def _fcntl_lock(p: "Process", host: int, cmd: int, arg: int, layout: str) -> int:
    """F_GETLK/F_SETLK/F_SETLKW (and the OFD ones): the host locks its file for the guest;
    only struct flock is converted between the guest's layout and the host's."""
    size = struct.calcsize(layout)
    l_type, whence, start, length, pid = struct.unpack(layout, copy_from_user(p.mm, arg, size))
    host_cmd = {F_GETLK64: F_GETLK, F_SETLK64: F_SETLK, F_SETLKW64: F_SETLKW}.get(cmd, cmd)
    import fcntl
    try:
        out = fcntl.fcntl(host, host_cmd, struct.pack(FLOCK_X86_64, l_type, whence, start,
                                                      length, pid))
    except OSError as exc:
        raise _oserr(exc)
    if host_cmd in (F_GETLK, F_OFD_GETLK):
        l_type, whence, start, length, pid = struct.unpack(FLOCK_X86_64, out)
        if layout == FLOCK_I386 and not (-2**31 <= start < 2**31 and -2**31 <= length < 2**31):
            raise SyscallError(Errno.EOVERFLOW)
        copy_to_user(p.mm, arg, struct.pack(layout, l_type, whence, start, length, pid))
    return 0


def do_fcntl(p: "Process", fd: int, cmd: int, arg: int, flock64: bool) -> int:
    of = p.fds.get(s32(fd))
    cmd = s32(cmd)
    import fcntl
    if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
        if s32(arg) < 0 or s32(arg) >= p.fds.limit():
            raise SyscallError(Errno.EINVAL)
        return p.fds.install(OpenFile(os.dup(of.host_fd), of.path, cmd == F_DUPFD_CLOEXEC),
                             s32(arg))
    if cmd == F_GETFD:
        return FD_CLOEXEC if of.cloexec else 0
    if cmd == F_SETFD:
        of.cloexec = bool(arg & FD_CLOEXEC)
        return 0
    try:
        if cmd == F_GETFL:
            return fcntl.fcntl(of.host_fd, fcntl.F_GETFL)
        if cmd == F_SETFL:
            return fcntl.fcntl(of.host_fd, fcntl.F_SETFL, s32(arg))
        if cmd in FCNTL_INT_PASSTHROUGH:
            return fcntl.fcntl(of.host_fd, cmd, s32(arg))
    except OSError as exc:
        raise _oserr(exc)
    if cmd in (F_GETLK, F_SETLK, F_SETLKW):
        return _fcntl_lock(p, of.host_fd, cmd, arg,
                           FLOCK_X86_64 if p.arch.word == 8 else FLOCK_I386)
    if cmd in (F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW):
        return _fcntl_lock(p, of.host_fd, cmd, arg,
                           FLOCK_X86_64 if p.arch.word == 8 else FLOCK64_I386)
    if flock64 and cmd in (F_GETLK64, F_SETLK64, F_SETLKW64):
        return _fcntl_lock(p, of.host_fd, cmd, arg, FLOCK64_I386)
    raise SyscallError(Errno.EINVAL)


def sys_fcntl(p: "Process", fd: int, cmd: int, arg: int) -> int:
    return do_fcntl(p, fd, cmd, arg, False)


def sys_fcntl64(p: "Process", fd: int, cmd: int, arg: int) -> int:
    """i386 fcntl64: F_GETLK64/F_SETLK64/F_SETLKW64 take struct flock64."""
    return do_fcntl(p, fd, cmd, arg, True)


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
        virtual = procfs.stat_virtual(p, path) if not flags & AT_SYMLINK_NOFOLLOW else None
        if virtual is not None:
            return virtual
        return os.stat(path, dir_fd=_dir_fd(p, dirfd, path),
                       follow_symlinks=not flags & AT_SYMLINK_NOFOLLOW)
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
    return _put_stat(p, buf, _stat(p, AT_FDCWD, _path(p, path, False), AT_SYMLINK_NOFOLLOW),
                     "stat")


def sys_fstat(p: "Process", fd: int, buf: int) -> int:
    try:
        st = os.fstat(_host(p, fd))
    except OSError as exc:
        raise _oserr(exc)
    return _put_stat(p, buf, st, "stat")


def sys_stat64(p: "Process", path: int, buf: int) -> int:
    return _put_stat(p, buf, _stat(p, AT_FDCWD, _path(p, path), 0))


def sys_lstat64(p: "Process", path: int, buf: int) -> int:
    return _put_stat(p, buf, _stat(p, AT_FDCWD, _path(p, path, False), AT_SYMLINK_NOFOLLOW))


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
        raw = os.fsdecode(strncpy_from_user(p.mm, addr, 4096)) if addr else ""
        return procfs.host_path(p, raw, not flags & AT_SYMLINK_NOFOLLOW) if raw else ""
    return _path(p, addr, not flags & AT_SYMLINK_NOFOLLOW)


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
        path = procfs.host_path(p, path, follow=False)
        try:
            target = os.readlink(path, dir_fd=_dir_fd(p, dirfd, path))
        except OSError as exc:
            raise _oserr(exc)
    data = os.fsencode(target)[:size]
    copy_to_user(p.mm, buf, data)
    return len(data)


def sys_readlink(p: "Process", path: int, buf: int, size: int) -> int:
    # The guest's own path: /proc/self/exe is a link to read, not the file it names.
    return do_readlink(p, AT_FDCWD, _guest_path(p, path), buf, size)


def sys_readlinkat(p: "Process", dirfd: int, path: int, buf: int, size: int) -> int:
    return do_readlink(p, dirfd, _guest_path(p, path), buf, size)


NR_FACCESSAT2 = 439      # the host's


def do_faccessat(p: "Process", dirfd: int, path: str, mode: int, flags: int) -> int:
    """Compare Linux's do_faccessat: the host checks its own file, errno and all."""
    if mode & ~7:
        raise SyscallError(Errno.EINVAL)
    if flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise SyscallError(Errno.EINVAL)
    hostsys.syscall(NR_FACCESSAT2, _host_dirfd(p, dirfd, path), os.fsencode(path), mode, flags)
    return 0


def sys_access(p: "Process", path: int, mode: int) -> int:
    return do_faccessat(p, AT_FDCWD, _path(p, path), mode, 0)


def sys_faccessat(p: "Process", dirfd: int, path: int, mode: int) -> int:
    return do_faccessat(p, dirfd, _path(p, path), mode, 0)


def sys_faccessat2(p: "Process", dirfd: int, path: int, mode: int, flags: int) -> int:
    return do_faccessat(p, dirfd, _path_or_empty(p, path, flags), mode, flags)


def sys_getcwd(p: "Process", buf: int, size: int) -> int:
    try:
        cwd = os.fsencode(os.getcwd()) + b"\0"
    except FileNotFoundError:
        cwd = b"(unreachable)/\0"
    if len(cwd) > size:
        raise SyscallError(Errno.ERANGE)
    copy_to_user(p.mm, buf, cwd)
    return len(cwd)


def sys_chdir(p: "Process", path: int) -> int:
    try:
        os.chdir(_path(p, path))
    except OSError as exc:
        raise _oserr(exc)
    return 0


def sys_fchdir(p: "Process", fd: int) -> int:
    try:
        os.fchdir(_host(p, fd))
    except OSError as exc:
        raise _oserr(exc)
    return 0


def do_mkdirat(p: "Process", dirfd: int, path: str, mode: int) -> int:
    try:
        os.mkdir(path, mode & 0o7777, dir_fd=_dir_fd(p, dirfd, path))
    except OSError as exc:
        raise _oserr(exc)
    return 0


def sys_mkdir(p: "Process", path: int, mode: int) -> int:
    return do_mkdirat(p, AT_FDCWD, _path(p, path), mode)


def sys_mkdirat(p: "Process", dirfd: int, path: int, mode: int) -> int:
    return do_mkdirat(p, dirfd, _path(p, path), mode)


def do_mknodat(p: "Process", dirfd: int, path: str, mode: int, dev: int) -> int:
    try:
        os.mknod(path, mode & 0xFFFF, dev & 0xFFFFFFFF, dir_fd=_dir_fd(p, dirfd, path))
    except OSError as exc:
        raise _oserr(exc)
    return 0


def sys_mknod(p: "Process", path: int, mode: int, dev: int) -> int:
    return do_mknodat(p, AT_FDCWD, _path(p, path), mode, dev)


def sys_mknodat(p: "Process", dirfd: int, path: int, mode: int, dev: int) -> int:
    return do_mknodat(p, dirfd, _path(p, path), mode, dev)


def sys_rmdir(p: "Process", path: int) -> int:
    try:
        os.rmdir(_path(p, path, False))
    except OSError as exc:
        raise _oserr(exc)
    return 0


def sys_unlink(p: "Process", path: int) -> int:
    try:
        os.unlink(_path(p, path, False))
    except OSError as exc:
        raise _oserr(exc)
    return 0


def sys_unlinkat(p: "Process", dirfd: int, path: int, flags: int) -> int:
    if flags & ~AT_REMOVEDIR:
        raise SyscallError(Errno.EINVAL)
    name = _path(p, path, False)
    try:
        if flags & AT_REMOVEDIR:
            os.rmdir(name, dir_fd=_dir_fd(p, dirfd, name))
        else:
            os.unlink(name, dir_fd=_dir_fd(p, dirfd, name))
    except OSError as exc:
        raise _oserr(exc)
    return 0


NR_RENAMEAT2 = 316       # the host's


def do_renameat2(p: "Process", olddirfd: int, old: str, newdirfd: int, new: str,
                 flags: int) -> int:
    hostsys.syscall(NR_RENAMEAT2, _host_dirfd(p, olddirfd, old), os.fsencode(old),
                    _host_dirfd(p, newdirfd, new), os.fsencode(new), flags & 0xFFFFFFFF)
    return 0


def sys_rename(p: "Process", old: int, new: int) -> int:
    return do_renameat2(p, AT_FDCWD, _path(p, old, False), AT_FDCWD, _path(p, new, False), 0)


def sys_renameat(p: "Process", olddirfd: int, old: int, newdirfd: int, new: int) -> int:
    return do_renameat2(p, olddirfd, _path(p, old, False), newdirfd, _path(p, new, False), 0)


def sys_renameat2(p: "Process", olddirfd: int, old: int, newdirfd: int, new: int,
                  flags: int) -> int:
    return do_renameat2(p, olddirfd, _path(p, old, False), newdirfd, _path(p, new, False),
                        flags)


def do_linkat(p: "Process", olddirfd: int, old: str, newdirfd: int, new: str,
              flags: int) -> int:
    if flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH):
        raise SyscallError(Errno.EINVAL)
    try:
        os.link(old, new, src_dir_fd=_dir_fd(p, olddirfd, old),
                dst_dir_fd=_dir_fd(p, newdirfd, new),
                follow_symlinks=bool(flags & AT_SYMLINK_FOLLOW))
    except OSError as exc:
        raise _oserr(exc)
    return 0


def sys_link(p: "Process", old: int, new: int) -> int:
    return do_linkat(p, AT_FDCWD, _path(p, old), AT_FDCWD, _path(p, new), 0)


def sys_linkat(p: "Process", olddirfd: int, old: int, newdirfd: int, new: int,
               flags: int) -> int:
    return do_linkat(p, olddirfd, _path(p, old), newdirfd, _path(p, new), flags)


def do_symlinkat(p: "Process", target: bytes, newdirfd: int, new: str) -> int:
    try:
        os.symlink(target, os.fsencode(new), dir_fd=_dir_fd(p, newdirfd, new))
    except OSError as exc:
        raise _oserr(exc)
    return 0


def _link_target(p: "Process", addr: int) -> bytes:
    """A symlink's contents: stored as given, never translated."""
    if addr == 0:
        raise SyscallError(Errno.EFAULT)
    raw = strncpy_from_user(p.mm, addr, 4096)
    if not raw:
        raise SyscallError(Errno.ENOENT)
    return raw


def sys_symlink(p: "Process", target: int, new: int) -> int:
    return do_symlinkat(p, _link_target(p, target), AT_FDCWD, _path(p, new, False))


def sys_symlinkat(p: "Process", target: int, newdirfd: int, new: int) -> int:
    return do_symlinkat(p, _link_target(p, target), newdirfd, _path(p, new, False))


# --- attributes ---------------------------------------------------------------------------
def do_fchmodat(p: "Process", dirfd: int, path: str, mode: int) -> int:
    try:
        os.chmod(path, mode & 0o7777, dir_fd=_dir_fd(p, dirfd, path))
    except OSError as exc:
        raise _oserr(exc)
    return 0


def sys_chmod(p: "Process", path: int, mode: int) -> int:
    return do_fchmodat(p, AT_FDCWD, _path(p, path), mode)


def sys_fchmodat(p: "Process", dirfd: int, path: int, mode: int) -> int:
    return do_fchmodat(p, dirfd, _path(p, path), mode)


def sys_fchmod(p: "Process", fd: int, mode: int) -> int:
    try:
        os.fchmod(_host(p, fd), mode & 0o7777)
    except OSError as exc:
        raise _oserr(exc)
    return 0


def _id32(v: int) -> int:
    """A uid_t/gid_t argument: (uid_t)-1 means "leave unchanged", as for the os module."""
    v &= 0xFFFFFFFF
    return -1 if v == 0xFFFFFFFF else v


def _id16(v: int) -> int:
    """i386's old 16-bit ids (old_uid_t): (old_uid_t)-1 is -1 too (compare low2highuid)."""
    v &= 0xFFFF
    return -1 if v == 0xFFFF else v


def do_fchownat(p: "Process", dirfd: int, path: str, uid: int, gid: int, flags: int) -> int:
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise SyscallError(Errno.EINVAL)
    try:
        if path == "" and flags & AT_EMPTY_PATH:
            os.fchown(p.fds.host(s32(dirfd)), uid, gid)
        else:
            os.chown(path, uid, gid, dir_fd=_dir_fd(p, dirfd, path),
                     follow_symlinks=not flags & AT_SYMLINK_NOFOLLOW)
    except OSError as exc:
        raise _oserr(exc)
    return 0


def sys_chown(p: "Process", path: int, uid: int, gid: int) -> int:
    return do_fchownat(p, AT_FDCWD, _path(p, path), _id32(uid), _id32(gid), 0)


def sys_lchown(p: "Process", path: int, uid: int, gid: int) -> int:
    return do_fchownat(p, AT_FDCWD, _path(p, path, False), _id32(uid), _id32(gid),
                       AT_SYMLINK_NOFOLLOW)


def sys_fchownat(p: "Process", dirfd: int, path: int, uid: int, gid: int, flags: int) -> int:
    return do_fchownat(p, dirfd, _path_or_empty(p, path, flags), _id32(uid), _id32(gid), flags)


def sys_fchown(p: "Process", fd: int, uid: int, gid: int) -> int:
    try:
        os.fchown(_host(p, fd), _id32(uid), _id32(gid))
    except OSError as exc:
        raise _oserr(exc)
    return 0


def sys_chown16(p: "Process", path: int, uid: int, gid: int) -> int:
    return do_fchownat(p, AT_FDCWD, _path(p, path), _id16(uid), _id16(gid), 0)


def sys_lchown16(p: "Process", path: int, uid: int, gid: int) -> int:
    return do_fchownat(p, AT_FDCWD, _path(p, path, False), _id16(uid), _id16(gid),
                       AT_SYMLINK_NOFOLLOW)


def sys_fchown16(p: "Process", fd: int, uid: int, gid: int) -> int:
    return sys_fchown(p, fd, _id16(uid) & 0xFFFFFFFF, _id16(gid) & 0xFFFFFFFF)


def sys_umask(p: "Process", mask: int) -> int:
    return os.umask(mask & 0o777)


# utimensat and friends: the host's utimensat with a host struct timespec[2].
NR_UTIMENSAT = 280       # the host's
UTIME_NOW, UTIME_OMIT = 0x3FFFFFFF, 0x3FFFFFFE


def _timespecs(p: "Process", addr: int, time64: bool) -> Optional[bytes]:
    if not addr:
        return None
    if p.arch.word == 8 or time64:
        sec0, ns0, sec1, ns1 = struct.unpack("<qqqq", copy_from_user(p.mm, addr, 32))
    else:
        sec0, ns0, sec1, ns1 = struct.unpack("<iiii", copy_from_user(p.mm, addr, 16))
    return struct.pack("<qqqq", sec0, ns0, sec1, ns1)


def do_utimensat(p: "Process", dirfd: int, path: Optional[str], times: Optional[bytes],
                 flags: int) -> int:
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise SyscallError(Errno.EINVAL)
    if path is None:
        # utimensat(fd, NULL, ...): the file fd refers to (what futimens does).
        dfd = p.fds.host(s32(dirfd)) if s32(dirfd) != AT_FDCWD else AT_FDCWD
        raw = None
    else:
        dfd, raw = _host_dirfd(p, dirfd, path), os.fsencode(path)
    buf = None
    if times is not None:
        import ctypes
        buf = ctypes.create_string_buffer(times, len(times))
    hostsys.syscall(NR_UTIMENSAT, dfd, raw, buf, flags)
    return 0


def _utime_path(p: "Process", addr: int, flags: int) -> Optional[str]:
    if addr == 0:
        return None
    return _path_or_empty(p, addr, flags)


def sys_utimensat(p: "Process", dirfd: int, path: int, times: int, flags: int) -> int:
    return do_utimensat(p, dirfd, _utime_path(p, path, flags), _timespecs(p, times, False), flags)


def sys_utimensat_time64(p: "Process", dirfd: int, path: int, times: int, flags: int) -> int:
    return do_utimensat(p, dirfd, _utime_path(p, path, flags), _timespecs(p, times, True), flags)


def _timevals(p: "Process", addr: int) -> Optional[bytes]:
    """struct timeval[2] -> host timespec[2] (compare Linux's do_futimesat)."""
    if not addr:
        return None
    if p.arch.word == 8:
        vals = struct.unpack("<qqqq", copy_from_user(p.mm, addr, 32))
    else:
        vals = struct.unpack("<iiii", copy_from_user(p.mm, addr, 16))
    if not (0 <= vals[1] < 1_000_000 and 0 <= vals[3] < 1_000_000):
        raise SyscallError(Errno.EINVAL)
    return struct.pack("<qqqq", vals[0], vals[1] * 1000, vals[2], vals[3] * 1000)


def sys_utimes(p: "Process", path: int, times: int) -> int:
    return do_utimensat(p, AT_FDCWD, _path(p, path), _timevals(p, times), 0)


def sys_futimesat(p: "Process", dirfd: int, path: int, times: int) -> int:
    return do_utimensat(p, dirfd, _utime_path(p, path, 0), _timevals(p, times), 0)


def sys_utime(p: "Process", path: int, times: int) -> int:
    spec = None
    if times:
        word = p.arch.word
        fmt = "<qq" if word == 8 else "<ii"
        actime, modtime = struct.unpack(fmt, copy_from_user(p.mm, times, 2 * word))
        spec = struct.pack("<qqqq", actime, 0, modtime, 0)
    return do_utimensat(p, AT_FDCWD, _path(p, path), spec, 0)


def do_truncate(p: "Process", path: str, length: int) -> int:
    if length < 0:
        raise SyscallError(Errno.EINVAL)
    try:
        os.truncate(path, length)
    except OSError as exc:
        raise _oserr(exc)
    return 0


def do_ftruncate(p: "Process", fd: int, length: int) -> int:
    host = _host(p, fd)
    if length < 0:
        raise SyscallError(Errno.EINVAL)
    try:
        os.ftruncate(host, length)
    except OSError as exc:
        raise _oserr(exc)
    return 0


def _long(p: "Process", v: int) -> int:
    return s64(v) if p.arch.word == 8 else s32(v)


def sys_truncate(p: "Process", path: int, length: int) -> int:
    return do_truncate(p, _path(p, path), _long(p, length))


def sys_ftruncate(p: "Process", fd: int, length: int) -> int:
    return do_ftruncate(p, fd, _long(p, length))


def sys_truncate64(p: "Process", path: int, lo: int, hi: int) -> int:
    """i386: the 64-bit length in two registers (compare ia32_truncate64)."""
    return do_truncate(p, _path(p, path), s64((hi << 32) | (lo & 0xFFFFFFFF)))


def sys_ftruncate64(p: "Process", fd: int, lo: int, hi: int) -> int:
    return do_ftruncate(p, fd, s64((hi << 32) | (lo & 0xFFFFFFFF)))


def sys_fsync(p: "Process", fd: int) -> int:
    try:
        os.fsync(_host(p, fd))
    except OSError as exc:
        raise _oserr(exc)
    return 0


def sys_fdatasync(p: "Process", fd: int) -> int:
    try:
        os.fdatasync(_host(p, fd))
    except OSError as exc:
        raise _oserr(exc)
    return 0


def sys_sync(p: "Process") -> int:
    os.sync()
    return 0


def sys_syncfs(p: "Process", fd: int) -> int:
    _host(p, fd)
    os.sync()
    return 0


def sys_fadvise64(p: "Process", fd: int) -> int:
    """Advice only: the guest's descriptor must exist (and not be a pipe: ESPIPE)."""
    import stat as stat_mod
    try:
        st = os.fstat(_host(p, fd))
    except OSError as exc:
        raise _oserr(exc)
    if stat_mod.S_ISFIFO(st.st_mode):
        raise SyscallError(Errno.ESPIPE)
    return 0


def sys_flock(p: "Process", fd: int, operation: int) -> int:
    import fcntl
    try:
        fcntl.flock(_host(p, fd), s32(operation))
    except OSError as exc:
        raise _oserr(exc)
    return 0


# --- statfs -------------------------------------------------------------------------------
NR_STATFS, NR_FSTATFS = 137, 138      # the host's
STATFS_X86_64 = "<qqQQQQQiiqqq4q"      # struct statfs (x86-64), 120 bytes
STATFS_I386 = "<IIIIIIIiiIII4I"        # struct compat_statfs, 64 bytes
STATFS64_I386 = "<IIQQQQQiiIII4I"      # struct compat_statfs64 (packed, aligned 4), 84 bytes


def _host_statfs(p: "Process", path: Optional[str], fd: Optional[int]) -> tuple:
    import ctypes
    buf = ctypes.create_string_buffer(120)
    if path is not None:
        hostsys.syscall(NR_STATFS, os.fsencode(path), buf)
    else:
        hostsys.syscall(NR_FSTATFS, fd, buf)
    return struct.unpack(STATFS_X86_64, buf.raw)


def _put_statfs(p: "Process", buf: int, st: tuple, layout: str) -> int:
    if layout == STATFS_X86_64:
        data = struct.pack(layout, *st)
    elif layout == STATFS_I386:
        # Compare put_compat_statfs: EOVERFLOW for what 32 bits cannot hold.
        f_type, bsize, blocks, bfree, bavail, files, ffree, fsid0, fsid1, namelen, frsize, \
            flags, *spare = st
        if (blocks | bfree | bavail | bsize | frsize) >> 32:
            raise SyscallError(Errno.EOVERFLOW)
        files = files if files >> 32 == 0 else (0xFFFFFFFF if files == 2**64 - 1 else None)
        ffree = ffree if ffree >> 32 == 0 else (0xFFFFFFFF if ffree == 2**64 - 1 else None)
        if files is None or ffree is None:
            raise SyscallError(Errno.EOVERFLOW)
        data = struct.pack(layout, f_type & 0xFFFFFFFF, bsize, blocks, bfree, bavail, files,
                           ffree, fsid0, fsid1, namelen, frsize, flags, *spare)
    else:
        f_type, bsize, *rest = st
        data = struct.pack(layout, f_type & 0xFFFFFFFF, bsize & 0xFFFFFFFF, *rest[:7],
                           *(v & 0xFFFFFFFF for v in rest[7:]))
    copy_to_user(p.mm, buf, data)
    return 0


def _statfs_layout(p: "Process") -> str:
    return STATFS_X86_64 if p.arch.word == 8 else STATFS_I386


def sys_statfs(p: "Process", path: int, buf: int) -> int:
    return _put_statfs(p, buf, _host_statfs(p, _path(p, path), None), _statfs_layout(p))


def sys_fstatfs(p: "Process", fd: int, buf: int) -> int:
    return _put_statfs(p, buf, _host_statfs(p, None, _host(p, fd)), _statfs_layout(p))


def sys_statfs64(p: "Process", path: int, size: int, buf: int) -> int:
    """i386: the caller passes sizeof(struct statfs64), which must be 84."""
    if size != struct.calcsize(STATFS64_I386):
        raise SyscallError(Errno.EINVAL)
    return _put_statfs(p, buf, _host_statfs(p, _path(p, path), None), STATFS64_I386)


def sys_fstatfs64(p: "Process", fd: int, size: int, buf: int) -> int:
    if size != struct.calcsize(STATFS64_I386):
        raise SyscallError(Errno.EINVAL)
    return _put_statfs(p, buf, _host_statfs(p, None, _host(p, fd)), STATFS64_I386)


# --- directories --------------------------------------------------------------------------
def dir_cookie(of: OpenFile, pos: int) -> int:
    """A directory position as an i386 task sees it. ext4 hands 64-bit callers 64-bit hash
    positions (major hash in the high half) and 32-bit ones the major hash alone; the host
    answers pyexec, a 64-bit caller, so i386 guests get pos >> 32 (what they get natively),
    remembered to translate back on lseek."""
    if pos <= 0x7FFFFFFF:
        return pos
    cookie = (pos >> 32 if pos >> 32 else pos) & 0x7FFFFFFF
    if of.dir_cookies is None:
        of.dir_cookies = {}
    of.dir_cookies[cookie] = pos
    return cookie


def _dirents(p: "Process", fd: int, count: int) -> Tuple[OpenFile, bytes]:
    of = p.fds.get(s32(fd))
    data = hostsys.getdents64(of.host_fd, min(count & 0xFFFFFFFF, MAX_IO))
    if p.arch.word == 4:
        if of.dir_cookies is None:
            of.dir_cookies = {}
        out = bytearray(data)
        pos = 0
        while pos < len(out):
            off, reclen = struct.unpack_from("<qH", out, pos + 8)
            struct.pack_into("<q", out, pos + 8, dir_cookie(of, off & 0xFFFFFFFFFFFFFFFF))
            pos += reclen
        data = bytes(out)
    return of, data


def sys_getdents64(p: "Process", fd: int, dirp: int, count: int) -> int:
    """struct linux_dirent64 is the same on both ABIs: the host's records (with i386
    positions, see dir_cookie)."""
    _, data = _dirents(p, fd, count)
    copy_to_user(p.mm, dirp, data)
    return len(data)


def sys_getdents(p: "Process", fd: int, dirp: int, count: int) -> int:
    """The old struct linux_dirent (d_type in the record's last byte), from the host's
    linux_dirent64 records; each converted record is no longer than the original."""
    _, raw = _dirents(p, fd, count)
    word = p.arch.word
    out = bytearray()
    pos = 0
    while pos < len(raw):
        ino, off, reclen, dtype = struct.unpack_from("<QqHB", raw, pos)
        name = raw[pos + 19:pos + reclen].split(b"\0", 1)[0]
        if word == 4:
            if ino >> 32:
                raise SyscallError(Errno.EOVERFLOW)
            head = struct.pack("<IIH", ino, off & 0xFFFFFFFF, 0)
        else:
            head = struct.pack("<QqH", ino, off, 0)
        size = (len(head) + len(name) + 2 + word - 1) & ~(word - 1)
        rec = bytearray(head + name + b"\0" + bytes(size - len(head) - len(name) - 1))
        rec[len(head) - 2:len(head)] = struct.pack("<H", size)
        rec[-1] = dtype
        out += rec
        pos += reclen
    copy_to_user(p.mm, dirp, bytes(out))
    return len(out)


# --- pipes and copies ---------------------------------------------------------------------
def install_pair(p: "Process", a: int, b: int, cloexec: bool, what: str, addr: int) -> None:
    """Give two new host descriptors guest numbers and store them as int[2] at addr (pipe,
    socketpair); on any failure both are gone again, as the kernel undoes fd_install."""
    try:
        fa = p.fds.install(OpenFile(a, what, cloexec))
    except SyscallError:
        os.close(a)
        os.close(b)
        raise
    try:
        fb = p.fds.install(OpenFile(b, what, cloexec))
    except SyscallError:
        p.fds.close(fa)
        os.close(b)
        raise
    try:
        copy_to_user(p.mm, addr, struct.pack("<ii", fa, fb))
    except SyscallError:
        p.fds.close(fa)
        p.fds.close(fb)
        raise


def do_pipe2(p: "Process", fds: int, flags: int) -> int:
    if flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT):
        raise SyscallError(Errno.EINVAL)
    try:
        r, w = os.pipe2((flags & (O_NONBLOCK | O_DIRECT)) | os.O_CLOEXEC)
    except OSError as exc:
        raise _oserr(exc)
    install_pair(p, r, w, bool(flags & O_CLOEXEC), "pipe", fds)
    return 0


def sys_pipe(p: "Process", fds: int) -> int:
    return do_pipe2(p, fds, 0)


def sys_pipe2(p: "Process", fds: int, flags: int) -> int:
    return do_pipe2(p, fds, s32(flags))


def do_sendfile(p: "Process", out_fd: int, in_fd: int, offset: int, count: int,
                off_size: int) -> int:
    out_host, in_host = _host(p, out_fd), _host(p, in_fd)
    count = min(count, MAX_IO)
    try:
        if offset:
            raw = copy_from_user(p.mm, offset, off_size)
            pos = int.from_bytes(raw, "little", signed=True)
            if pos < 0:
                raise SyscallError(Errno.EINVAL)
            n = os.sendfile(out_host, in_host, pos, count)
            copy_to_user(p.mm, offset, (pos + n).to_bytes(off_size, "little", signed=True))
            return n
        return os.sendfile(out_host, in_host, None, count)
    except BrokenPipeError:
        p.send_signal_self(13)   # SIGPIPE
        raise SyscallError(Errno.EPIPE)
    except OSError as exc:
        raise _oserr(exc)


def sys_sendfile(p: "Process", out_fd: int, in_fd: int, offset: int, count: int) -> int:
    """sendfile on x86-64 (off_t *: 8 bytes); on i386 the old one with a 32-bit off_t."""
    return do_sendfile(p, out_fd, in_fd, offset, count, p.arch.word)


def sys_sendfile64(p: "Process", out_fd: int, in_fd: int, offset: int, count: int) -> int:
    return do_sendfile(p, out_fd, in_fd, offset, count, 8)
