"""Process and identity syscalls: exit, ids, uname, TLS (arch_prctl, set_thread_area), limits."""
from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING

from emulator.errors import SyscallError
from mmu.uaccess import copy_from_user, copy_to_user, write_word

from .abi import s32
from .errno import Errno

if TYPE_CHECKING:
    from emulator.process import Process

ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS = 0x1001, 0x1002, 0x1003, 0x1004
RLIM_INFINITY = (1 << 64) - 1


def sys_exit(p: "Process", status: int) -> int:
    p.exit(status)
    return 0


def sys_exit_group(p: "Process", status: int) -> int:
    p.exit(status)
    return 0


def sys_getpid(p: "Process") -> int:
    return p.pid


def sys_gettid(p: "Process") -> int:
    return p.pid


def sys_getppid(p: "Process") -> int:
    return p.ppid


def sys_getuid(p: "Process") -> int:
    return os.getuid()


def sys_geteuid(p: "Process") -> int:
    return os.geteuid()


def sys_getgid(p: "Process") -> int:
    return os.getgid()


def sys_getegid(p: "Process") -> int:
    return os.getegid()


def sys_uname(p: "Process", buf: int) -> int:
    u = os.uname()
    machine = "x86_64" if p.arch.word == 8 else "i686"
    fields = (u.sysname, u.nodename, u.release, u.version, machine, "(none)")
    copy_to_user(p.mm, buf, b"".join(f.encode()[:64].ljust(65, b"\0") for f in fields))
    return 0


def sys_arch_prctl(p: "Process", code: int, addr: int) -> int:
    from unicorn.x86_const import UC_X86_REG_FS_BASE, UC_X86_REG_GS_BASE
    m = p.machine
    if code == ARCH_SET_FS:
        m.set_reg(UC_X86_REG_FS_BASE, addr)
    elif code == ARCH_SET_GS:
        m.set_reg(UC_X86_REG_GS_BASE, addr)
    elif code == ARCH_GET_FS:
        write_word(p.mm, addr, m.reg(UC_X86_REG_FS_BASE), 8)
    elif code == ARCH_GET_GS:
        write_word(p.mm, addr, m.reg(UC_X86_REG_GS_BASE), 8)
    else:
        raise SyscallError(Errno.EINVAL)
    return 0


def sys_set_thread_area(p: "Process", u_info: int) -> int:
    """i386 TLS: install a user_desc in the GDT (compare Linux's do_set_thread_area)."""
    from emulator.machine import GDT_ENTRY_TLS_ENTRIES, GDT_ENTRY_TLS_MIN, make_descriptor
    raw = copy_from_user(p.mm, u_info, 16)
    entry, base, limit, bits = struct.unpack("<iIII", raw)
    if entry == -1:
        used = p.tls_entries
        free = [i for i in range(GDT_ENTRY_TLS_MIN, GDT_ENTRY_TLS_MIN + GDT_ENTRY_TLS_ENTRIES)
                if i not in used]
        if not free:
            raise SyscallError(Errno.ESRCH)
        entry = free[0]
        copy_to_user(p.mm, u_info, struct.pack("<i", entry))
    if not GDT_ENTRY_TLS_MIN <= entry < GDT_ENTRY_TLS_MIN + GDT_ENTRY_TLS_ENTRIES:
        raise SyscallError(Errno.EINVAL)
    seg_32bit = bits & 1
    contents = (bits >> 1) & 3
    read_exec_only = (bits >> 3) & 1
    limit_in_pages = (bits >> 4) & 1
    seg_not_present = (bits >> 5) & 1
    useable = (bits >> 6) & 1
    access = 0x10 | (3 << 5) | ((not seg_not_present) << 7) | (contents << 2) | \
        ((not read_exec_only) << 1)
    flags = (limit_in_pages << 3) | (seg_32bit << 2) | useable
    p.tls_entries.add(entry)
    p.write_gdt(entry, make_descriptor(base, limit, access, flags))
    return 0


def sys_set_tid_address(p: "Process", tidptr: int) -> int:
    p.clear_child_tid = tidptr
    return p.pid


def sys_set_robust_list(p: "Process", head: int, length: int) -> int:
    return 0


def sys_rseq(p: "Process") -> int:
    raise SyscallError(Errno.ENOSYS)


def sys_futex(p: "Process", uaddr: int, op: int) -> int:
    # One thread: a wake wakes nobody, a wait on a changed value would return EAGAIN.
    cmd = op & 0x7F
    if cmd in (1, 10):   # FUTEX_WAKE, FUTEX_WAKE_BITSET
        return 0
    raise SyscallError(Errno.EAGAIN)


def _rlimit(resource: int) -> tuple[int, int]:
    import resource as res
    soft, hard = res.getrlimit(resource)
    conv = (lambda v: RLIM_INFINITY if v == res.RLIM_INFINITY else v)
    return conv(soft), conv(hard)


def sys_prlimit64(p: "Process", pid: int, resource: int, new: int, old: int) -> int:
    if s32(pid) not in (0, p.pid):
        raise SyscallError(Errno.ESRCH)
    if resource > 15:
        raise SyscallError(Errno.EINVAL)
    if old:
        soft, hard = p.rlimits.get(resource) or _rlimit(resource)
        copy_to_user(p.mm, old, struct.pack("<QQ", soft, hard))
    if new:
        soft, hard = struct.unpack("<QQ", copy_from_user(p.mm, new, 16))
        if soft > hard:
            raise SyscallError(Errno.EINVAL)
        p.rlimits[resource] = (soft, hard)
    return 0


def sys_getrlimit(p: "Process", resource: int, rlim: int) -> int:
    if resource > 15:
        raise SyscallError(Errno.EINVAL)
    soft, hard = p.rlimits.get(resource) or _rlimit(resource)
    if p.arch.word == 8:
        copy_to_user(p.mm, rlim, struct.pack("<QQ", soft, hard))
    else:
        clamp = (lambda v: 0xFFFFFFFF if v >= 0xFFFFFFFF else v)
        copy_to_user(p.mm, rlim, struct.pack("<II", clamp(soft), clamp(hard)))
    return 0


def sys_setrlimit(p: "Process", resource: int, rlim: int) -> int:
    if resource > 15:
        raise SyscallError(Errno.EINVAL)
    fmt, n = ("<QQ", 16) if p.arch.word == 8 else ("<II", 8)
    p.rlimits[resource] = struct.unpack(fmt, copy_from_user(p.mm, rlim, n))
    return 0


def sys_sysinfo(p: "Process", info: int) -> int:
    with open("/proc/uptime") as f:
        uptime = int(float(f.read().split()[0]))
    loads = [int(x * 65536) for x in os.getloadavg()]
    pages = os.sysconf("SC_PHYS_PAGES")
    avail = os.sysconf("SC_AVPHYS_PAGES")
    if p.arch.word == 8:
        data = struct.pack("<q3QQQQQQHH4xQQI", uptime, *loads, pages * 4096, avail * 4096, 0, 0,
                           0, 0, 0, 0, 0, 0, 1)
        data = data.ljust(112, b"\0")
    else:
        data = struct.pack("<i3IIIIIIIHHIII", uptime, *loads, pages, avail, 0, 0, 0, 0, 0, 0,
                           0, 0, 4096)
        data = data.ljust(64, b"\0")
    copy_to_user(p.mm, info, data)
    return 0


def sys_sched_getaffinity(p: "Process", pid: int, size: int, mask: int) -> int:
    cpus = os.sched_getaffinity(0)
    nbytes = max((max(cpus) // 8) + 1, p.arch.word)
    if size < nbytes:
        raise SyscallError(Errno.EINVAL)
    bits = sum(1 << c for c in cpus)
    copy_to_user(p.mm, mask, bits.to_bytes(nbytes, "little"))
    return nbytes


def sys_sched_yield(p: "Process") -> int:
    return 0


def sys_getrandom(p: "Process", buf: int, count: int, flags: int) -> int:
    count = min(count, 1 << 25)
    copy_to_user(p.mm, buf, p.random_bytes(count))
    return count


def sys_kill(p: "Process", pid: int, sig: int) -> int:
    pid = s32(pid)
    if pid not in (0, -1, p.pid):
        try:
            os.kill(pid, s32(sig))
        except OSError as exc:
            raise SyscallError(exc.errno or Errno.ESRCH)
        return 0
    if sig:
        p.send_signal_self(s32(sig))
    return 0


def sys_tgkill(p: "Process", tgid: int, tid: int, sig: int) -> int:
    if s32(tid) != p.pid:
        raise SyscallError(Errno.ESRCH)
    if sig:
        p.send_signal_self(s32(sig))
    return 0


def sys_tkill(p: "Process", tid: int, sig: int) -> int:
    return sys_tgkill(p, p.pid, tid, sig)
