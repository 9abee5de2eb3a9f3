"""Sockets: host sockets behind guest descriptors. sockaddr buffers pass verbatim (the same
layout on host and guest); msghdr, cmsg headers and a few socket options differ on i386 and are
converted; SCM_RIGHTS descriptors are translated between guest and host numbers.
i386's socketcall(102) demultiplexes to the same handlers (compare Linux's net/socket.c)."""
from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Callable, Dict, List, Tuple, TypeVar

from emulator.errors import SyscallError
from emulator.fdtable import OpenFile
from mmu.uaccess import copy_from_user, copy_to_user, read_word, write_word

from . import host as hostsys
from .abi import s32
from .fs import install_pair
from .errno import Errno

if TYPE_CHECKING:
    from emulator.process import Process

T = TypeVar("T")

SOCK_NONBLOCK, SOCK_CLOEXEC = 0o4000, 0o2000000
SOCK_TYPE_MASK = 0xF
MSG_CMSG_CLOEXEC = 0x40000000
MSG_CTRUNC = 0x8
SOL_SOCKET = 1
SCM_RIGHTS, SCM_CREDENTIALS = 1, 2
SO_RCVTIMEO_OLD, SO_SNDTIMEO_OLD = 20, 21
SOCKADDR_MAX = 128
UIO_MAXIOV = 1024


def _host(p: "Process", fd: int) -> int:
    return p.fds.host(s32(fd))


def _install(p: "Process", host_fd: int, cloexec: bool, what: str = "socket") -> int:
    try:
        return p.fds.install(OpenFile(host_fd, what, cloexec))
    except SyscallError:
        hostsys.close_quietly(host_fd)
        raise


def _sockaddr(p: "Process", addr: int, addrlen: int) -> bytes:
    n = s32(addrlen)
    if n < 0 or n > SOCKADDR_MAX:
        raise SyscallError(Errno.EINVAL)
    return copy_from_user(p.mm, addr, n)


def _put_sockaddr(p: "Process", addr: int, lenp: int, data: bytes) -> None:
    """Compare move_addr_to_user: copy at most the caller's length, report the real one."""
    if not addr or not lenp:
        return
    room = s32(read_word(p.mm, lenp, 4))
    if room < 0:
        raise SyscallError(Errno.EINVAL)
    copy_to_user(p.mm, addr, data[:room])
    write_word(p.mm, lenp, len(data), 4)


def _blocking(p: "Process", fn: Callable[..., T], *args: object) -> T:
    return hostsys.interruptible(p, fn, *args)


# --- creation -------------------------------------------------------------------------------
def sys_socket(p: "Process", family: int, type_: int, protocol: int) -> int:
    t = s32(type_)
    if t & ~(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC):
        raise SyscallError(Errno.EINVAL)
    host = hostsys.socket(s32(family), t | SOCK_CLOEXEC, s32(protocol))
    return _install(p, host, bool(t & SOCK_CLOEXEC))


def sys_socketpair(p: "Process", family: int, type_: int, protocol: int, sv: int) -> int:
    t = s32(type_)
    if t & ~(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC):
        raise SyscallError(Errno.EINVAL)
    a, b = hostsys.socketpair(s32(family), t | SOCK_CLOEXEC, s32(protocol))
    install_pair(p, a, b, bool(t & SOCK_CLOEXEC), "socket", sv)
    return 0


def sys_bind(p: "Process", fd: int, addr: int, addrlen: int) -> int:
    hostsys.bind(_host(p, fd), _sockaddr(p, addr, addrlen))
    return 0


def sys_connect(p: "Process", fd: int, addr: int, addrlen: int) -> int:
    _blocking(p, hostsys.connect, _host(p, fd), _sockaddr(p, addr, addrlen))
    return 0


def sys_listen(p: "Process", fd: int, backlog: int) -> int:
    hostsys.listen(_host(p, fd), s32(backlog))
    return 0


def sys_accept4(p: "Process", fd: int, addr: int, lenp: int, flags: int) -> int:
    flags = s32(flags)
    if flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC):
        raise SyscallError(Errno.EINVAL)
    host, name = _blocking(p, hostsys.accept4, _host(p, fd), flags | SOCK_CLOEXEC,
                           bool(addr))
    newfd = _install(p, host, bool(flags & SOCK_CLOEXEC))
    try:
        _put_sockaddr(p, addr, lenp, name)
    except SyscallError:
        p.fds.close(newfd)
        raise
    return newfd


def sys_accept(p: "Process", fd: int, addr: int, lenp: int) -> int:
    return sys_accept4(p, fd, addr, lenp, 0)


def sys_shutdown(p: "Process", fd: int, how: int) -> int:
    hostsys.shutdown(_host(p, fd), s32(how))
    return 0


def sys_getsockname(p: "Process", fd: int, addr: int, lenp: int) -> int:
    _put_sockaddr(p, addr, lenp, hostsys.getsockname(_host(p, fd)))
    return 0


def sys_getpeername(p: "Process", fd: int, addr: int, lenp: int) -> int:
    _put_sockaddr(p, addr, lenp, hostsys.getpeername(_host(p, fd)))
    return 0


# --- data -----------------------------------------------------------------------------------
def _send_error(p: "Process", exc: SyscallError, flags: int) -> SyscallError:
    if exc.errno == Errno.EPIPE and not flags & 0x4000:      # MSG_NOSIGNAL
        p.send_signal_self(13)
    return exc


def sys_sendto(p: "Process", fd: int, buf: int, length: int, flags: int, addr: int,
               addrlen: int) -> int:
    host = _host(p, fd)
    data = copy_from_user(p.mm, buf, min(length, 0x7FFFF000))
    dest = _sockaddr(p, addr, addrlen) if addr else None
    try:
        return _blocking(p, hostsys.sendto, host, data, s32(flags), dest)
    except SyscallError as exc:
        raise _send_error(p, exc, s32(flags))


def sys_recvfrom(p: "Process", fd: int, buf: int, length: int, flags: int, addr: int,
                 lenp: int) -> int:
    host = _host(p, fd)
    data, name = _blocking(p, hostsys.recvfrom, host, min(length, 0x7FFFF000), s32(flags),
                           bool(addr))
    copy_to_user(p.mm, buf, data[:length])
    if addr:
        _put_sockaddr(p, addr, lenp, name)
    return len(data)


def sys_send(p: "Process", fd: int, buf: int, length: int, flags: int) -> int:
    return sys_sendto(p, fd, buf, length, flags, 0, 0)


def sys_recv(p: "Process", fd: int, buf: int, length: int, flags: int) -> int:
    return sys_recvfrom(p, fd, buf, length, flags, 0, 0)


# struct msghdr and struct cmsghdr of the guest's ABI.
MSGHDR = {8: "<QI4xQQQQi4x", 4: "<IIIIIIi"}
CMSG_HDR = {8: "<Qii", 4: "<Iii"}


def _cmsg_align(n: int, word: int) -> int:
    return (n + word - 1) & ~(word - 1)


def _guest_cmsgs_to_host(p: "Process", control: bytes) -> bytes:
    """Parse the guest's cmsg list into the host's, with SCM_RIGHTS fds made host fds."""
    word = p.arch.word
    hfmt = CMSG_HDR[word]
    hsize = struct.calcsize(hfmt)
    out = b""
    pos = 0
    while pos + hsize <= len(control):
        length, level, type_ = struct.unpack_from(hfmt, control, pos)
        if length < hsize or pos + length > len(control):
            raise SyscallError(Errno.EINVAL)
        data = control[pos + hsize:pos + length]
        if level == SOL_SOCKET and type_ == SCM_RIGHTS:
            fds = struct.unpack(f"<{len(data) // 4}i", data[:len(data) // 4 * 4])
            data = struct.pack(f"<{len(fds)}i", *(p.fds.host(fd) for fd in fds))
        rec = struct.pack("<Qii", 16 + len(data), level, type_) + data
        out += rec.ljust(_cmsg_align(len(rec), 8), b"\0")
        pos += _cmsg_align(length, word)
    return out


def _host_cmsgs_to_guest(p: "Process", control: bytes, room: int,
                         cloexec: bool) -> Tuple[bytes, bool]:
    """The host's cmsg list in the guest's layout, received descriptors installed as guest
    fds; (bytes, truncated)."""
    word = p.arch.word
    gfmt = CMSG_HDR[word]
    gsize = struct.calcsize(gfmt)
    out = b""
    truncated = False
    pos = 0
    while pos + 16 <= len(control):
        length, level, type_ = struct.unpack_from("<Qii", control, pos)
        data = control[pos + 16:pos + length]
        pos += _cmsg_align(length, 8)
        if level == SOL_SOCKET and type_ == SCM_RIGHTS:
            hosts = struct.unpack(f"<{len(data) // 4}i", data[:len(data) // 4 * 4])
            fit = max(0, (room - len(out) - gsize) // 4)
            for extra in hosts[fit:]:
                hostsys.close_quietly(extra)
            if len(hosts) > fit:
                truncated = True
            data = struct.pack(f"<{min(fit, len(hosts))}i",
                               *(_install(p, h, cloexec, "socket fd") for h in hosts[:fit]))
            if not data:
                continue
        rec = struct.pack(gfmt, gsize + len(data), level, type_) + data
        if len(out) + len(rec) > room:
            truncated = True
            break
        out += rec.ljust(min(_cmsg_align(len(rec), word), room - len(out)), b"\0")
    return out, truncated


def _read_msghdr(p: "Process", msg: int) -> Tuple[int, int, List[Tuple[int, int]], int, int]:
    word = p.arch.word
    fmt = MSGHDR[word]
    name, namelen, iov, iovlen, control, controllen, _ = \
        struct.unpack(fmt, copy_from_user(p.mm, msg, struct.calcsize(fmt)))
    if iovlen > UIO_MAXIOV:
        raise SyscallError(Errno.EMSGSIZE)
    ifmt = "<" + ("QQ" if word == 8 else "II") * iovlen
    vals = struct.unpack(ifmt, copy_from_user(p.mm, iov, 2 * word * iovlen)) if iovlen else ()
    iovs = [(vals[2 * i], vals[2 * i + 1]) for i in range(iovlen)]
    return name, namelen, iovs, control, controllen


def sys_sendmsg(p: "Process", fd: int, msg: int, flags: int) -> int:
    host = _host(p, fd)
    name, namelen, iovs, control, controllen = _read_msghdr(p, msg)
    dest = _sockaddr(p, name, namelen) if name and namelen else None
    data = b"".join(copy_from_user(p.mm, base, n) for base, n in iovs)
    ctl = _guest_cmsgs_to_host(p, copy_from_user(p.mm, control, controllen)) \
        if control and controllen else b""
    try:
        return _blocking(p, hostsys.sendmsg, host, dest, data, ctl, s32(flags))
    except SyscallError as exc:
        raise _send_error(p, exc, s32(flags))


def sys_recvmsg(p: "Process", fd: int, msg: int, flags: int) -> int:
    host = _host(p, fd)
    flags = s32(flags)
    word = p.arch.word
    name, namelen, iovs, control, controllen = _read_msghdr(p, msg)
    size = sum(n for _, n in iovs)
    # Room for as many descriptors on the host as the guest's buffer could take.
    host_room = controllen * 2 + 64 if control and controllen else 0
    data, src, ctl, mflags = _blocking(p, hostsys.recvmsg, host, size, host_room, bool(name),
                                       flags | MSG_CMSG_CLOEXEC)
    pos = 0
    for base, n in iovs:
        if pos >= len(data):
            break
        copy_to_user(p.mm, base, data[pos:pos + n])
        pos += n
    fmt = MSGHDR[word]
    fields = list(struct.unpack(fmt, copy_from_user(p.mm, msg, struct.calcsize(fmt))))
    if name:
        copy_to_user(p.mm, name, src[:namelen])
        fields[1] = len(src)
    out_ctl = b""
    if control and controllen:
        out_ctl, truncated = _host_cmsgs_to_guest(p, ctl, controllen,
                                                  bool(flags & MSG_CMSG_CLOEXEC))
        if truncated:
            mflags |= MSG_CTRUNC
        copy_to_user(p.mm, control, out_ctl)
    fields[5] = len(out_ctl)
    fields[6] = mflags & ~MSG_CMSG_CLOEXEC
    copy_to_user(p.mm, msg, struct.pack(fmt, *fields))
    return len(data)


# --- options --------------------------------------------------------------------------------
def _is_old_timeval(p: "Process", level: int, name: int) -> bool:
    return p.arch.word == 4 and level == SOL_SOCKET and name in (SO_RCVTIMEO_OLD, SO_SNDTIMEO_OLD)


def sys_setsockopt(p: "Process", fd: int, level: int, name: int, optval: int,
                   optlen: int) -> int:
    host = _host(p, fd)
    level, name, n = s32(level), s32(name), s32(optlen)
    if n < 0:
        raise SyscallError(Errno.EINVAL)
    value = copy_from_user(p.mm, optval, n) if optval else b""
    if _is_old_timeval(p, level, name):
        if len(value) < 8:
            raise SyscallError(Errno.EINVAL)
        sec, usec = struct.unpack_from("<ii", value)
        value = struct.pack("<qq", sec, usec)
    hostsys.setsockopt(host, level, name, value)
    return 0


def sys_getsockopt(p: "Process", fd: int, level: int, name: int, optval: int,
                   optlenp: int) -> int:
    host = _host(p, fd)
    level, name = s32(level), s32(name)
    room = s32(read_word(p.mm, optlenp, 4))
    if room < 0:
        raise SyscallError(Errno.EINVAL)
    if _is_old_timeval(p, level, name):
        sec, usec = struct.unpack("<qq", hostsys.getsockopt(host, level, name, 16))
        value = struct.pack("<ii", sec, usec)[:room]
    else:
        value = hostsys.getsockopt(host, level, name, room)
    copy_to_user(p.mm, optval, value)
    write_word(p.mm, optlenp, len(value), 4)
    return 0


# --- i386 socketcall ------------------------------------------------------------------------
# call number -> (argument count, handler), as net/socket.c's nargs[] table.
SOCKETCALLS: Dict[int, Tuple[int, Callable[..., int]]] = {
    1: (3, sys_socket),
    2: (3, sys_bind),
    3: (3, sys_connect),
    4: (2, sys_listen),
    5: (3, sys_accept),
    6: (3, sys_getsockname),
    7: (3, sys_getpeername),
    8: (4, sys_socketpair),
    9: (4, sys_send),
    10: (4, sys_recv),
    11: (6, sys_sendto),
    12: (6, sys_recvfrom),
    13: (2, sys_shutdown),
    14: (5, sys_setsockopt),
    15: (5, sys_getsockopt),
    16: (3, sys_sendmsg),
    17: (3, sys_recvmsg),
    18: (4, sys_accept4),
}


def sys_socketcall(p: "Process", call: int, args: int) -> int:
    entry = SOCKETCALLS.get(s32(call))
    if entry is None:
        raise SyscallError(Errno.EINVAL)
    nargs, handler = entry
    values = struct.unpack(f"<{nargs}I", copy_from_user(p.mm, args, 4 * nargs))
    return handler(p, *values)
