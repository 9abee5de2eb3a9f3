"""`--deterministic [--seed N]`: everything that differs between runs becomes a function of the
instruction count and the seed, so two runs of the same program on the same input produce
byte-identical output, `--strace` and `--stats` (whose wall_s line is left out in this mode).

- A virtual clock: 1 ns per retired guest instruction (emulator/icount.py) plus the time the
  guest asked to sleep (sleeps return at once and advance the clock instead).
  CLOCK_REALTIME starts at EPOCH_NS (2024-01-01T00:00:00Z), the monotonic and boot clocks at
  BOOT_NS, the CPU-time clocks at 0. clock_gettime, gettimeofday, time, clock_getres (1 ns;
  4 ms for the COARSE clocks), times, getrusage and sysinfo read it.
- RDTSC / RDTSCP: Unicorn 2.1 cannot hook them as instructions (UC_HOOK_INSN refuses them)
  and trapping them with CR4.TSD would leave QEMU's exception state behind (a later #GP or #DE
  would become a double fault). Instead the instruction counter's decoder reports each one the
  first time a block holding it is entered; a UC_HOOK_CODE hook is put on that one address and
  the block is translated again before it runs. The hook completes the instruction:
  EDX:EAX = the virtual clock in ns (a 1 GHz TSC), for RDTSCP ECX = 0 (TSC_AUX: cpu 0), it
  counts as retired, and the guest goes on after it.
- getrandom, AT_RANDOM and reads of /dev/urandom and /dev/random (any descriptor on the
  character devices 1:8 and 1:9): one stream from random.Random(seed), seed 0 by default.
- pid = tid = FIXED_PID, ppid = FIXED_PPID; uname is FIXED_UNAME (machine x86_64 or i686).
- CPUID is Unicorn's fixed qemu64 model already.

Interval timers (alarm, setitimer) stay on the host's clock: a program that waits for them in
a blocking call (pause, sigsuspend) still repeats, one that polls for them while computing may
not. A forked child's pid is the host's.
"""
from __future__ import annotations

import logging
import os
import stat
import struct
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from emulator.errors import SyscallError
from loader.elf import Arch
from mmu.uaccess import copy_from_user, copy_to_user
from syscalls.abi import s32
from syscalls.errno import Errno

if TYPE_CHECKING:
    from emulator.icount import InstructionCounter
    from emulator.process import Process

log = logging.getLogger("pyexec.determinism")

EPOCH_NS = 1_704_067_200 * 1_000_000_000     # 2024-01-01T00:00:00Z
BOOT_NS = 100 * 1_000_000_000                # the monotonic clock at the first instruction
FIXED_PID = 1000
FIXED_PPID = 999
DEFAULT_SEED = 0
CLK_TCK = 100
COARSE_RES_NS = 4_000_000
FIXED_UNAME = ("Linux", "pyexec", "6.1.0-pyexec", "#1 SMP PREEMPT_DYNAMIC pyexec", None,
               "(none)")
RANDOM_DEVICES = {os.makedev(1, 8), os.makedev(1, 9)}     # /dev/random, /dev/urandom

CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID = 0, 1, 2, 3
CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME = 4, 5, 6, 7
CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM, CLOCK_TAI = 8, 9, 11
TAI_OFFSET_NS = 37 * 1_000_000_000
TIMER_ABSTIME = 1


class Deterministic:
    """One per run (it survives execve: the clock, the random stream and the pid go on)."""

    def __init__(self, counter: "InstructionCounter", seed: Optional[int] = None) -> None:
        self.counter = counter
        self.seed = DEFAULT_SEED if seed is None else seed
        self.slept_ns = 0
        self._proc: Optional["Process"] = None
        self._hooked: set[int] = set()
        counter.watch["rdtsc"] = self._watch_rdtsc
        counter.watch["rdtscp"] = self._watch_rdtsc

    # --- the clock --------------------------------------------------------------------------
    def now_ns(self) -> int:
        """Virtual nanoseconds since the first instruction."""
        return self.counter.total + self.slept_ns

    def clock_ns(self, clk: int) -> int:
        t = self.now_ns()
        clk = s32(clk)
        if clk in (CLOCK_REALTIME, CLOCK_REALTIME_COARSE, CLOCK_REALTIME_ALARM):
            return EPOCH_NS + t
        if clk == CLOCK_TAI:
            return EPOCH_NS + TAI_OFFSET_NS + t
        if clk in (CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME,
                   CLOCK_BOOTTIME_ALARM):
            return BOOT_NS + t
        if clk in (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID):
            return self.counter.total
        raise SyscallError(Errno.EINVAL)

    # --- wiring -------------------------------------------------------------------------------
    def attach(self, proc: "Process") -> None:
        """Per address space: identity, the syscall overrides, the rdtsc trap."""
        from syscalls.dispatch import Syscall
        from emulator import ucconst as x86
        self._proc = proc
        proc.pid = FIXED_PID
        proc.ppid = FIXED_PPID
        table = dict(proc.dispatcher.table)
        handlers = self._handlers()
        for nr, entry in table.items():
            spec = handlers.get(entry.name)
            if spec is not None:
                fn, nargs = spec
                table[nr] = Syscall(entry.name, fn, nargs)
        proc.dispatcher.table = table
        proc.cpu.refresh_table()
        self._hooked = set()
        if proc.arch is Arch.X86_64:
            self._regs = (x86.UC_X86_REG_RAX, x86.UC_X86_REG_RDX, x86.UC_X86_REG_RCX)
        else:
            self._regs = (x86.UC_X86_REG_EAX, x86.UC_X86_REG_EDX, x86.UC_X86_REG_ECX)

    def random_bytes(self, n: int) -> bytes:
        assert self._proc is not None
        return self._proc.random_bytes(n)

    # --- rdtsc / rdtscp -------------------------------------------------------------------------
    def _watch_rdtsc(self, addr: int, size: int, mnemonic: str) -> bool:
        """The counter found an rdtsc(p) at addr: hook it (True: the block is re-translated)."""
        from emulator.ucconst import UC_HOOK_CODE
        if addr in self._hooked or self._proc is None:
            return False
        self._hooked.add(addr)
        self._proc.machine.uc.hook_add(UC_HOOK_CODE, self._rdtsc, mnemonic == "rdtscp",
                                       addr, addr)
        return True

    def _rdtsc(self, uc: Any, addr: int, size: int, tscp: bool) -> None:
        """Before the rdtsc(p) at addr runs: do its work and continue after it."""
        proc = self._proc
        try:
            assert proc is not None
            self.counter.settle(addr)          # the rest of this block has not run
            self.counter.retire(1)
            tsc = self.now_ns()
            m = proc.machine
            eax, edx, ecx = self._regs
            m.set_reg(eax, tsc & 0xFFFFFFFF)
            m.set_reg(edx, (tsc >> 32) & 0xFFFFFFFF)
            if tscp:
                m.set_reg(ecx, 0)
            m.pc = addr + size             # Unicorn resumes there, in a new block
        except BaseException as exc:      # never let an exception vanish inside Unicorn
            if proc is not None:
                proc.cpu.error = exc
                proc.machine.stop()

    # --- syscalls ---------------------------------------------------------------------------
    def _timespec(self, p: "Process", ns: int, time64: bool = False) -> bytes:
        sec, nsec = divmod(ns, 1_000_000_000)
        if p.arch is Arch.X86_64 or time64:
            return struct.pack("<qq", sec, nsec)
        return struct.pack("<iI", sec & 0x7FFFFFFF, nsec)

    def _read_timespec_ns(self, p: "Process", addr: int, time64: bool = False) -> int:
        if p.arch is Arch.X86_64 or time64:
            sec, nsec = struct.unpack("<qq", copy_from_user(p.mm, addr, 16))
        else:
            sec, nsec = struct.unpack("<ii", copy_from_user(p.mm, addr, 8))
        if sec < 0 or not 0 <= nsec < 1_000_000_000:
            raise SyscallError(Errno.EINVAL)
        return sec * 1_000_000_000 + nsec

    def _handlers(self) -> Dict[str, tuple[Callable[..., int], int]]:
        d = self

        def clock_gettime(p: "Process", clk: int, tp: int) -> int:
            copy_to_user(p.mm, tp, d._timespec(p, d.clock_ns(clk)))
            return 0

        def clock_gettime64(p: "Process", clk: int, tp: int) -> int:
            copy_to_user(p.mm, tp, d._timespec(p, d.clock_ns(clk), True))
            return 0

        def _res(clk: int) -> int:
            d.clock_ns(clk)         # EINVAL for an unknown clock
            return COARSE_RES_NS if s32(clk) in (CLOCK_REALTIME_COARSE,
                                                 CLOCK_MONOTONIC_COARSE) else 1

        def clock_getres(p: "Process", clk: int, tp: int) -> int:
            res = _res(clk)
            if tp:
                copy_to_user(p.mm, tp, d._timespec(p, res))
            return 0

        def clock_getres_time64(p: "Process", clk: int, tp: int) -> int:
            res = _res(clk)
            if tp:
                copy_to_user(p.mm, tp, d._timespec(p, res, True))
            return 0

        def gettimeofday(p: "Process", tv: int, tz: int) -> int:
            ns = d.clock_ns(CLOCK_REALTIME)
            if tv:
                fmt = "<qq" if p.arch is Arch.X86_64 else "<iI"
                sec, usec = ns // 1_000_000_000, (ns // 1000) % 1_000_000
                copy_to_user(p.mm, tv, struct.pack(fmt, sec, usec))
            if tz:
                copy_to_user(p.mm, tz, bytes(8))
            return 0

        def time_(p: "Process", tloc: int) -> int:
            now = d.clock_ns(CLOCK_REALTIME) // 1_000_000_000
            if tloc:
                copy_to_user(p.mm, tloc, now.to_bytes(p.arch.word, "little"))
            return now

        def ticks(ns: int) -> int:
            return ns * CLK_TCK // 1_000_000_000

        def times(p: "Process", buf: int) -> int:
            user = ticks(d.counter.total)
            if buf:
                fmt = "<4q" if p.arch is Arch.X86_64 else "<4I"
                copy_to_user(p.mm, buf, struct.pack(fmt, user, 0, 0, 0))
            elapsed = ticks(BOOT_NS + d.now_ns())
            return elapsed if p.arch is Arch.X86_64 else elapsed & 0xFFFFFFFF

        def getrusage(p: "Process", who: int, usage: int) -> int:
            from syscalls.process import rusage_bytes
            who = s32(who)
            if who not in (0, -1, 1):
                raise SyscallError(Errno.EINVAL)
            fields = [0] * 18
            if who != -1:
                ns = d.counter.total
                fields[0], fields[1] = ns // 1_000_000_000, (ns // 1000) % 1_000_000
                fields[4] = p.mm.peak_rss * 4
            copy_to_user(p.mm, usage, rusage_bytes(p, fields))
            return 0

        def sysinfo(p: "Process", info: int) -> int:
            uptime = (BOOT_NS + d.now_ns()) // 1_000_000_000
            total, free = 1 << 32, 1 << 31
            if p.arch is Arch.X86_64:
                data = struct.pack("<q3Q6QHH4xQQI4x", uptime, 0, 0, 0, total, free, 0, 0, 0, 0,
                                   1, 0, 0, 0, 1)
            else:
                data = struct.pack("<i3I6IHHIII8x", uptime, 0, 0, 0, total >> 12, free >> 12,
                                   0, 0, 0, 0, 1, 0, 0, 0, 4096)
            copy_to_user(p.mm, info, data)
            return 0

        def nanosleep(p: "Process", req: int, rem: int) -> int:
            d.slept_ns += d._read_timespec_ns(p, req)
            return 0

        def _sleep_until(clk: int, flags: int, ns: int) -> None:
            if flags & TIMER_ABSTIME:
                ns = max(0, ns - d.clock_ns(clk))
            else:
                d.clock_ns(clk)
            d.slept_ns += ns

        def clock_nanosleep(p: "Process", clk: int, flags: int, req: int, rem: int) -> int:
            _sleep_until(clk, flags, d._read_timespec_ns(p, req))
            return 0

        def clock_nanosleep_time64(p: "Process", clk: int, flags: int, req: int,
                                   rem: int) -> int:
            _sleep_until(clk, flags, d._read_timespec_ns(p, req, True))
            return 0

        def getpid(p: "Process") -> int:
            return p.pid

        def getppid(p: "Process") -> int:
            return p.ppid

        def uname(p: "Process", buf: int) -> int:
            machine = "x86_64" if p.arch is Arch.X86_64 else "i686"
            fields = [machine if f is None else f for f in FIXED_UNAME]
            copy_to_user(p.mm, buf, b"".join(f.encode()[:64].ljust(65, b"\0") for f in fields))
            return 0

        def _is_random(p: "Process", fd: int) -> bool:
            of = p.fds.files.get(s32(fd))
            if of is None:
                return False
            try:
                st = os.fstat(of.host_fd)
            except OSError:
                return False
            return stat.S_ISCHR(st.st_mode) and st.st_rdev in RANDOM_DEVICES

        table = dict(proc_handlers())

        def read(p: "Process", fd: int, buf: int, count: int) -> int:
            if not _is_random(p, fd):
                return table["read"](p, fd, buf, count)
            n = min(count, 1 << 25)
            copy_to_user(p.mm, buf, d.random_bytes(n))
            return n

        def readv(p: "Process", fd: int, iov: int, iovcnt: int) -> int:
            if not _is_random(p, fd):
                return table["readv"](p, fd, iov, iovcnt)
            from syscalls.fs import _iovecs
            total = 0
            for base, length in _iovecs(p, iov, iovcnt):
                if length:
                    copy_to_user(p.mm, base, d.random_bytes(length))
                    total += length
            return total

        return {
            "clock_gettime": (clock_gettime, 2), "clock_gettime64": (clock_gettime64, 2),
            "clock_getres": (clock_getres, 2), "clock_getres_time64": (clock_getres_time64, 2),
            "gettimeofday": (gettimeofday, 2), "time": (time_, 1), "times": (times, 1),
            "getrusage": (getrusage, 2), "sysinfo": (sysinfo, 1),
            "nanosleep": (nanosleep, 2), "clock_nanosleep": (clock_nanosleep, 4),
            "clock_nanosleep_time64": (clock_nanosleep_time64, 4),
            "getpid": (getpid, 0), "gettid": (getpid, 0), "getppid": (getppid, 0),
            "uname": (uname, 1), "read": (read, 3), "readv": (readv, 3),
        }


def proc_handlers() -> Dict[str, Callable[..., int]]:
    """The regular handlers the deterministic ones fall back to."""
    from syscalls import fs
    return {"read": fs.sys_read, "readv": fs.sys_readv}
