"""Clocks and sleeping."""
from __future__ import annotations

import struct
import time
from typing import TYPE_CHECKING

from emulator.errors import SyscallError
from mmu.uaccess import copy_from_user, copy_to_user

from .abi import s32
from .errno import Errno

if TYPE_CHECKING:
    from emulator.process import Process

CLOCKS = {0: time.CLOCK_REALTIME, 1: time.CLOCK_MONOTONIC, 2: time.CLOCK_PROCESS_CPUTIME_ID,
          3: time.CLOCK_THREAD_CPUTIME_ID, 4: time.CLOCK_MONOTONIC_RAW, 5: 5, 6: 6,
          7: time.CLOCK_BOOTTIME, 11: 11}


def _clock(clk: int) -> int:
    try:
        return CLOCKS[s32(clk)]
    except KeyError:
        raise SyscallError(Errno.EINVAL) from None


def _timespec(p: "Process", ns: int, time64: bool = False) -> bytes:
    sec, nsec = divmod(ns, 1_000_000_000)
    if p.arch.word == 8 or time64:
        return struct.pack("<qq", sec, nsec)
    return struct.pack("<ii", sec & 0xFFFFFFFF if sec < 2**31 else 0x7FFFFFFF, nsec)


def sys_clock_gettime(p: "Process", clk: int, tp: int) -> int:
    copy_to_user(p.mm, tp, _timespec(p, time.clock_gettime_ns(_clock(clk))))
    return 0


def sys_clock_gettime64(p: "Process", clk: int, tp: int) -> int:
    copy_to_user(p.mm, tp, _timespec(p, time.clock_gettime_ns(_clock(clk)), True))
    return 0


def sys_clock_getres(p: "Process", clk: int, tp: int) -> int:
    res = time.clock_getres(_clock(clk))
    if tp:
        copy_to_user(p.mm, tp, _timespec(p, int(res * 1e9)))
    return 0


def sys_clock_getres_time64(p: "Process", clk: int, tp: int) -> int:
    res = time.clock_getres(_clock(clk))
    if tp:
        copy_to_user(p.mm, tp, _timespec(p, int(res * 1e9), True))
    return 0


def sys_gettimeofday(p: "Process", tv: int, tz: int) -> int:
    ns = time.time_ns()
    sec, usec = ns // 1_000_000_000, (ns // 1000) % 1_000_000
    if tv:
        fmt = "<qq" if p.arch.word == 8 else "<ii"
        copy_to_user(p.mm, tv, struct.pack(fmt, sec, usec))
    if tz:
        copy_to_user(p.mm, tz, bytes(8))
    return 0


def sys_time(p: "Process", tloc: int) -> int:
    now = int(time.time())
    if tloc:
        copy_to_user(p.mm, tloc, now.to_bytes(p.arch.word, "little"))
    return now


def read_timespec(p: "Process", addr: int, time64: bool = False) -> float:
    """A struct timespec (or the i386 32-bit one) in seconds; EINVAL when malformed."""
    if p.arch.word == 8 or time64:
        sec, nsec = struct.unpack("<qq", copy_from_user(p.mm, addr, 16))
    else:
        sec, nsec = struct.unpack("<ii", copy_from_user(p.mm, addr, 8))
    if sec < 0 or not 0 <= nsec < 1_000_000_000:
        raise SyscallError(Errno.EINVAL)
    return sec + nsec / 1e9


def sys_nanosleep(p: "Process", req: int, rem: int) -> int:
    time.sleep(read_timespec(p, req))
    return 0


def sys_clock_nanosleep(p: "Process", clk: int, flags: int, req: int, rem: int) -> int:
    delay = read_timespec(p, req)
    if flags & 1:   # TIMER_ABSTIME
        delay = max(0.0, delay - time.clock_gettime(_clock(clk)))
    time.sleep(delay)
    return 0


def sys_clock_nanosleep_time64(p: "Process", clk: int, flags: int, req: int, rem: int) -> int:
    delay = read_timespec(p, req, True)
    if flags & 1:
        delay = max(0.0, delay - time.clock_gettime(_clock(clk)))
    time.sleep(delay)
    return 0
