"""poll, ppoll, select, pselect6 (and i386's _newselect, old select, *_time64): the host polls
the host descriptors behind the guest's, and the answer is mapped back to guest numbers
(compare Linux's fs/select.c)."""
from __future__ import annotations

import struct
import time
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Tuple

from emulator.errors import SyscallError
from emulator.signals import ERESTARTNOHAND, ERESTARTSYS, UNBLOCKABLE
from mmu.uaccess import copy_from_user, copy_to_user, read_word

from .abi import s32
from .errno import Errno
from .host import interruptible, poll as host_poll
from .time import read_timespec

if TYPE_CHECKING:
    from emulator.process import Process

POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
POLLRDNORM, POLLRDBAND, POLLWRNORM, POLLWRBAND = 0x40, 0x80, 0x100, 0x200
# What select asks poll for (compare POLLIN_SET, POLLOUT_SET, POLLEX_SET).
POLLIN_SET = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR
POLLOUT_SET = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR
POLLEX_SET = POLLPRI
NFDS_MAX = 1024            # RLIMIT_NOFILE


def _host_poll(p: "Process", wanted: Dict[int, int], timeout: Optional[float]) -> Dict[int, int]:
    """poll(2) on host descriptors {host_fd: events}; timeout in seconds, None = forever.
    A signal the guest handles ends the wait with -ERESTARTNOHAND."""
    fds = list(wanted.items())
    try:
        revents = interruptible(p, host_poll, fds, timeout)
    except SyscallError as exc:
        if exc.errno == ERESTARTSYS:
            raise SyscallError(ERESTARTNOHAND) from None
        raise
    return {fd: r for (fd, _), r in zip(fds, revents) if r}


def _read_timespec(p: "Process", addr: int, time64: bool) -> Optional[float]:
    """The optional timeout argument: NULL means wait forever."""
    return read_timespec(p, addr, time64) if addr else None


def _write_timespec(p: "Process", addr: int, left: float, time64: bool) -> None:
    ns = max(0, int(left * 1e9))
    sec, nsec = divmod(ns, 1_000_000_000)
    fmt = "<qq" if p.arch.word == 8 or time64 else "<ii"
    copy_to_user(p.mm, addr, struct.pack(fmt, sec, nsec))


def _read_timeval(p: "Process", addr: int) -> Optional[float]:
    if not addr:
        return None
    fmt = "<qq" if p.arch.word == 8 else "<ii"
    sec, usec = struct.unpack(fmt, copy_from_user(p.mm, addr, struct.calcsize(fmt)))
    if sec < 0 or not 0 <= usec < 1_000_000:
        raise SyscallError(Errno.EINVAL)
    return sec + usec / 1e6


def _write_timeval(p: "Process", addr: int, left: float) -> None:
    us = max(0, int(left * 1e6))
    fmt = "<qq" if p.arch.word == 8 else "<ii"
    copy_to_user(p.mm, addr, struct.pack(fmt, *divmod(us, 1_000_000)))


def _with_sigmask(p: "Process", sigmask: Optional[int], fn: Callable[..., int],
                  *args: object) -> int:
    """ppoll/pselect6: wait with `sigmask` blocked; the old mask comes back afterwards, or,
    when a signal interrupted the wait, after its handler runs (compare
    restore_saved_sigmask_unless)."""
    if sigmask is None:
        return fn(*args)
    p.saved_sigmask = p.signals.blocked
    p.signals.blocked = sigmask & ~UNBLOCKABLE
    p.host_signals.sync_mask()
    try:
        result = fn(*args)
    except SyscallError as exc:
        if exc.errno == ERESTARTNOHAND:
            raise                      # return_to_user restores saved_sigmask
        _restore(p)
        raise
    _restore(p)
    return result


def _restore(p: "Process") -> None:
    if p.saved_sigmask is not None:
        p.signals.blocked = p.saved_sigmask
        p.saved_sigmask = None
        p.host_signals.sync_mask()


def _sigmask_arg(p: "Process", addr: int, size: int) -> Optional[int]:
    if not addr:
        return None
    if size != 8:
        raise SyscallError(Errno.EINVAL)
    return int.from_bytes(copy_from_user(p.mm, addr, 8), "little")


# --- poll -----------------------------------------------------------------------------------
def do_poll(p: "Process", ufds: int, nfds: int, timeout: Optional[float]) -> int:
    nfds &= 0xFFFFFFFF
    if nfds > NFDS_MAX:
        raise SyscallError(Errno.EINVAL)
    raw = copy_from_user(p.mm, ufds, 8 * nfds)
    entries: List[Tuple[int, int]] = [struct.unpack_from("<ih", raw, 8 * i)[:2]
                                      for i in range(nfds)]
    wanted: Dict[int, int] = {}
    hosts: List[Optional[int]] = []
    nval = False
    for fd, events in entries:
        of = p.fds.files.get(fd) if fd >= 0 else None
        if of is None:
            hosts.append(None)
            nval = nval or fd >= 0
            continue
        hosts.append(of.host_fd)
        wanted[of.host_fd] = wanted.get(of.host_fd, 0) | (events & 0xFFFF)
    ready = _host_poll(p, wanted, 0 if nval else timeout) if wanted or timeout != 0 and not nval \
        else {}
    out = bytearray(raw)
    count = 0
    for i, ((fd, events), host) in enumerate(zip(entries, hosts)):
        if fd < 0:
            revents = 0
        elif host is None:
            revents = POLLNVAL
        else:
            revents = ready.get(host, 0) & ((events & 0xFFFF) | POLLERR | POLLHUP | POLLNVAL)
        struct.pack_into("<h", out, 8 * i + 6, revents - 0x10000 if revents & 0x8000 else revents)
        count += bool(revents)
    copy_to_user(p.mm, ufds, bytes(out))
    return count


def sys_poll(p: "Process", ufds: int, nfds: int, timeout_ms: int) -> int:
    ms = s32(timeout_ms)
    return do_poll(p, ufds, nfds, None if ms < 0 else ms / 1000)


def _ppoll(p: "Process", ufds: int, nfds: int, tsp: int, sigmask: int, sigsetsize: int,
           time64: bool) -> int:
    timeout = _read_timespec(p, tsp, time64)
    mask = _sigmask_arg(p, sigmask, sigsetsize)
    start = time.monotonic()
    try:
        return _with_sigmask(p, mask, do_poll, p, ufds, nfds, timeout)
    finally:
        if tsp and timeout is not None:
            _write_timespec(p, tsp, timeout - (time.monotonic() - start), time64)


def sys_ppoll(p: "Process", ufds: int, nfds: int, tsp: int, sigmask: int,
              sigsetsize: int) -> int:
    return _ppoll(p, ufds, nfds, tsp, sigmask, sigsetsize, False)


def sys_ppoll_time64(p: "Process", ufds: int, nfds: int, tsp: int, sigmask: int,
                     sigsetsize: int) -> int:
    return _ppoll(p, ufds, nfds, tsp, sigmask, sigsetsize, True)


# --- select ---------------------------------------------------------------------------------
def do_select(p: "Process", nfds: int, inp: int, outp: int, exp: int,
              timeout: Optional[float]) -> int:
    """Compare core_sys_select / do_select: fd_set bitmaps of `long`s, EBADF for a set bit
    naming no descriptor, the three sets rewritten with only the ready bits."""
    n = s32(nfds)
    if n < 0:
        raise SyscallError(Errno.EINVAL)
    n = min(n, max(p.fds.files, default=-1) + 1)
    word = p.arch.word
    size = (n + 8 * word - 1) // (8 * word) * word
    sets = [int.from_bytes(copy_from_user(p.mm, addr, size), "little") if addr and size else 0
            for addr in (inp, outp, exp)]
    wanted: Dict[int, int] = {}
    host_of: Dict[int, int] = {}
    for fd in range(n):
        bit = 1 << fd
        events = (POLLIN_SET if sets[0] & bit else 0) | (POLLOUT_SET if sets[1] & bit else 0) \
            | (POLLEX_SET if sets[2] & bit else 0)
        if not events:
            continue
        of = p.fds.files.get(fd)
        if of is None:
            raise SyscallError(Errno.EBADF)
        host_of[fd] = of.host_fd
        wanted[of.host_fd] = wanted.get(of.host_fd, 0) | events
    ready = _host_poll(p, wanted, timeout) if wanted or timeout != 0 else {}
    res = [0, 0, 0]
    count = 0
    for fd, host in host_of.items():
        bit = 1 << fd
        got = ready.get(host, 0)
        if sets[0] & bit and got & (POLLIN_SET | POLLNVAL):
            res[0] |= bit
            count += 1
        if sets[1] & bit and got & (POLLOUT_SET | POLLNVAL):
            res[1] |= bit
            count += 1
        if sets[2] & bit and got & POLLEX_SET:
            res[2] |= bit
            count += 1
    for addr, value in zip((inp, outp, exp), res):
        if addr and size:
            copy_to_user(p.mm, addr, value.to_bytes(size, "little"))
    return count


def _select_tv(p: "Process", nfds: int, inp: int, outp: int, exp: int, tvp: int) -> int:
    timeout = _read_timeval(p, tvp)
    start = time.monotonic()
    try:
        return do_select(p, nfds, inp, outp, exp, timeout)
    finally:
        if tvp and timeout is not None:
            _write_timeval(p, tvp, timeout - (time.monotonic() - start))


def sys_select(p: "Process", nfds: int, inp: int, outp: int, exp: int, tvp: int) -> int:
    """x86-64 select (23) and i386 _newselect (142)."""
    return _select_tv(p, nfds, inp, outp, exp, tvp)


def sys_old_select(p: "Process", args: int) -> int:
    """i386 select (82): one pointer to struct sel_arg_struct {n, inp, outp, exp, tvp}."""
    n, inp, outp, exp, tvp = struct.unpack("<5I", copy_from_user(p.mm, args, 20))
    return _select_tv(p, n, inp, outp, exp, tvp)


def _pselect(p: "Process", nfds: int, inp: int, outp: int, exp: int, tsp: int, sig: int,
             time64: bool) -> int:
    timeout = _read_timespec(p, tsp, time64)
    mask = None
    if sig:
        # struct { const sigset_t *ss; size_t ss_len; }
        word = p.arch.word
        ss = read_word(p.mm, sig, word)
        ss_len = read_word(p.mm, sig + word, word)
        mask = _sigmask_arg(p, ss, ss_len)
    start = time.monotonic()
    try:
        return _with_sigmask(p, mask, do_select, p, nfds, inp, outp, exp, timeout)
    finally:
        if tsp and timeout is not None:
            _write_timespec(p, tsp, timeout - (time.monotonic() - start), time64)


def sys_pselect6(p: "Process", nfds: int, inp: int, outp: int, exp: int, tsp: int,
                 sig: int) -> int:
    return _pselect(p, nfds, inp, outp, exp, tsp, sig, False)


def sys_pselect6_time64(p: "Process", nfds: int, inp: int, outp: int, exp: int, tsp: int,
                        sig: int) -> int:
    return _pselect(p, nfds, inp, outp, exp, tsp, sig, True)
