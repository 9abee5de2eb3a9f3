"""`--strace[=FILE]`: one line per syscall and per delivered signal, in strace's own format,
so the output can be compared with `strace -o FILE` line by line.

The argument decoding is data: SPECS maps a syscall name (per ABI where the layouts differ:
i386's _llseek, mmap2, pread64 with split offsets...) to a tuple of argument formatters built
from the small combinators below (`fd(0)`, `path(1)`, `flags(2, OPEN_FLAGS)`, `buf_out(1)`...).
Arguments the kernel reads are formatted at syscall entry (before the handler may change
memory); arguments it writes are formatted at exit, from the result, as strace does: on
failure an output pointer is printed as an address. The line is written at exit:

    openat(AT_FDCWD, "missing", O_RDONLY) = -1 ENOENT (No such file or directory)

padded so that " = " starts at column 40 as strace pads it. A syscall without a spec prints
its raw arguments in hex (strace's printargs). Signals: `--- SIGSEGV {si_signo=SIGSEGV,
si_code=SEGV_MAPERR, si_addr=0x1234} ---` when one is dequeued for delivery; the end of the
process: `+++ exited with 0 +++` / `+++ killed by SIGSEGV +++`. pyexec has no vDSO, so calls
such as clock_gettime, which the C library makes through the vDSO natively, appear here and
not in a native strace.
"""
from __future__ import annotations

import logging
import os
import struct
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, TextIO, Tuple

from loader.elf import Arch

from . import names as syscall_names
from .strace_xlat import (ACCESS_MODES, ADDRESS_FAMILIES, ARCH_PRCTL, AT_FDCWD, AT_FLAGS,
                          AT_STATX_SYNC, AT_STATX_SYNC_TYPE, BAUD_RATES, CBAUD, CLOCKS,
                          CLONE_FLAGS, CSIZE, CSIZES, ERRNO_NAMES, FCNTL_CMDS, FD_FLAGS,
                          FILE_TYPES, FUTEX_CLOCK_REALTIME, FUTEX_OPS, FUTEX_PRIVATE,
                          GETRANDOM_FLAGS, IOCTLS, ITIMER_WHICH, MADVISE, MAP_FLAGS, MAP_TYPES,
                          MODE_SPECIAL, MREMAP_FLAGS, MSYNC_FLAGS, O_ACCMODE, O_CREAT,
                          O_TMPFILE_BIT, OPEN_ACCESS, OPEN_FLAGS, POLL_EVENTS, PRCTL_OPTIONS,
                          PROT_FLAGS, RENAME_FLAGS, RESTART_TEXT, RLIMITS, RUSAGE_WHO, S_IFMT,
                          SA_HANDLERS, SEEK_WHENCE, SI_CODES, SIGACT_FLAGS, SIGNAL_CODES,
                          SIGNAL_NAMES, SIGPROCMASK_HOW, SIGRTMIN, SOCK_FLAGS, SOCK_TYPES,
                          SS_FLAGS, STATX_ATTRS, STATX_MASKS, TERM_CFLAGS, TERM_IFLAGS,
                          TERM_LFLAGS, TERM_ODELAYS, TERM_OFLAGS, TIMER_FLAGS, WAIT_OPTIONS,
                          Xlat, strerror)

if TYPE_CHECKING:
    from emulator.control import SyscallEvent
    from emulator.process import Process

log = logging.getLogger("pyexec.strace")

MAX_STRLEN = 32          # strace -s default
PATH_MAX = 4096
COLUMN = 40              # strace's -a default: " = " is padded to this column
MAX_ARRAY = 32           # elements of argv and iovec arrays strace shows


# --- strings --------------------------------------------------------------------------------
_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\", ord("\f"): "\\f", ord("\n"): "\\n",
            ord("\r"): "\\r", ord("\t"): "\\t", ord("\v"): "\\v"}


def quote(data: bytes, truncated: bool = False, force_hex: bool = False) -> str:
    """strace's string_quote: C escapes, octal for other unprintable bytes (three digits when
    a digit 0-7 follows), `...` after the closing quote when the data was cut."""
    out = ['"']
    if force_hex:
        out.extend(f"\\x{b:02x}" for b in data)
    else:
        n = len(data)
        for i, c in enumerate(data):
            esc = _ESCAPES.get(c)
            if esc is not None:
                out.append(esc)
            elif 0x20 <= c < 0x7F:
                out.append(chr(c))
            elif i + 1 < n and 0x30 <= data[i + 1] <= 0x37:
                out.append(f"\\{c:03o}")
            else:
                out.append(f"\\{c:o}")
    out.append('"')
    if truncated:
        out.append("...")
    return "".join(out)


# --- symbolic constants ---------------------------------------------------------------------
def xlat(value: int, table: Xlat, default: Optional[str] = None) -> str:
    for name, v in table:
        if v == value:
            return name
    return default if default is not None else f"{value:#x}"


def flag_names(value: int, table: Xlat, zero: str = "0") -> str:
    """strace's printflags: names in the table's order, the rest in hex."""
    parts: List[str] = []
    for name, v in table:
        if v and value & v == v:
            parts.append(name)
            value &= ~v
    if value:
        parts.append(f"{value:#x}")
    return "|".join(parts) if parts else zero


def signame(sig: int) -> str:
    if 0 < sig < len(SIGNAL_NAMES):
        return SIGNAL_NAMES[sig]
    if SIGRTMIN < sig <= 64:
        return f"SIGRT_{sig - SIGRTMIN}"
    return str(sig)


def sigset_text(mask: int, nbytes: int = 8) -> str:
    """`[USR1 RT_2]`, or `~[RTMIN RT_1]` when two thirds of the bits or more are set."""
    bits = min(nbytes, 8) * 8
    bits = (bits + 31) // 32 * 32
    mask &= (1 << bits) - 1
    prefix = ""
    if bin(mask).count("1") >= bits * 2 // 3:
        mask = ~mask & ((1 << bits) - 1)
        prefix = "~"
    names = []
    for i in range(bits):
        if mask >> i & 1:
            sig = i + 1
            if sig < len(SIGNAL_NAMES):
                names.append(SIGNAL_NAMES[sig][3:])
            elif sig <= 64:
                names.append(f"RT_{sig - SIGRTMIN}")
            else:
                names.append(str(sig))
    return prefix + "[" + " ".join(names) + "]"


def mode_text(mode: int) -> str:
    """An octal mode as C's %#03o prints it: 0644, 007, 000."""
    return ("0" + format(mode, "o")).zfill(3)


def file_mode_text(mode: int) -> str:
    """st_mode: S_IFREG|S_ISVTX|0644."""
    kind = FILE_TYPES.get(mode & S_IFMT)
    parts = [kind] if kind else ([f"{mode & S_IFMT:#o}".replace("0o", "0")]
                                 if mode & S_IFMT else [])
    parts += [name for name, v in MODE_SPECIAL if mode & v]
    parts.append(mode_text(mode & 0o777))
    return "|".join(parts)


def signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


# --- one call ---------------------------------------------------------------------------------
@dataclass
class Call:
    proc: "Process"
    name: str
    args: List[int]
    result: Optional[int] = None
    aux: str = ""                 # the ` (...)` after the result (fcntl flags, time's date)
    state: Dict[str, Any] = field(default_factory=dict)    # entry values exit formatters need

    @property
    def arch(self) -> Arch:
        return self.proc.arch

    @property
    def word(self) -> int:
        return self.proc.arch.word

    @property
    def failed(self) -> bool:
        r = self.result
        return r is None or -4096 < r < 0

    @property
    def ret(self) -> int:
        return self.result or 0

    def arg(self, i: int) -> int:
        return self.args[i] if i < len(self.args) else 0

    def sarg(self, i: int) -> int:
        """A `long` argument, signed."""
        return signed(self.arg(i), self.word * 8)

    def iarg(self, i: int) -> int:
        """An `int` argument, signed."""
        return signed(self.arg(i), 32)

    def read(self, addr: int, size: int) -> Optional[bytes]:
        from emulator.errors import SyscallError
        from mmu.uaccess import copy_from_user
        if not addr:
            return None
        try:
            return copy_from_user(self.proc.mm, addr, size)
        except (SyscallError, OverflowError):
            return None

    def read_cstr(self, addr: int, limit: int) -> Optional[Tuple[bytes, bool]]:
        """(string, cut): up to `limit` bytes before the NUL; cut when no NUL came first."""
        from emulator.errors import SyscallError
        from mmu.uaccess import strncpy_from_user
        if not addr:
            return None
        try:
            raw = strncpy_from_user(self.proc.mm, addr, limit + 1)
        except (SyscallError, OverflowError):
            return None
        if len(raw) > limit:
            return raw[:limit], True
        return raw, False

    def words(self, addr: int, n: int) -> Optional[List[int]]:
        data = self.read(addr, n * self.word)
        if data is None:
            return None
        return list(struct.unpack(f"<{n}{'Q' if self.word == 8 else 'I'}", data))


Fmt = Callable[[Call], str]


@dataclass(frozen=True)
class Arg:
    fmt: Fmt
    at_exit: bool = False         # an output argument: formatted after the syscall


def addr_text(addr: int) -> str:
    return "NULL" if not addr else f"{addr:#x}"


# --- argument combinators ----------------------------------------------------------------------
def d(i: int) -> Arg:
    return Arg(lambda c: str(c.iarg(i)))


def u(i: int) -> Arg:
    return Arg(lambda c: str(c.arg(i) & 0xFFFFFFFF))


def ld(i: int) -> Arg:
    return Arg(lambda c: str(c.sarg(i)))


def lu(i: int) -> Arg:
    return Arg(lambda c: str(c.arg(i)))


def x(i: int) -> Arg:
    return Arg(lambda c: f"{c.arg(i):#x}")


def ptr(i: int) -> Arg:
    return Arg(lambda c: addr_text(c.arg(i)))


def out_ptr(i: int) -> Arg:
    """An output pointer strace shows only as an address (formatted at exit)."""
    return Arg(lambda c: addr_text(c.arg(i)), True)


fd = d


def dirfd(i: int) -> Arg:
    return Arg(lambda c: "AT_FDCWD" if c.iarg(i) == AT_FDCWD else str(c.iarg(i)))


def path(i: int) -> Arg:
    def fmt(c: Call) -> str:
        s = c.read_cstr(c.arg(i), PATH_MAX)
        return addr_text(c.arg(i)) if s is None else quote(*s)
    return Arg(fmt)


def cstr(i: int) -> Arg:
    def fmt(c: Call) -> str:
        s = c.read_cstr(c.arg(i), MAX_STRLEN)
        return addr_text(c.arg(i)) if s is None else quote(*s)
    return Arg(fmt)


def buf_in(i: int, n: int) -> Arg:
    """Data the kernel reads, arg n bytes long."""
    def fmt(c: Call) -> str:
        length = c.arg(n)
        data = c.read(c.arg(i), min(length, MAX_STRLEN))
        if data is None:
            return addr_text(c.arg(i))
        return quote(data, length > MAX_STRLEN)
    return Arg(fmt)


def buf_out(i: int, force_hex: bool = False) -> Arg:
    """Data the kernel wrote: as long as the result."""
    def fmt(c: Call) -> str:
        if c.failed:
            return addr_text(c.arg(i))
        length = c.ret
        data = c.read(c.arg(i), min(length, MAX_STRLEN)) if length else b""
        if data is None:
            return addr_text(c.arg(i))
        return quote(data, length > MAX_STRLEN, force_hex)
    return Arg(fmt, True)


def str_out(i: int) -> Arg:
    """A string the kernel wrote, as long as the result (getcwd counts the NUL)."""
    def fmt(c: Call) -> str:
        if c.failed:
            return addr_text(c.arg(i))
        s = c.read_cstr(c.arg(i), PATH_MAX)
        return addr_text(c.arg(i)) if s is None else quote(*s)
    return Arg(fmt, True)


def enum(i: int, table: Xlat, signed32: bool = True) -> Arg:
    def fmt(c: Call) -> str:
        v = c.iarg(i) if signed32 else c.arg(i)
        name = xlat(v, table, "")
        return name or (f"{v:#x}" if v >= 0 else str(v)) + " /* ??? */"
    return Arg(fmt)


def flags(i: int, table: Xlat, zero: str = "0") -> Arg:
    return Arg(lambda c: flag_names(c.arg(i) & 0xFFFFFFFF, table, zero))


def lflags(i: int, table: Xlat, zero: str = "0") -> Arg:
    return Arg(lambda c: flag_names(c.arg(i), table, zero))


def mode(i: int) -> Arg:
    return Arg(lambda c: mode_text(c.arg(i) & 0o7777))


def sig(i: int) -> Arg:
    return Arg(lambda c: signame(c.iarg(i)))


def open_flags_text(value: int) -> str:
    value &= 0xFFFFFFFF
    acc = xlat(value & O_ACCMODE, OPEN_ACCESS)
    rest = value & ~O_ACCMODE
    return acc if not rest else acc + "|" + flag_names(rest, OPEN_FLAGS)


def open_args(dir_i: Optional[int], path_i: int, flags_i: int) -> Tuple[Arg, ...]:
    """open/openat: the mode only with O_CREAT or O_TMPFILE."""
    def rest(c: Call) -> str:
        f = c.arg(flags_i)
        text = open_flags_text(f)
        if f & (O_CREAT | O_TMPFILE_BIT):
            text += ", " + mode_text(c.arg(flags_i + 1) & 0o7777)
        return text
    head = (dirfd(dir_i),) if dir_i is not None else ()
    return head + (path(path_i), Arg(rest))


def off64(lo: int) -> Arg:
    """i386: a 64-bit offset in two registers, low word first."""
    return Arg(lambda c: str(signed(c.arg(lo) | c.arg(lo + 1) << 32, 64)))


def timespec_text(c: Call, addr: int, time64: bool = False) -> str:
    if c.word == 8 or time64:
        data = c.read(addr, 16)
        fmt = "<qq"
    else:
        data = c.read(addr, 8)
        fmt = "<ii"
    if data is None:
        return addr_text(addr)
    sec, nsec = struct.unpack(fmt, data)
    return f"{{tv_sec={sec}, tv_nsec={nsec}}}"


def timeval_text(c: Call, addr: int) -> str:
    data = c.read(addr, 2 * c.word)
    if data is None:
        return addr_text(addr)
    sec, usec = struct.unpack("<qq" if c.word == 8 else "<ii", data)
    return f"{{tv_sec={sec}, tv_usec={usec}}}"


def timespec_in(i: int, time64: bool = False) -> Arg:
    return Arg(lambda c: timespec_text(c, c.arg(i), time64))


def timespec_out(i: int, time64: bool = False) -> Arg:
    return Arg(lambda c: addr_text(c.arg(i)) if c.failed or not c.arg(i)
               else timespec_text(c, c.arg(i), time64), True)


def rem_out(i: int, time64: bool = False) -> Arg:
    """nanosleep's remainder: written only when interrupted."""
    def fmt(c: Call) -> str:
        if c.arg(i) and c.result is not None and c.result in (-4, -516):
            return timespec_text(c, c.arg(i), time64)
        return addr_text(c.arg(i))
    return Arg(fmt, True)


def timeval_out(i: int) -> Arg:
    return Arg(lambda c: addr_text(c.arg(i)) if c.failed or not c.arg(i)
               else timeval_text(c, c.arg(i)), True)


def itimerval_text(c: Call, addr: int) -> str:
    data = c.read(addr, 4 * c.word)
    if data is None:
        return addr_text(addr)
    a, b, e, f = struct.unpack("<qqqq" if c.word == 8 else "<iiii", data)
    return (f"{{it_interval={{tv_sec={a}, tv_usec={b}}}, "
            f"it_value={{tv_sec={e}, tv_usec={f}}}}}")


def sigset_at(c: Call, addr: int, size: int) -> str:
    if not addr:
        return "NULL"
    if size <= 0 or size > 128:
        return addr_text(addr)
    data = c.read(addr, min(size, 8))
    if data is None:
        return addr_text(addr)
    return sigset_text(int.from_bytes(data, "little"), min(size, 8))


def sigset_in(i: int, size_i: int) -> Arg:
    return Arg(lambda c: sigset_at(c, c.arg(i), c.arg(size_i)))


def sigset_out(i: int, size_i: int) -> Arg:
    return Arg(lambda c: addr_text(c.arg(i)) if c.failed
               else sigset_at(c, c.arg(i), c.arg(size_i)), True)


def sigaction_text(c: Call, addr: int) -> str:
    """struct sigaction of rt_sigaction: handler, flags, restorer, mask."""
    if not addr:
        return "NULL"
    w = c.word
    data = c.read(addr, 3 * w + 8)
    if data is None:
        return addr_text(addr)
    handler, flags_, restorer = struct.unpack("<QQQ" if w == 8 else "<III", data[:3 * w])
    mask = int.from_bytes(data[3 * w:], "little")
    htext = SA_HANDLERS.get(handler) if handler in (0, 1) else None
    out = [f"sa_handler={htext or addr_text(handler)}", f"sa_mask={sigset_text(mask)}",
           f"sa_flags={flag_names(flags_ & 0xFFFFFFFF, SIGACT_FLAGS)}"]
    if flags_ & 0x04000000:
        out.append(f"sa_restorer={addr_text(restorer)}")
    return "{" + ", ".join(out) + "}"


def stat_text(c: Call, addr: int, layout: str) -> str:
    """The abbreviated struct stat: st_mode, then st_rdev (devices) or st_size."""
    if layout == "stat64":
        data = c.read(addr, 96)
        if data is None:
            return addr_text(addr)
        mode_, = struct.unpack_from("<I", data, 16)
        rdev, = struct.unpack_from("<Q", data, 32)
        size, = struct.unpack_from("<q", data, 44)
    elif layout == "stat" and c.word == 8:
        data = c.read(addr, 144)
        if data is None:
            return addr_text(addr)
        mode_, = struct.unpack_from("<I", data, 24)
        rdev, = struct.unpack_from("<Q", data, 40)
        size, = struct.unpack_from("<q", data, 48)
    else:                          # the old i386 struct stat
        data = c.read(addr, 64)
        if data is None:
            return addr_text(addr)
        mode_, = struct.unpack_from("<H", data, 8)
        rdev, = struct.unpack_from("<I", data, 16)
        size, = struct.unpack_from("<i", data, 20)
    kind = mode_ & S_IFMT
    if kind in (0o020000, 0o060000):
        major = ((rdev >> 8) & 0xFFF) | ((rdev >> 32) & ~0xFFF)
        minor = (rdev & 0xFF) | ((rdev >> 12) & ~0xFF)
        second = f"st_rdev=makedev({major:#x}, {minor:#x})"
    else:
        second = f"st_size={size}"
    return f"{{st_mode={file_mode_text(mode_)}, {second}, ...}}"


def stat_out(i: int, layout: str = "stat") -> Arg:
    return Arg(lambda c: addr_text(c.arg(i)) if c.failed else stat_text(c, c.arg(i), layout),
               True)


def statx_out(i: int) -> Arg:
    def fmt(c: Call) -> str:
        if c.failed:
            return addr_text(c.arg(i))
        data = c.read(c.arg(i), 256)
        if data is None:
            return addr_text(c.arg(i))
        mask, = struct.unpack_from("<I", data, 0)
        attrs, = struct.unpack_from("<Q", data, 8)
        mode_, = struct.unpack_from("<H", data, 28)
        size, = struct.unpack_from("<Q", data, 40)
        return (f"{{stx_mask={flag_names(mask, STATX_MASKS)}, "
                f"stx_attributes={flag_names(attrs, STATX_ATTRS)}, "
                f"stx_mode={file_mode_text(mode_)}, stx_size={size}, ...}}")
    return Arg(fmt, True)


def statx_flags(i: int) -> Arg:
    def fmt(c: Call) -> str:
        v = c.arg(i) & 0xFFFFFFFF
        sync = xlat(v & AT_STATX_SYNC_TYPE, AT_STATX_SYNC)
        rest = v & ~AT_STATX_SYNC_TYPE
        return sync if not rest else sync + "|" + flag_names(rest, AT_FLAGS)
    return Arg(fmt)


def iovec(i: int, cnt_i: int, out: bool) -> Arg:
    """[{iov_base="...", iov_len=N}, ...]: at exit for readv, its data as long as the result."""
    def fmt(c: Call) -> str:
        addr, cnt = c.arg(i), c.iarg(cnt_i)
        if out and c.failed or cnt < 0:
            return addr_text(addr)
        vals = c.words(addr, 2 * min(cnt, MAX_ARRAY))
        if vals is None:
            return addr_text(addr)
        left = c.ret if out else None
        items = []
        for k in range(0, len(vals), 2):
            base, length = vals[k], vals[k + 1]
            if out:
                assert left is not None
                shown = min(length, left)
                left -= shown
            else:
                shown = length
            data = c.read(base, min(shown, MAX_STRLEN)) if shown and base else b""
            text = addr_text(base) if data is None or not base else \
                quote(data, shown > MAX_STRLEN)
            items.append(f"{{iov_base={text}, iov_len={length}}}")
        more = ", ..." if cnt > MAX_ARRAY else ""
        return "[" + ", ".join(items) + more + "]"
    return Arg(fmt, out)


def int_out(i: int, bits: int = 32) -> Arg:
    """[value] an int the kernel wrote."""
    def fmt(c: Call) -> str:
        if c.failed:
            return addr_text(c.arg(i))
        data = c.read(c.arg(i), bits // 8)
        if data is None:
            return addr_text(c.arg(i))
        return f"[{signed(int.from_bytes(data, 'little'), bits)}]"
    return Arg(fmt, True)


def pipefd_out(i: int) -> Arg:
    def fmt(c: Call) -> str:
        if c.failed:
            return addr_text(c.arg(i))
        data = c.read(c.arg(i), 8)
        if data is None:
            return addr_text(c.arg(i))
        a, b = struct.unpack("<ii", data)
        return f"[{a}, {b}]"
    return Arg(fmt, True)


def rlim_value(v: int, bits: int) -> str:
    if v == (1 << bits) - 1:
        return "RLIM64_INFINITY" if bits == 64 else "RLIM_INFINITY"
    if v > 1024 and v % 1024 == 0:
        return f"{v // 1024}*1024"
    return str(v)


def rlimit_text(c: Call, addr: int, bits: int) -> str:
    if not addr:
        return "NULL"
    data = c.read(addr, bits // 4)
    if data is None:
        return addr_text(addr)
    cur, mx = struct.unpack("<QQ" if bits == 64 else "<II", data)
    return f"{{rlim_cur={rlim_value(cur, bits)}, rlim_max={rlim_value(mx, bits)}}}"


def rlimit_in(i: int, bits: int) -> Arg:
    return Arg(lambda c: rlimit_text(c, c.arg(i), bits))


def rlimit_out(i: int, bits: int) -> Arg:
    return Arg(lambda c: addr_text(c.arg(i)) if c.failed
               else rlimit_text(c, c.arg(i), bits), True)


def uname_out(i: int) -> Arg:
    def fmt(c: Call) -> str:
        if c.failed:
            return addr_text(c.arg(i))
        data = c.read(c.arg(i), 65 * 2)
        if data is None:
            return addr_text(c.arg(i))
        sysname, nodename = (data[k * 65:(k + 1) * 65].split(b"\0")[0] for k in range(2))
        return f"{{sysname={quote(sysname)}, nodename={quote(nodename)}, ...}}"
    return Arg(fmt, True)


def getdents_out(i: int, dirent64: bool) -> Arg:
    """strace (without -v): the address and `/* N entries */`."""
    def fmt(c: Call) -> str:
        addr = c.arg(i)
        if c.failed:
            return addr_text(addr)
        data = c.read(addr, c.ret) if c.ret else b""
        if data is None:
            return addr_text(addr)
        n, pos = 0, 0
        off = 16 if dirent64 else 2 * c.word
        while pos + off + 2 <= len(data):
            reclen, = struct.unpack_from("<H", data, pos + off)
            if reclen == 0:
                break
            n += 1
            pos += reclen
        return f"{addr_text(addr)} /* {n} entries */"
    return Arg(fmt, True)


def wait_status_text(status: int) -> str:
    sig_ = status & 0x7F
    if sig_ == 0:
        return f"[{{WIFEXITED(s) && WEXITSTATUS(s) == {(status >> 8) & 0xFF}}}]"
    if sig_ == 0x7F:
        return f"[{{WIFSTOPPED(s) && WSTOPSIG(s) == {signame((status >> 8) & 0xFF)}}}]"
    core = " && WCOREDUMP(s)" if status & 0x80 else ""
    return f"[{{WIFSIGNALED(s) && WTERMSIG(s) == {signame(sig_)}{core}}}]"


def wstatus_out(i: int) -> Arg:
    def fmt(c: Call) -> str:
        addr = c.arg(i)
        if c.failed or not addr or c.ret == 0:
            return addr_text(addr)
        data = c.read(addr, 4)
        if data is None:
            return addr_text(addr)
        return wait_status_text(int.from_bytes(data, "little"))
    return Arg(fmt, True)


def termios_text(c: Call, addr: int) -> str:
    data = c.read(addr, 16)
    if data is None:
        return addr_text(addr)
    iflag, oflag, cflag, lflag = struct.unpack("<IIII", data)
    odelays = [names.get(oflag & mask, f"{oflag & mask:#x}") for mask, names in TERM_ODELAYS]
    rest_o = oflag & ~sum(m for m, _ in TERM_ODELAYS)
    otext = "|".join(odelays + ([flag_names(rest_o, TERM_OFLAGS)] if rest_o else []))
    baud = BAUD_RATES.get(cflag & CBAUD, f"{cflag & CBAUD:#o}")
    rest_c = cflag & ~(CBAUD | CSIZE)
    ctext = "|".join([baud, CSIZES[cflag & CSIZE]] +
                     ([flag_names(rest_c, TERM_CFLAGS)] if rest_c else []))
    return (f"{{c_iflag={flag_names(iflag, TERM_IFLAGS)}, c_oflag={otext}, "
            f"c_cflag={ctext}, c_lflag={flag_names(lflag, TERM_LFLAGS)}, ...}}")


def ioctl_args() -> Tuple[Arg, ...]:
    def req(c: Call) -> str:
        return IOCTLS.get(c.arg(1) & 0xFFFFFFFF, f"{c.arg(1) & 0xFFFFFFFF:#x}")

    def third(c: Call) -> str:
        code, addr = c.arg(1) & 0xFFFFFFFF, c.arg(2)
        name = IOCTLS.get(code)
        if name in ("TCGETS", "TCSETS", "TCSETSW", "TCSETSF"):
            if name == "TCGETS" and c.failed or not addr:
                return addr_text(addr)
            return termios_text(c, addr)
        if name in ("TIOCGWINSZ", "TIOCSWINSZ"):
            if name == "TIOCGWINSZ" and c.failed:
                return addr_text(addr)
            data = c.read(addr, 8)
            if data is None:
                return addr_text(addr)
            r, col, xp, yp = struct.unpack("<HHHH", data)
            return f"{{ws_row={r}, ws_col={col}, ws_xpixel={xp}, ws_ypixel={yp}}}"
        if name in ("FIONREAD", "TIOCGPGRP", "TIOCSPGRP", "TIOCOUTQ", "FIONBIO", "TIOCGSID"):
            if c.failed and name not in ("TIOCSPGRP", "FIONBIO"):
                return addr_text(addr)
            data = c.read(addr, 4)
            return addr_text(addr) if data is None else f"[{signed(int.from_bytes(data, 'little'), 32)}]"
        if name in ("FIOCLEX", "FIONCLEX", "TIOCNOTTY", "TIOCEXCL", "TIOCNXCL"):
            return ""
        return addr_text(addr)

    def both(c: Call) -> str:
        t = third(c)
        return req(c) + (", " + t if t else "")
    return (fd(0), Arg(both, True))


def fcntl_args() -> Tuple[Arg, ...]:
    def rest(c: Call) -> str:
        cmd = c.iarg(1)
        name = xlat(cmd, FCNTL_CMDS)
        if name in ("F_SETFD",):
            return f"{name}, {flag_names(c.arg(2), FD_FLAGS)}"
        if name == "F_SETFL":
            return f"{name}, {open_flags_text(c.arg(2))}"
        if name in ("F_DUPFD", "F_DUPFD_CLOEXEC", "F_SETOWN", "F_SETSIG", "F_SETPIPE_SZ",
                    "F_SETLEASE", "F_NOTIFY", "F_ADD_SEALS"):
            return f"{name}, {c.iarg(2)}"
        if name in ("F_GETFD", "F_GETFL", "F_GETOWN", "F_GETSIG", "F_GETPIPE_SZ",
                    "F_GETLEASE", "F_GET_SEALS"):
            return name
        return f"{name}, {addr_text(c.arg(2))}"
    return (fd(0), Arg(rest))


def fcntl_ret(c: Call) -> str:
    name = xlat(c.iarg(1), FCNTL_CMDS)
    r = c.ret
    if name == "F_GETFD":
        return f"{r:#x} (flags {flag_names(r, FD_FLAGS)})" if r else "0"
    if name == "F_GETFL":
        return f"{r:#x} (flags {open_flags_text(r)})"
    return str(r)


def mmap_args(pages: bool) -> Tuple[Arg, ...]:
    def fl(c: Call) -> str:
        v = c.arg(3) & 0xFFFFFFFF
        text = xlat(v & 0xF, MAP_TYPES)
        rest = v & ~0xF
        return text if not rest else text + "|" + flag_names(rest, MAP_FLAGS)

    def off(c: Call) -> str:
        v = c.arg(5) * 4096 if pages else c.arg(5)
        return f"{v:#x}" if v else "0"
    return (ptr(0), lu(1), flags(2, PROT_FLAGS, "PROT_NONE"), Arg(fl), d(4), Arg(off))


def mremap_args() -> Tuple[Arg, ...]:
    def rest(c: Call) -> str:
        f = c.arg(3) & 0xFFFFFFFF
        text = flag_names(f, MREMAP_FLAGS)
        if f & 2:
            text += ", " + addr_text(c.arg(4))
        return text
    return (ptr(0), lu(1), lu(2), Arg(rest))


def execve_args(argv_i: int = 1, envp_i: int = 2) -> Tuple[Arg, ...]:
    def argv(c: Call) -> str:
        return string_array(c, c.arg(argv_i))

    def envp(c: Call) -> str:
        addr = c.arg(envp_i)
        n = count_array(c, addr)
        return addr_text(addr) + (f" /* {n} vars */" if n is not None else "")
    return (path(0), Arg(argv), Arg(envp))


def count_array(c: Call, addr: int) -> Optional[int]:
    if not addr:
        return None
    n = 0
    while n < 1 << 16:
        w = c.words(addr + n * c.word, 1)
        if w is None:
            return None
        if not w[0]:
            return n
        n += 1
    return n


def string_array(c: Call, addr: int) -> str:
    if not addr:
        return "NULL"
    items: List[str] = []
    n = 0
    while True:
        w = c.words(addr + n * c.word, 1)
        if w is None:
            return addr_text(addr) if not items else "[" + ", ".join(items) + ", ...]"
        if not w[0]:
            break
        if n >= MAX_ARRAY:
            items.append("...")
            break
        s = c.read_cstr(w[0], MAX_STRLEN)
        items.append(addr_text(w[0]) if s is None else quote(*s))
        n += 1
    return "[" + ", ".join(items) + "]"


def clone_args() -> Tuple[Arg, ...]:
    def fmt(c: Call) -> str:
        f = c.arg(0)
        sig_ = f & 0xFF
        text = flag_names(f & ~0xFF, CLONE_FLAGS, "")
        if sig_:
            text = (text + "|" if text else "") + signame(sig_)
        out = [f"child_stack={addr_text(c.arg(1))}", f"flags={text or '0'}"]
        if f & 0x100000:
            out.append(f"parent_tid={addr_text(c.arg(2))}")
        child_tid_i = 3 if c.arch is Arch.X86_64 else 4
        if f & 0x1200000:
            out.append(f"child_tidptr={addr_text(c.arg(child_tid_i))}")
        if f & 0x80000:
            tls_i = 4 if c.arch is Arch.X86_64 else 3
            out.append(f"tls={addr_text(c.arg(tls_i))}")
        return ", ".join(out)
    return (Arg(fmt),)


def set_thread_area_arg() -> Tuple[Arg, ...]:
    def fmt(c: Call) -> str:
        data = c.read(c.arg(0), 16)
        if data is None:
            return addr_text(c.arg(0))
        c.state["entry"] = entry = struct.unpack_from("<i", data)[0]
        _, base, limit, bits = struct.unpack("<iIII", data)
        names_ = ("seg_32bit", "contents", "read_exec_only", "limit_in_pages",
                  "seg_not_present", "useable")
        widths = (1, 2, 1, 1, 1, 1)
        vals, shift = [], 0
        for nm, w in zip(names_, widths):
            vals.append(f"{nm}={(bits >> shift) & ((1 << w) - 1)}")
            shift += w
        return (f"{{entry_number={entry}, base_addr={base:#x}, limit={limit:#08x}, "
                + ", ".join(vals) + "}")
    return (Arg(fmt),)


def set_thread_area_aux(c: Call) -> None:
    if c.state.get("entry") == -1 and not c.failed:
        data = c.read(c.arg(0), 4)
        if data is not None:
            c.aux = f"entry_number={struct.unpack('<i', data)[0]}"


def arch_prctl_args() -> Tuple[Arg, ...]:
    def fmt(c: Call) -> str:
        code = c.iarg(0)
        name = xlat(code, ARCH_PRCTL)
        if name in ("ARCH_GET_FS", "ARCH_GET_GS"):
            if c.failed:
                return f"{name}, {addr_text(c.arg(1))}"
            w = c.words(c.arg(1), 1)
            return f"{name}, " + (addr_text(c.arg(1)) if w is None else f"[{w[0]:#x}]")
        return f"{name}, {c.arg(1):#x}"
    return (Arg(fmt, True),)


def poll_args() -> Tuple[Arg, ...]:
    def fds(c: Call) -> str:
        addr, n = c.arg(0), c.arg(1)
        data = c.read(addr, 8 * min(n, MAX_ARRAY))
        if data is None:
            return addr_text(addr)
        items = []
        for k in range(min(n, MAX_ARRAY)):
            f, ev, _ = struct.unpack_from("<ihh", data, 8 * k)
            items.append(f"{{fd={f}, events={flag_names(ev & 0xFFFF, POLL_EVENTS)}}}")
        return "[" + ", ".join(items) + (", ..." if n > MAX_ARRAY else "") + "]"
    return (Arg(fds), u(1), d(2))


def poll_aux(c: Call) -> None:
    if c.failed or not c.ret:
        if c.result == 0:
            c.aux = "Timeout"
        return
    addr, n = c.arg(0), c.arg(1)
    data = c.read(addr, 8 * min(n, MAX_ARRAY))
    if data is None:
        return
    items = []
    for k in range(min(n, MAX_ARRAY)):
        f, _, rev = struct.unpack_from("<ihh", data, 8 * k)
        if rev:
            items.append(f"{{fd={f}, revents={flag_names(rev & 0xFFFF, POLL_EVENTS)}}}")
    c.aux = "[" + ", ".join(items) + "]"


def futex_args() -> Tuple[Arg, ...]:
    def fmt(c: Call) -> str:
        op = c.iarg(1)
        base = op & ~(FUTEX_PRIVATE | FUTEX_CLOCK_REALTIME)
        name = xlat(base, FUTEX_OPS)
        if op & FUTEX_PRIVATE:
            name += "_PRIVATE"
        if op & FUTEX_CLOCK_REALTIME:
            name = "FUTEX_CLOCK_REALTIME|" + name
        out = [addr_text(c.arg(0)), name, str(c.iarg(2))]
        if base in (0, 9):           # WAIT, WAIT_BITSET: a timeout
            out.append("NULL" if not c.arg(3) else timespec_text(c, c.arg(3)))
            if base == 9:
                out += [addr_text(c.arg(4)), f"FUTEX_BITSET_MATCH_ANY" if
                        c.arg(5) & 0xFFFFFFFF == 0xFFFFFFFF else f"{c.arg(5):#x}"]
        elif base in (3, 4):
            out += [str(c.arg(3)), addr_text(c.arg(4))]
            if base == 4:
                out.append(str(c.iarg(5)))
        return ", ".join(out)
    return (Arg(fmt),)


def socket_args() -> Tuple[Arg, ...]:
    def typ(c: Call) -> str:
        v = c.arg(1) & 0xFFFFFFFF
        text = xlat(v & 0xF, SOCK_TYPES)
        rest = v & ~0xF
        return text if not rest else text + "|" + flag_names(rest, SOCK_FLAGS)
    return (enum(0, ADDRESS_FAMILIES), Arg(typ), d(2))


def rt_sigreturn_arg() -> Tuple[Arg, ...]:
    """The mask the frame restores, read from it at entry (emulator/signals.py's layout)."""
    def fmt(c: Call) -> str:
        from emulator.signals import EXTRAMASK_OFF, MASK_OFF_64, SC_OFF_LEGACY, UC_OFF_32
        sp = c.proc.machine.sp
        if c.arch is Arch.X86_64:
            data = c.read(sp - 8 + MASK_OFF_64, 8)
        elif c.name == "rt_sigreturn":
            data = c.read(sp - 4 + UC_OFF_32 + 108, 8)
        else:
            lo = c.read(sp - 8 + SC_OFF_LEGACY + 80, 4)
            hi = c.read(sp - 8 + EXTRAMASK_OFF, 4)
            data = None if lo is None or hi is None else lo + hi
        if data is None:
            return "{mask=?}"
        return f"{{mask={sigset_text(int.from_bytes(data, 'little'))}}}"
    return (Arg(fmt),)


def sigaltstack_text(c: Call, addr: int) -> str:
    if not addr:
        return "NULL"
    w = c.word
    data = c.read(addr, 3 * w if w == 8 else 12)
    if data is None:
        return addr_text(addr)
    sp, fl, size = struct.unpack("<Qi4xQ" if w == 8 else "<IiI", data)
    return (f"{{ss_sp={addr_text(sp)}, ss_flags={flag_names(fl & 0xFFFFFFFF, SS_FLAGS)}, "
            f"ss_size={size}}}")


def times_out(i: int) -> Arg:
    def fmt(c: Call) -> str:
        if c.failed or not c.arg(i):
            return addr_text(c.arg(i))
        data = c.read(c.arg(i), 4 * c.word)
        if data is None:
            return addr_text(c.arg(i))
        a, b, e, f = struct.unpack("<qqqq" if c.word == 8 else "<iiii", data)
        return f"{{tms_utime={a}, tms_stime={b}, tms_cutime={e}, tms_cstime={f}}}"
    return Arg(fmt, True)


def time_aux(c: Call) -> None:
    if not c.failed:
        c.aux = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(c.ret))


def prlimit_args() -> Tuple[Arg, ...]:
    return (d(0), enum(1, RLIMITS), rlimit_in(2, 64), rlimit_out(3, 64))


def wait4_args() -> Tuple[Arg, ...]:
    return (d(0), wstatus_out(1), flags(2, WAIT_OPTIONS), out_ptr(3))


def getrusage_out(i: int) -> Arg:
    def fmt(c: Call) -> str:
        if c.failed:
            return addr_text(c.arg(i))
        w = c.word
        data = c.read(c.arg(i), 4 * w)
        if data is None:
            return addr_text(c.arg(i))
        us, uu, ss, su = struct.unpack("<qqqq" if w == 8 else "<iiii", data)
        return (f"{{ru_utime={{tv_sec={us}, tv_usec={uu}}}, "
                f"ru_stime={{tv_sec={ss}, tv_usec={su}}}, ...}}")
    return Arg(fmt, True)


def sched_affinity_out(i: int) -> Arg:
    def fmt(c: Call) -> str:
        if c.failed:
            return addr_text(c.arg(i))
        data = c.read(c.arg(i), c.ret)
        if data is None:
            return addr_text(c.arg(i))
        bits = int.from_bytes(data, "little")
        return "[" + " ".join(str(k) for k in range(len(data) * 8) if bits >> k & 1) + "]"
    return Arg(fmt, True)


# --- the specs -----------------------------------------------------------------------------------
# Return styles: "d" signed decimal (default), "x" hex, "o" octal, "?" none (the process is
# gone), "u" unsigned.
@dataclass(frozen=True)
class Spec:
    args: Tuple[Arg, ...]
    ret: str = "d"
    aux: Optional[Callable[[Call], None]] = None
    ret_fmt: Optional[Callable[[Call], str]] = None


def S(*args: Arg, ret: str = "d", aux: Optional[Callable[[Call], None]] = None,
      ret_fmt: Optional[Callable[[Call], str]] = None) -> Spec:
    return Spec(tuple(args), ret, aux, ret_fmt)


def _s(args: Sequence[Any], ret: str = "d", **kw: Any) -> Spec:
    flat: List[Arg] = []
    for a in args:
        flat.extend(a if isinstance(a, tuple) else (a,))
    return Spec(tuple(flat), ret, kw.get("aux"), kw.get("ret_fmt"))


COMMON: Dict[str, Spec] = {
    "read": S(fd(0), buf_out(1), lu(2)),
    "write": S(fd(0), buf_in(1, 2), lu(2)),
    "close": S(fd(0)),
    "open": _s([open_args(None, 0, 1)]),
    "openat": _s([open_args(0, 1, 2)]),
    "creat": S(path(0), mode(1)),
    "stat": S(path(0), stat_out(1)),
    "lstat": S(path(0), stat_out(1)),
    "fstat": S(fd(0), stat_out(1)),
    "newfstatat": S(dirfd(0), path(1), stat_out(2), flags(3, AT_FLAGS)),
    "stat64": S(path(0), stat_out(1, "stat64")),
    "lstat64": S(path(0), stat_out(1, "stat64")),
    "fstat64": S(fd(0), stat_out(1, "stat64")),
    "fstatat64": S(dirfd(0), path(1), stat_out(2, "stat64"), flags(3, AT_FLAGS)),
    "statx": S(dirfd(0), path(1), statx_flags(2), flags(3, STATX_MASKS), statx_out(4)),
    "lseek": S(fd(0), ld(1), enum(2, SEEK_WHENCE)),
    "pread64": S(fd(0), buf_out(1), lu(2), ld(3)),
    "pwrite64": S(fd(0), buf_in(1, 2), lu(2), ld(3)),
    "readv": S(fd(0), iovec(1, 2, True), d(2)),
    "writev": S(fd(0), iovec(1, 2, False), d(2)),
    "access": S(path(0), flags(1, ACCESS_MODES, "F_OK")),
    "faccessat": S(dirfd(0), path(1), flags(2, ACCESS_MODES, "F_OK")),
    "faccessat2": S(dirfd(0), path(1), flags(2, ACCESS_MODES, "F_OK"), flags(3, AT_FLAGS)),
    "readlink": S(path(0), buf_out(1), lu(2)),
    "readlinkat": S(dirfd(0), path(1), buf_out(2), lu(3)),
    "getcwd": S(str_out(0), lu(1)),
    "chdir": S(path(0)),
    "fchdir": S(fd(0)),
    "mkdir": S(path(0), mode(1)),
    "mkdirat": S(dirfd(0), path(1), mode(2)),
    "rmdir": S(path(0)),
    "unlink": S(path(0)),
    "unlinkat": S(dirfd(0), path(1), flags(2, AT_FLAGS)),
    "rename": S(path(0), path(1)),
    "renameat": S(dirfd(0), path(1), dirfd(2), path(3)),
    "renameat2": S(dirfd(0), path(1), dirfd(2), path(3), flags(4, RENAME_FLAGS)),
    "link": S(path(0), path(1)),
    "linkat": S(dirfd(0), path(1), dirfd(2), path(3), flags(4, AT_FLAGS)),
    "symlink": S(path(0), path(1)),
    "symlinkat": S(path(0), dirfd(1), path(2)),
    "chmod": S(path(0), mode(1)),
    "fchmod": S(fd(0), mode(1)),
    "fchmodat": S(dirfd(0), path(1), mode(2)),
    "chown": S(path(0), d(1), d(2)),
    "lchown": S(path(0), d(1), d(2)),
    "fchown": S(fd(0), d(1), d(2)),
    "chown32": S(path(0), d(1), d(2)),
    "lchown32": S(path(0), d(1), d(2)),
    "fchown32": S(fd(0), d(1), d(2)),
    "fchownat": S(dirfd(0), path(1), d(2), d(3), flags(4, AT_FLAGS)),
    "umask": S(Arg(lambda c: mode_text(c.arg(0) & 0o777)), ret="o"),
    "truncate": S(path(0), ld(1)),
    "ftruncate": S(fd(0), ld(1)),
    "dup": S(fd(0)),
    "dup2": S(fd(0), fd(1)),
    "dup3": S(fd(0), fd(1), flags(2, [("O_CLOEXEC", 0o2000000)])),
    "pipe": S(pipefd_out(0)),
    "pipe2": S(pipefd_out(0), flags(1, OPEN_FLAGS)),
    "fcntl": _s([fcntl_args()], ret_fmt=fcntl_ret),
    "fcntl64": _s([fcntl_args()], ret_fmt=fcntl_ret),
    "ioctl": _s([ioctl_args()]),
    "getdents64": S(fd(0), getdents_out(1, True), u(2)),
    "getdents": S(fd(0), getdents_out(1, False), u(2)),
    "fsync": S(fd(0)),
    "fdatasync": S(fd(0)),
    "sendfile": S(fd(0), fd(1), Arg(lambda c: addr_text(c.arg(2))), lu(3)),
    "sendfile64": S(fd(0), fd(1), Arg(lambda c: addr_text(c.arg(2))), lu(3)),
    "poll": _s([poll_args()], aux=poll_aux),
    "mmap": _s([mmap_args(False)], ret="x"),
    "mmap2": _s([mmap_args(True)], ret="x"),
    "munmap": S(ptr(0), lu(1)),
    "mprotect": S(ptr(0), lu(1), flags(2, PROT_FLAGS, "PROT_NONE")),
    "brk": S(ptr(0), ret="x"),
    "mremap": _s([mremap_args()], ret="x"),
    "madvise": S(ptr(0), lu(1), enum(2, MADVISE)),
    "msync": S(ptr(0), lu(1), flags(2, MSYNC_FLAGS)),
    "mlock": S(ptr(0), lu(1)),
    "munlock": S(ptr(0), lu(1)),
    "exit": S(d(0), ret="?"),
    "exit_group": S(d(0), ret="?"),
    "getpid": S(), "gettid": S(), "getppid": S(), "getuid": S(), "geteuid": S(),
    "getgid": S(), "getegid": S(), "getuid32": S(), "geteuid32": S(), "getgid32": S(),
    "getegid32": S(), "getpgrp": S(), "setsid": S(), "sched_yield": S(), "pause": S(),
    "fork": S(), "vfork": S(), "sync": S(),
    "getpgid": S(d(0)), "getsid": S(d(0)), "setpgid": S(d(0), d(1)),
    "setuid": S(d(0)), "setgid": S(d(0)), "setuid32": S(d(0)), "setgid32": S(d(0)),
    "uname": S(uname_out(0)),
    "set_tid_address": S(ptr(0)),
    "set_robust_list": S(ptr(0), lu(1)),
    "rseq": S(ptr(0), x(1), d(2), x(3)),
    "arch_prctl": _s([arch_prctl_args()]),
    "set_thread_area": _s([set_thread_area_arg()], aux=set_thread_area_aux),
    "prlimit64": _s([prlimit_args()]),
    "getrlimit": S(enum(0, RLIMITS), rlimit_out(1, 64)),
    "setrlimit": S(enum(0, RLIMITS), rlimit_in(1, 64)),
    "getrandom": S(buf_out(0, force_hex=True), lu(1), flags(2, GETRANDOM_FLAGS)),
    "rt_sigaction": S(sig(0), Arg(lambda c: sigaction_text(c, c.arg(1))),
                      Arg(lambda c: addr_text(c.arg(2)) if c.failed
                          else sigaction_text(c, c.arg(2)), True), lu(3)),
    "rt_sigprocmask": S(enum(0, SIGPROCMASK_HOW), sigset_in(1, 3), sigset_out(2, 3), lu(3)),
    "rt_sigpending": S(sigset_out(0, 1), lu(1)),
    "rt_sigsuspend": S(sigset_in(0, 1), lu(1)),
    "rt_sigreturn": _s([rt_sigreturn_arg()]),
    "sigreturn": _s([rt_sigreturn_arg()]),
    "sigaltstack": S(Arg(lambda c: sigaltstack_text(c, c.arg(0))),
                     Arg(lambda c: addr_text(c.arg(1)) if c.failed
                         else sigaltstack_text(c, c.arg(1)), True)),
    "kill": S(d(0), sig(1)),
    "tkill": S(d(0), sig(1)),
    "tgkill": S(d(0), d(1), sig(2)),
    "alarm": S(u(0)),
    "setitimer": S(enum(0, ITIMER_WHICH), Arg(lambda c: itimerval_text(c, c.arg(1))),
                   Arg(lambda c: addr_text(c.arg(2)) if c.failed or not c.arg(2)
                       else itimerval_text(c, c.arg(2)), True)),
    "getitimer": S(enum(0, ITIMER_WHICH), Arg(lambda c: addr_text(c.arg(1)) if c.failed
                                              else itimerval_text(c, c.arg(1)), True)),
    "nanosleep": S(timespec_in(0), rem_out(1)),
    "clock_nanosleep": S(enum(0, CLOCKS), flags(1, TIMER_FLAGS), timespec_in(2), rem_out(3)),
    "clock_nanosleep_time64": S(enum(0, CLOCKS), flags(1, TIMER_FLAGS), timespec_in(2, True),
                                rem_out(3, True)),
    "clock_gettime": S(enum(0, CLOCKS), timespec_out(1)),
    "clock_gettime64": S(enum(0, CLOCKS), timespec_out(1, True)),
    "clock_getres": S(enum(0, CLOCKS), timespec_out(1)),
    "clock_getres_time64": S(enum(0, CLOCKS), timespec_out(1, True)),
    "gettimeofday": S(timeval_out(0), out_ptr(1)),
    "time": S(Arg(lambda c: addr_text(c.arg(0)) if not c.arg(0) or c.failed
                  else f"[{c.ret}]", True), aux=time_aux),
    "times": S(times_out(0)),
    "getrusage": S(enum(0, RUSAGE_WHO), getrusage_out(1)),
    "wait4": _s([wait4_args()]),
    "waitpid": S(d(0), wstatus_out(1), flags(2, WAIT_OPTIONS)),
    "execve": _s([execve_args()]),
    "clone": _s([clone_args()]),
    "prctl": S(enum(0, PRCTL_OPTIONS), x(1), x(2), x(3), x(4)),
    "futex": _s([futex_args()]),
    "sched_getaffinity": S(d(0), u(1), sched_affinity_out(2)),
    "socket": _s([socket_args()]),
    "getpriority": S(d(0), d(1)),
}

X86_64_ONLY: Dict[str, Spec] = {}

I386_ONLY: Dict[str, Spec] = {
    "_llseek": S(fd(0), Arg(lambda c: str(signed(c.arg(1) << 32 | c.arg(2), 64))),
                 int_out(3, 64), enum(4, SEEK_WHENCE)),
    "pread64": S(fd(0), buf_out(1), lu(2), off64(3)),
    "pwrite64": S(fd(0), buf_in(1, 2), lu(2), off64(3)),
    "truncate64": S(path(0), off64(1)),
    "ftruncate64": S(fd(0), off64(1)),
    "ugetrlimit": S(enum(0, RLIMITS), rlimit_out(1, 32)),
    "getrlimit": S(enum(0, RLIMITS), rlimit_out(1, 32)),
    "setrlimit": S(enum(0, RLIMITS), rlimit_in(1, 32)),
    "stat": S(path(0), stat_out(1, "old")),
    "lstat": S(path(0), stat_out(1, "old")),
    "fstat": S(fd(0), stat_out(1, "old")),
}


def spec_for(arch: Arch, name: str) -> Optional[Spec]:
    extra = X86_64_ONLY if arch is Arch.X86_64 else I386_ONLY
    return extra.get(name) or COMMON.get(name)


# --- results ------------------------------------------------------------------------------------
def result_text(c: Call, spec: Optional[Spec]) -> str:
    r = c.ret
    style = spec.ret if spec is not None else "d"
    if style == "?":
        return "?"
    if -4096 < r < 0:
        code = -r
        if code in RESTART_TEXT:
            return "? " + RESTART_TEXT[code]
        name = ERRNO_NAMES.get(code)
        text = f"-1 {name} ({strerror(code)})" if name else f"-1 ERRNO_{code} ({strerror(code)})"
        return text
    if spec is not None and spec.ret_fmt is not None:
        return spec.ret_fmt(c)
    bits = c.word * 8
    if style == "x":
        return f"{r & ((1 << bits) - 1):#x}"
    if style == "o":
        return "0" + format(r, "o") if r else "0"
    if style == "u":
        return str(r & ((1 << bits) - 1))
    return str(signed(r, bits))


def pad(head: str) -> str:
    """strace's tabto: ") " then spaces to column 40, then "= "."""
    return head + " " + " " * max(0, COLUMN - len(head) - 1)


# --- signals ------------------------------------------------------------------------------------
def siginfo_text(info: Any) -> str:
    signo, code = info.signo, info.code
    out = [f"si_signo={signame(signo)}"]
    cname = SI_CODES.get(code) if code <= 0 or code == 0x80 else \
        SIGNAL_CODES.get(signo, {}).get(code)
    out.append(f"si_code={cname if cname else code}")
    if info.errno:
        out.append(f"si_errno={ERRNO_NAMES.get(info.errno, str(info.errno))}")
    if code <= 0:
        if code in (0, -6, -1, -3):
            out += [f"si_pid={info.pid}", f"si_uid={info.uid}"]
    elif signo == 17:
        status = signame(info.status) if code in (2, 3, 4, 5) else str(info.status)
        out += [f"si_pid={info.pid}", f"si_uid={info.uid}", f"si_status={status}",
                "si_utime=0", "si_stime=0"]
    elif signo in (4, 5, 7, 8, 11):
        out.append(f"si_addr={addr_text(info.addr or 0)}")
    elif info.pid or info.uid:
        out += [f"si_pid={info.pid}", f"si_uid={info.uid}"]
    return "{" + ", ".join(out) + "}"


# --- the tracer ------------------------------------------------------------------------------------
class Strace:
    """One per run; listens on each new Control (spawn, execve)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._pending: Optional[Tuple[Call, Optional[Spec], List[Optional[str]]]] = None
        self._leader = os.getpid()
        self._proc: Optional["Process"] = None
        self._ended = False

    def attach(self, proc: "Process") -> None:
        self._proc = proc
        control = proc.control
        control.syscall_entry_listeners.append(self._entry)
        control.syscall_exit_listeners.append(self._exit)
        control.signal_listeners.append(self._signal)
        control.refresh()

    def _write(self, line: str, tail: Optional[str] = None) -> None:
        """One line; with `tail`, line is a call's head padded before " = " as strace does."""
        proc = self._proc
        prefix = ""
        if proc is not None and os.getpid() != self._leader:
            prefix = f"[pid {proc.pid}] "      # a forked guest (strace -f's style)
        text = prefix + line
        if tail is not None:
            text = pad(text) + "= " + tail
        try:
            self.out.write(text + "\n")
            self.out.flush()
        except (OSError, ValueError) as exc:
            log.debug("strace output: %s", exc)

    def _name(self, proc: "Process", nr: int, name: str) -> str:
        if name.startswith("syscall_"):
            table = syscall_names.X86_64 if proc.arch is Arch.X86_64 else syscall_names.I386
            return table.get(nr, f"syscall_{nr:#x}")
        return name

    def _entry(self, ev: "SyscallEvent") -> None:
        proc = self._proc
        assert proc is not None
        try:
            name = self._name(proc, ev.nr, ev.name)
            c = Call(proc, name, list(ev.args))
            spec = spec_for(proc.arch, name)
            parts: List[Optional[str]] = []
            if spec is not None:
                for a in spec.args:
                    parts.append(None if a.at_exit else a.fmt(c))
            self._pending = (c, spec, parts)
        except Exception as exc:        # a decoder bug must not stop the guest
            log.warning("strace: cannot decode %s: %s", ev.name, exc)
            self._pending = None

    def _exit(self, ev: "SyscallEvent") -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        c, spec, parts = pending
        try:
            # The kernel's view: the register as a signed long (-4095..-1 is an error).
            c.result = signed(ev.result if ev.result is not None else 0, c.word * 8)
            if spec is not None:
                texts = [p if p is not None else a.fmt(c) for p, a in zip(parts, spec.args)]
                if spec.aux is not None:
                    spec.aux(c)
            else:
                nargs = self._nargs(c)
                texts = [f"{c.arg(i):#x}" if c.arg(i) else "0" for i in range(nargs)]
            head = f"{c.name}({', '.join(t for t in texts if t != '')})"
            tail = result_text(c, spec)
            if c.aux and not (-4096 < c.ret < 0):
                tail += f" ({c.aux})"
            self._write(head, tail)
            if c.name in ("exit", "exit_group") and c.proc.exit_status is not None:
                # The process is gone (a forked guest ends right here, without finish()).
                self._write(f"+++ exited with {c.proc.exit_status} +++")
                self._ended = True
        except Exception as exc:
            log.warning("strace: cannot decode %s: %s", c.name, exc)

    @staticmethod
    def _nargs(c: Call) -> int:
        entry = None
        for e in c.proc.dispatcher.table.values():
            if e.name == c.name:
                entry = e
                break
        return entry.nargs if entry is not None and entry.nargs >= 0 else 6

    def _signal(self, info: Any) -> None:
        try:
            self._write(f"--- {signame(info.signo)} {siginfo_text(info)} ---")
        except Exception as exc:
            log.warning("strace: cannot decode signal %s: %s", getattr(info, "signo", "?"), exc)

    # --- start and end ---------------------------------------------------------------------
    def started(self, proc: "Process") -> None:
        """The execve that started the program (natively strace sees it return)."""
        if proc.stack is None:
            return
        argv = quote_list(proc.argv)
        envp = proc.stack.argv_addr + (len(proc.argv) + 1) * proc.arch.word
        path_ = quote(os.fsencode(proc.exe_path))
        self._write(f"execve({path_}, {argv}, {envp:#x} /* {len(proc.envp)} vars */)", "0")

    def finish(self, proc: "Process", status: Optional[int], signo: Optional[int]) -> None:
        if signo is not None:
            self._write(f"+++ killed by {signame(signo)} +++")
        elif status is not None and not self._ended:
            self._write(f"+++ exited with {status} +++")
        self._ended = True
        self.flush()

    def flush(self) -> None:
        try:
            self.out.flush()
        except (OSError, ValueError):
            pass


def quote_list(items: Sequence[bytes]) -> str:
    shown = [quote(a[:MAX_STRLEN], len(a) > MAX_STRLEN) for a in items[:MAX_ARRAY]]
    if len(items) > MAX_ARRAY:
        shown.append("...")
    return "[" + ", ".join(shown) + "]"
