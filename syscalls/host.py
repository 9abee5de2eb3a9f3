"""The host's own system calls through libc, for what Python's os module does not offer as is:
getdents64 (byte-exact records), sockets with verbatim sockaddr buffers, sysinfo.

Every function takes and returns plain Python values and raises SyscallError(errno) on failure,
so handlers call them like the os module. Host and guest are both Linux on x86, so errno values
and the byte layouts passed through here (struct linux_dirent64, sockaddr) agree.
"""
from __future__ import annotations

import ctypes
import os
from typing import TYPE_CHECKING, Callable, List, Optional, Tuple, TypeVar, Union

from emulator.errors import SyscallError

from .errno import Errno

if TYPE_CHECKING:
    from emulator.process import Process

T = TypeVar("T")

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_syscall.argtypes = [ctypes.c_long] * 7

# Host (x86-64) syscall numbers used here.
NR_GETDENTS64 = 217
NR_SOCKET, NR_CONNECT, NR_ACCEPT4, NR_SENDTO, NR_RECVFROM = 41, 42, 288, 44, 45
NR_SENDMSG, NR_RECVMSG, NR_SHUTDOWN, NR_BIND, NR_LISTEN = 46, 47, 48, 49, 50
NR_GETSOCKNAME, NR_GETPEERNAME, NR_SOCKETPAIR, NR_SETSOCKOPT, NR_GETSOCKOPT = 51, 52, 53, 54, 55
NR_SYSINFO = 99

SOCKADDR_MAX = 128      # sizeof(struct sockaddr_storage)


def _check(ret: int) -> int:
    if ret < 0:
        raise SyscallError(ctypes.get_errno() or Errno.EIO)
    return ret


Arg = Union[int, bytes, None, "ctypes.Array[ctypes.c_char]"]


def syscall(nr: int, *args: Arg) -> int:
    """A raw host syscall. An argument is an int (or address), bytes (passed as a NUL-terminated
    copy: a path), None (NULL) or a ctypes buffer (its address)."""
    keep = []
    conv: List[int] = []
    for a in args:
        if a is None:
            conv.append(0)
        elif isinstance(a, int):
            conv.append(a)
        elif isinstance(a, bytes):
            buf = ctypes.create_string_buffer(a)
            keep.append(buf)
            conv.append(ctypes.addressof(buf))
        else:
            conv.append(ctypes.addressof(a))
    conv += [0] * (6 - len(conv))
    return _check(_syscall(nr, *conv))


def _addr(buf: "Optional[ctypes.Array[ctypes.c_char]]") -> int:
    return ctypes.addressof(buf) if buf is not None else 0


def getdents64(fd: int, count: int) -> bytes:
    """Up to `count` bytes of struct linux_dirent64 records (the same layout on both ABIs)."""
    buf = ctypes.create_string_buffer(max(count, 1))
    n = syscall(NR_GETDENTS64, fd, _addr(buf), count)
    return buf.raw[:n]


def sysinfo() -> bytes:
    """The host's struct sysinfo (x86-64 layout, 112 bytes)."""
    buf = ctypes.create_string_buffer(112)
    syscall(NR_SYSINFO, _addr(buf))
    return buf.raw


# --- sockets ------------------------------------------------------------------------------
def socket(family: int, type_: int, proto: int) -> int:
    return syscall(NR_SOCKET, family, type_, proto)


def socketpair(family: int, type_: int, proto: int) -> Tuple[int, int]:
    sv = (ctypes.c_int * 2)()
    syscall(NR_SOCKETPAIR, family, type_, proto, ctypes.addressof(sv))
    return sv[0], sv[1]


def _sockaddr_in(addr: bytes) -> "ctypes.Array[ctypes.c_char]":
    return ctypes.create_string_buffer(addr, max(len(addr), 1))


def connect(fd: int, addr: bytes) -> None:
    syscall(NR_CONNECT, fd, _sockaddr_in(addr), len(addr))


def bind(fd: int, addr: bytes) -> None:
    syscall(NR_BIND, fd, _sockaddr_in(addr), len(addr))


def listen(fd: int, backlog: int) -> None:
    syscall(NR_LISTEN, fd, backlog)


def shutdown(fd: int, how: int) -> None:
    syscall(NR_SHUTDOWN, fd, how)


def _name_call(nr: int, fd: int, *extra: int, want: bool = True) -> Tuple[int, bytes]:
    """Calls that return a sockaddr: (result, sockaddr bytes as long as the kernel says)."""
    buf = ctypes.create_string_buffer(SOCKADDR_MAX)
    length = ctypes.c_uint32(SOCKADDR_MAX)
    if want:
        ret = syscall(nr, fd, _addr(buf), ctypes.addressof(length), *extra)
    else:
        ret = syscall(nr, fd, 0, 0, *extra)
    return ret, buf.raw[:length.value] if want else b""


def accept4(fd: int, flags: int, want_addr: bool) -> Tuple[int, bytes]:
    return _name_call(NR_ACCEPT4, fd, flags, want=want_addr)


def getsockname(fd: int) -> bytes:
    return _name_call(NR_GETSOCKNAME, fd)[1]


def getpeername(fd: int) -> bytes:
    return _name_call(NR_GETPEERNAME, fd)[1]


def sendto(fd: int, data: bytes, flags: int, addr: Optional[bytes]) -> int:
    buf = ctypes.create_string_buffer(data, max(len(data), 1))
    if addr is None:
        return syscall(NR_SENDTO, fd, _addr(buf), len(data), flags, 0, 0)
    sa = _sockaddr_in(addr)
    return syscall(NR_SENDTO, fd, _addr(buf), len(data), flags, _addr(sa), len(addr))


def recvfrom(fd: int, size: int, flags: int, want_addr: bool) -> Tuple[bytes, bytes]:
    buf = ctypes.create_string_buffer(max(size, 1))
    if not want_addr:
        n = syscall(NR_RECVFROM, fd, _addr(buf), size, flags, 0, 0)
        return buf.raw[:n], b""
    sa = ctypes.create_string_buffer(SOCKADDR_MAX)
    length = ctypes.c_uint32(SOCKADDR_MAX)
    n = syscall(NR_RECVFROM, fd, _addr(buf), size, flags, _addr(sa), ctypes.addressof(length))
    return buf.raw[:n], sa.raw[:min(length.value, SOCKADDR_MAX)]


def setsockopt(fd: int, level: int, name: int, value: bytes) -> None:
    buf = ctypes.create_string_buffer(value, max(len(value), 1))
    syscall(NR_SETSOCKOPT, fd, level, name, _addr(buf) if value else 0, len(value))


def getsockopt(fd: int, level: int, name: int, size: int) -> bytes:
    buf = ctypes.create_string_buffer(max(size, 1))
    length = ctypes.c_uint32(size)
    syscall(NR_GETSOCKOPT, fd, level, name, _addr(buf), ctypes.addressof(length))
    return buf.raw[:length.value]


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    """struct user_msghdr of the host (x86-64)."""
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.c_void_p), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


def sendmsg(fd: int, name: Optional[bytes], data: bytes, control: bytes, flags: int) -> int:
    buf = ctypes.create_string_buffer(data, max(len(data), 1))
    iov = _Iovec(ctypes.addressof(buf), len(data))
    sa = _sockaddr_in(name) if name else None
    ctl = ctypes.create_string_buffer(control, len(control)) if control else None
    msg = _Msghdr(_addr(sa), len(name) if name else 0, ctypes.addressof(iov), 1,
                  _addr(ctl), len(control), 0)
    return syscall(NR_SENDMSG, fd, ctypes.addressof(msg), flags)


def recvmsg(fd: int, size: int, controllen: int, want_name: bool,
            flags: int) -> Tuple[bytes, bytes, bytes, int]:
    """(data, name, control, msg_flags)."""
    buf = ctypes.create_string_buffer(max(size, 1))
    iov = _Iovec(ctypes.addressof(buf), size)
    sa = ctypes.create_string_buffer(SOCKADDR_MAX) if want_name else None
    ctl = ctypes.create_string_buffer(controllen) if controllen else None
    msg = _Msghdr(_addr(sa), SOCKADDR_MAX if want_name else 0, ctypes.addressof(iov), 1,
                  _addr(ctl), controllen, 0)
    n = syscall(NR_RECVMSG, fd, ctypes.addressof(msg), flags)
    name = sa.raw[:min(msg.namelen, SOCKADDR_MAX)] if sa is not None else b""
    control = ctl.raw[:msg.controllen] if ctl is not None else b""
    return buf.raw[:n], name, control, msg.flags


def close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def interruptible(p: "Process", fn: Callable[..., T], *args: object) -> T:
    """Run a blocking host call the way Linux sleeps interruptibly. `fn` must be a raw call
    (this module's, not the os module's, which retries EINTR): a signal the guest handles
    interrupts the host syscall (Python's handlers are installed without SA_RESTART), the
    call fails with EINTR and the guest's syscall returns -ERESTARTSYS: the run loop restarts
    it or makes it -EINTR (SA_RESTART). Nothing is raised out of a call that completed, so a
    read's data or a reaped child's status is never lost. A signal already queued ends the
    call before it starts."""
    if p.signals.next_deliverable() is not None:
        raise SyscallError(ERESTARTSYS)
    try:
        return fn(*args)
    except InterruptedError:
        raise SyscallError(ERESTARTSYS) from None
    except SyscallError as exc:
        if exc.errno == Errno.EINTR:
            raise SyscallError(ERESTARTSYS) from None
        raise


ERESTARTSYS = 512       # emulator/signals.py's (include/linux/errno.h)


# --- plain I/O without the os module's EINTR retry --------------------------------------------
NR_READ, NR_WRITE, NR_OPENAT, NR_PPOLL = 0, 1, 257, 271
SMALL_IO = 1 << 16
_malloc = _libc.malloc
_malloc.restype = ctypes.c_void_p
_malloc.argtypes = [ctypes.c_size_t]
_free = _libc.free
_free.restype = None
_free.argtypes = [ctypes.c_void_p]
_small = ctypes.create_string_buffer(SMALL_IO)


def read(fd: int, count: int) -> bytes:
    """read(2): the bytes read. Large buffers come from malloc (not zero-filled, so a huge
    count costs only what is read)."""
    if count <= SMALL_IO:
        n = syscall(NR_READ, fd, ctypes.addressof(_small), count)
        return ctypes.string_at(_small, n)
    ptr = _malloc(count)
    if not ptr:
        raise SyscallError(Errno.ENOMEM)
    try:
        n = syscall(NR_READ, fd, ptr, count)
        return ctypes.string_at(ptr, n)
    finally:
        _free(ptr)


def write(fd: int, data: bytes) -> int:
    """write(2) straight from the bytes object."""
    # The caller holds `data` through the call, so its buffer stays where the pointer says.
    ptr = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value or 0
    return syscall(NR_WRITE, fd, ptr, len(data))


def openat(dirfd: int, path: str, flags: int, mode: int) -> int:
    return syscall(NR_OPENAT, dirfd, os.fsencode(path), flags, mode)


class _PollFd(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short)]


def poll(fds: "List[Tuple[int, int]]", timeout: Optional[float]) -> "List[int]":
    """ppoll(2) on (fd, events) pairs, timeout in seconds (None: forever); the revents."""
    arr = (_PollFd * max(len(fds), 1))()
    for i, (fd, events) in enumerate(fds):
        arr[i].fd, arr[i].events = fd, events - 0x10000 if events & 0x8000 else events
    ts = None
    if timeout is not None:
        ns = max(0, int(timeout * 1e9))
        ts = (ctypes.c_long * 2)(ns // 1_000_000_000, ns % 1_000_000_000)
    syscall(NR_PPOLL, ctypes.addressof(arr), len(fds),
            ctypes.addressof(ts) if ts is not None else 0, 0, 8)
    return [arr[i].revents & 0xFFFF for i in range(len(fds))]
