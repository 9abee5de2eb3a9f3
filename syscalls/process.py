"""Process and identity syscalls: fork/clone, exit, ids, uname, TLS (arch_prctl,
set_thread_area), limits, sessions and groups, prctl, times/getrusage."""
from __future__ import annotations

import logging
import os
import struct
import sys
from typing import TYPE_CHECKING, Callable, List

from emulator.errors import SyscallError
from mmu.uaccess import copy_from_user, copy_to_user, write_word

from . import host as hostsys
from .abi import s32
from .errno import Errno, from_oserror

if TYPE_CHECKING:
    from emulator.process import Process

log = logging.getLogger("pyexec.process")

ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS = 0x1001, 0x1002, 0x1003, 0x1004
RLIM_INFINITY = (1 << 64) - 1
PER_LINUX32 = 0x0008
SI_TKILL = -6                 # si_code of tkill/tgkill (raise)


def sys_exit(p: "Process", status: int) -> int:
    vfork_release(p)
    p.exit(status)
    return 0


def sys_exit_group(p: "Process", status: int) -> int:
    vfork_release(p)
    p.exit(status)
    return 0


def sys_getpid(p: "Process") -> int:
    return p.pid


def sys_gettid(p: "Process") -> int:
    return p.pid


def sys_getppid(p: "Process") -> int:
    # The host's: a guest parent is the pyexec process that forked this one (and an orphan
    # is reparented natively).
    return os.getppid()


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
    # The host kernel's machine, for i386 tasks too; "i686" only under PER_LINUX32
    # (compare override_architecture).
    machine = "i686" if p.personality & 0xFF == PER_LINUX32 else u.machine
    try:
        with open("/proc/sys/kernel/domainname") as f:
            domain = f.read().strip()
    except OSError:
        domain = "(none)"
    fields = (u.sysname, u.nodename, u.release, u.version, machine, domain)
    copy_to_user(p.mm, buf, b"".join(f.encode()[:64].ljust(65, b"\0") for f in fields))
    return 0


def sys_arch_prctl(p: "Process", code: int, addr: int) -> int:
    from emulator.ucconst import UC_X86_REG_FS_BASE, UC_X86_REG_GS_BASE
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


SYSINFO_X86_64 = "<q3Q6QHH4xQQI4x"      # struct sysinfo (x86-64), 112 bytes
SYSINFO_I386 = "<i3I6IHHIII8x"          # struct compat_sysinfo, 64 bytes


def sys_sysinfo(p: "Process", info: int) -> int:
    """The host's struct sysinfo; for i386 scaled as compat_sys_sysinfo does."""
    raw = hostsys.sysinfo()
    if p.arch.word == 8:
        copy_to_user(p.mm, info, raw)
        return 0
    uptime, l0, l1, l2, *mem, procs, pad, high, freehigh, unit = \
        struct.unpack(SYSINFO_X86_64, raw)
    totalram, freeram, sharedram, bufferram, totalswap, freeswap = mem
    if (totalram | totalswap) >> 32:
        bits = 0
        while unit < 4096:
            unit <<= 1
            bits += 1
        mem = [v >> bits for v in mem]
        high, freehigh = high >> bits, freehigh >> bits
    data = struct.pack(SYSINFO_I386, uptime, l0 & 0xFFFFFFFF, l1 & 0xFFFFFFFF, l2 & 0xFFFFFFFF,
                       *(v & 0xFFFFFFFF for v in mem), procs, pad, high & 0xFFFFFFFF,
                       freehigh & 0xFFFFFFFF, unit)
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
        p.send_signal_self(s32(sig), SI_TKILL)
    return 0


def sys_tkill(p: "Process", tid: int, sig: int) -> int:
    return sys_tgkill(p, p.pid, tid, sig)


# --- fork / clone ---------------------------------------------------------------------------
CSIGNAL = 0xFF
CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND = 0x100, 0x200, 0x400, 0x800
CLONE_PIDFD, CLONE_VFORK, CLONE_PARENT, CLONE_THREAD = 0x1000, 0x4000, 0x8000, 0x10000
CLONE_SETTLS, CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID = 0x80000, 0x100000, 0x200000
CLONE_CHILD_SETTID = 0x1000000
CLONE_NEWNS = 0x20000
# Namespaces (CLONE_NEW*), cgroups, pidfds, another parent: a fork of the whole host process
# cannot give them.
CLONE_UNSUPPORTED = (CLONE_PIDFD | CLONE_PARENT | CLONE_NEWNS | 0x02000000 | 0x04000000
                     | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x200000000)


def kernel_clone(p: "Process", flags: int, stack: int, parent_tid: int, child_tid: int,
                 tls: int) -> int:
    """Compare Linux's kernel_clone. Without CLONE_VM this is fork: pyexec forks itself on the
    host, so the guest's memory, registers and descriptors are copied by the host's COW and
    both sides continue from this very syscall hook; guest pid = host pid. A thread
    (CLONE_VM without CLONE_VFORK) would need shared memory: ENOSYS. vfork (CLONE_VM |
    CLONE_VFORK) becomes a fork whose parent waits until the child execs or exits."""
    if flags & CLONE_THREAD and not flags & CLONE_SIGHAND or \
            flags & CLONE_SIGHAND and not flags & CLONE_VM:
        raise SyscallError(Errno.EINVAL)
    if flags & CLONE_VM and not flags & CLONE_VFORK:
        log.warning("clone with CLONE_VM (a thread): threads are not supported, -ENOSYS")
        raise SyscallError(Errno.ENOSYS)
    if flags & CLONE_UNSUPPORTED:
        raise SyscallError(Errno.EINVAL)
    vfork_pipe = os.pipe2(os.O_CLOEXEC) if flags & CLONE_VFORK else None
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError as exc:
        if vfork_pipe is not None:
            os.close(vfork_pipe[0])
            os.close(vfork_pipe[1])
        raise SyscallError(from_oserror(exc))
    if pid == 0:
        _fork_child(p, flags, stack, child_tid, tls, vfork_pipe)
        return 0
    if vfork_pipe is not None:
        # The parent sleeps until the child releases the memory (exec or exit): EOF here.
        os.close(vfork_pipe[1])
        with os.fdopen(vfork_pipe[0], "rb") as pipe:
            shared = pipe.read()
        _apply_vfork_writes(p, shared)
    if flags & CLONE_PARENT_SETTID:
        write_word(p.mm, parent_tid, pid, 4)
    return pid


# vfork's memory is one with the parent's until exec or exit. Here the child has a copy:
# when it releases the parent it sends back its writable private pages, and the parent
# writes them into its own memory, so what the child stored (posix_spawn's error code,
# a variable set before exec) is there as it would be natively.
_VFORK_RECORD = struct.Struct("<QI")


def vfork_release(p: "Process") -> None:
    """A vfork child execs or exits: send its writable pages to the parent and let it go."""
    if p.vfork_done is None:
        return
    from mmu.constants import PAGE_SHIFT, PAGE_SIZE
    from mmu.pagetable import PageKind
    private = (PageKind.ANON, PageKind.FILE_PRIVATE, PageKind.COW, PageKind.STACK)
    read = p.mm.frames.phys.read
    chunks = []
    for vpn, pte in p.mm.pt.items():
        if pte.kind in private and pte.perms & 2 and not pte.cow:    # UC_PROT_WRITE
            chunks.append(_VFORK_RECORD.pack(vpn << PAGE_SHIFT, PAGE_SIZE))
            chunks.append(read(pte.paddr, PAGE_SIZE))
    fd, p.vfork_done = p.vfork_done, None
    try:
        with os.fdopen(fd, "wb") as pipe:
            pipe.write(b"".join(chunks))
    except OSError:
        pass


def _apply_vfork_writes(p: "Process", data: bytes) -> None:
    pos = 0
    while pos + _VFORK_RECORD.size <= len(data):
        addr, size = _VFORK_RECORD.unpack_from(data, pos)
        pos += _VFORK_RECORD.size
        page = data[pos:pos + size]
        pos += size
        try:
            if copy_from_user(p.mm, addr, size) != page:
                copy_to_user(p.mm, addr, page)
        except SyscallError:
            pass      # unmapped or read-only in the parent: the child could not share it


def _fork_child(p: "Process", flags: int, stack: int, child_tid: int, tls: int,
                vfork_pipe: "tuple[int, int] | None") -> None:
    """The child side of kernel_clone (copy_process + ret_from_fork)."""
    p.pid = os.getpid()
    p.ppid = os.getppid()
    p.forked_child = True
    p.host_signals.after_fork()
    if p.vfork_done is not None:
        # Forked by a vfork child that has not exec'd yet: its parent waits for it, not us.
        os.close(p.vfork_done)
        p.vfork_done = None
    if vfork_pipe is not None:
        os.close(vfork_pipe[0])
        p.vfork_done = vfork_pipe[1]
    # pyexec's own stdin/stdout are not the guest's (the guest has its own duplicates): the
    # child must not keep a pipe's end open that the guest has closed.
    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    for fd in (0, 1):
        if not p.fds.uses_host(fd):
            os.dup2(devnull, fd, inheritable=False)
    os.close(devnull)
    if stack:
        p.machine.sp = stack
    if flags & CLONE_SETTLS:
        if p.arch.word == 8:
            from emulator.ucconst import UC_X86_REG_FS_BASE
            p.machine.set_reg(UC_X86_REG_FS_BASE, tls)
        else:
            sys_set_thread_area(p, tls)
    if flags & CLONE_CHILD_SETTID:
        write_word(p.mm, child_tid, p.pid, 4)
    if flags & CLONE_CHILD_CLEARTID:
        p.clear_child_tid = child_tid


def sys_fork(p: "Process") -> int:
    return kernel_clone(p, 17, 0, 0, 0, 0)                  # SIGCHLD


def sys_vfork(p: "Process") -> int:
    return kernel_clone(p, CLONE_VM | CLONE_VFORK | 17, 0, 0, 0, 0)


def sys_clone(p: "Process", flags: int, stack: int, parent_tid: int, child_tid: int,
              tls: int) -> int:
    """x86-64: clone(flags, stack, parent_tid, child_tid, tls)."""
    return kernel_clone(p, flags, stack, parent_tid, child_tid, tls)


def sys_clone_i386(p: "Process", flags: int, stack: int, parent_tid: int, tls: int,
                   child_tid: int) -> int:
    """i386 (CONFIG_CLONE_BACKWARDS): clone(flags, stack, parent_tid, tls, child_tid)."""
    return kernel_clone(p, flags, stack, parent_tid, child_tid, tls)


CLONE_ARGS_SIZE_VER0 = 64


def sys_clone3(p: "Process", uargs: int, size: int) -> int:
    """struct clone_args (u64 fields, the same on both ABIs) mapped onto kernel_clone."""
    if size < CLONE_ARGS_SIZE_VER0 or size > 4096:
        raise SyscallError(Errno.EINVAL)
    raw = copy_from_user(p.mm, uargs, min(size, 88)).ljust(88, b"\0")
    flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, \
        set_tid_size, cgroup = struct.unpack("<11Q", raw)
    if flags & CSIGNAL or exit_signal > 64 or set_tid or set_tid_size or cgroup:
        raise SyscallError(Errno.EINVAL)
    if (stack == 0) != (stack_size == 0):
        raise SyscallError(Errno.EINVAL)
    top = stack + stack_size if stack else 0
    return kernel_clone(p, flags | exit_signal, top, parent_tid, child_tid, tls)


# --- sessions, groups, ids -------------------------------------------------------------------
def _host_call(fn: Callable[..., object], *args: object) -> int:
    try:
        ret = fn(*args)
    except OSError as exc:
        raise SyscallError(from_oserror(exc))
    return ret if isinstance(ret, int) else 0


def sys_getpgid(p: "Process", pid: int) -> int:
    return _host_call(os.getpgid, s32(pid))


def sys_setpgid(p: "Process", pid: int, pgid: int) -> int:
    return _host_call(os.setpgid, s32(pid), s32(pgid))


def sys_getpgrp(p: "Process") -> int:
    return os.getpgrp()


def sys_setsid(p: "Process") -> int:
    return _host_call(os.setsid) or os.getpid()


def sys_getsid(p: "Process", pid: int) -> int:
    return _host_call(os.getsid, s32(pid))


def _getgroups(p: "Process", size: int, lst: int, fmt: str) -> int:
    groups = os.getgroups()
    size = s32(size)
    if size < 0:
        raise SyscallError(Errno.EINVAL)
    if size == 0:
        return len(groups)
    if size < len(groups):
        raise SyscallError(Errno.EINVAL)
    if fmt == "H":
        groups = [g if g < 0x10000 else 65534 for g in groups]   # overflowgid
    copy_to_user(p.mm, lst, struct.pack(f"<{len(groups)}{fmt}", *groups))
    return len(groups)


def _setgroups(p: "Process", size: int, lst: int, fmt: str) -> int:
    size = s32(size)
    if size < 0 or size > 65536:
        raise SyscallError(Errno.EINVAL)
    item = struct.calcsize(fmt)
    groups = list(struct.unpack(f"<{size}{fmt}", copy_from_user(p.mm, lst, size * item)))
    return _host_call(os.setgroups, groups)


def sys_getgroups(p: "Process", size: int, lst: int) -> int:
    return _getgroups(p, size, lst, "I")


def sys_setgroups(p: "Process", size: int, lst: int) -> int:
    return _setgroups(p, size, lst, "I")


def sys_getgroups16(p: "Process", size: int, lst: int) -> int:
    return _getgroups(p, size, lst, "H")


def sys_setgroups16(p: "Process", size: int, lst: int) -> int:
    return _setgroups(p, size, lst, "H")


def _id(v: int) -> int:
    v &= 0xFFFFFFFF
    return -1 if v == 0xFFFFFFFF else v


def _id16(v: int) -> int:
    v &= 0xFFFF
    return -1 if v == 0xFFFF else v


def _high2low(v: int) -> int:
    """Compare Linux's high2lowuid: ids past 16 bits read as the overflow id (65534)."""
    return v if v < 0x10000 else 65534


def sys_setuid(p: "Process", uid: int) -> int:
    return _host_call(os.setuid, uid & 0xFFFFFFFF)


def sys_setgid(p: "Process", gid: int) -> int:
    return _host_call(os.setgid, gid & 0xFFFFFFFF)


def sys_setreuid(p: "Process", ruid: int, euid: int) -> int:
    return _host_call(os.setreuid, _id(ruid), _id(euid))


def sys_setregid(p: "Process", rgid: int, egid: int) -> int:
    return _host_call(os.setregid, _id(rgid), _id(egid))


def sys_setresuid(p: "Process", ruid: int, euid: int, suid: int) -> int:
    return _host_call(os.setresuid, _id(ruid), _id(euid), _id(suid))


def sys_setresgid(p: "Process", rgid: int, egid: int, sgid: int) -> int:
    return _host_call(os.setresgid, _id(rgid), _id(egid), _id(sgid))


def sys_getresuid(p: "Process", ruid: int, euid: int, suid: int) -> int:
    for addr, v in zip((ruid, euid, suid), os.getresuid()):
        write_word(p.mm, addr, v, 4)
    return 0


def sys_getresgid(p: "Process", rgid: int, egid: int, sgid: int) -> int:
    for addr, v in zip((rgid, egid, sgid), os.getresgid()):
        write_word(p.mm, addr, v, 4)
    return 0


NR_SETFSUID, NR_SETFSGID = 122, 123     # the host's


def sys_setfsuid(p: "Process", uid: int) -> int:
    return hostsys.syscall(NR_SETFSUID, uid & 0xFFFFFFFF)


def sys_setfsgid(p: "Process", gid: int) -> int:
    return hostsys.syscall(NR_SETFSGID, gid & 0xFFFFFFFF)


# i386's 16-bit id calls (getuid, setuid, chown...: old_uid_t).
def sys_getuid16(p: "Process") -> int:
    return _high2low(os.getuid())


def sys_geteuid16(p: "Process") -> int:
    return _high2low(os.geteuid())


def sys_getgid16(p: "Process") -> int:
    return _high2low(os.getgid())


def sys_getegid16(p: "Process") -> int:
    return _high2low(os.getegid())


def sys_setuid16(p: "Process", uid: int) -> int:
    return _host_call(os.setuid, _id16(uid) & 0xFFFFFFFF)


def sys_setgid16(p: "Process", gid: int) -> int:
    return _host_call(os.setgid, _id16(gid) & 0xFFFFFFFF)


def sys_setreuid16(p: "Process", ruid: int, euid: int) -> int:
    return _host_call(os.setreuid, _id16(ruid), _id16(euid))


def sys_setregid16(p: "Process", rgid: int, egid: int) -> int:
    return _host_call(os.setregid, _id16(rgid), _id16(egid))


def sys_setresuid16(p: "Process", ruid: int, euid: int, suid: int) -> int:
    return _host_call(os.setresuid, _id16(ruid), _id16(euid), _id16(suid))


def sys_setresgid16(p: "Process", rgid: int, egid: int, sgid: int) -> int:
    return _host_call(os.setresgid, _id16(rgid), _id16(egid), _id16(sgid))


def sys_getresuid16(p: "Process", ruid: int, euid: int, suid: int) -> int:
    for addr, v in zip((ruid, euid, suid), os.getresuid()):
        write_word(p.mm, addr, _high2low(v), 2)
    return 0


def sys_getresgid16(p: "Process", rgid: int, egid: int, sgid: int) -> int:
    for addr, v in zip((rgid, egid, sgid), os.getresgid()):
        write_word(p.mm, addr, _high2low(v), 2)
    return 0


# --- prctl ---------------------------------------------------------------------------------
PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE = 1, 2, 3, 4
PR_GET_KEEPCAPS, PR_SET_KEEPCAPS = 7, 8
PR_SET_NAME, PR_GET_NAME = 15, 16
PR_GET_SECCOMP, PR_CAPBSET_READ = 21, 23
PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37
PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS = 38, 39
TASK_COMM_LEN = 16
NR_PRCTL = 157          # the host's
# Options that only read or set a plain value of the process: the host keeps it.
PRCTL_HOST_INT = {PR_SET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE, PR_GET_KEEPCAPS,
                  PR_SET_KEEPCAPS, PR_GET_SECCOMP, PR_CAPBSET_READ, PR_SET_CHILD_SUBREAPER,
                  PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS}


def sys_prctl(p: "Process", option: int, arg2: int, arg3: int, arg4: int, arg5: int) -> int:
    option = s32(option)
    if option == PR_SET_NAME:
        p.comm = strncpy_from_user_upto(p, arg2, TASK_COMM_LEN - 1)
        set_host_comm(p.comm)
        return 0
    if option == PR_GET_NAME:
        copy_to_user(p.mm, arg2, p.comm[:TASK_COMM_LEN - 1].ljust(TASK_COMM_LEN, b"\0"))
        return 0
    if option in (PR_GET_PDEATHSIG, PR_GET_CHILD_SUBREAPER):
        import ctypes
        out = ctypes.c_int(0)
        hostsys.syscall(NR_PRCTL, option, ctypes.addressof(out))
        write_word(p.mm, arg2, out.value, 4)
        return 0
    if option in PRCTL_HOST_INT:
        return hostsys.syscall(NR_PRCTL, option, arg2, arg3, arg4, arg5)
    raise SyscallError(Errno.EINVAL)


def set_host_comm(comm: bytes) -> None:
    """The host's name for this process (ps, top, pidof, /proc/PID/comm) follows the guest's."""
    import ctypes
    buf = ctypes.create_string_buffer(comm[:TASK_COMM_LEN - 1], TASK_COMM_LEN)
    try:
        hostsys.syscall(NR_PRCTL, PR_SET_NAME, buf)
    except SyscallError:
        pass


def strncpy_from_user_upto(p: "Process", addr: int, n: int) -> bytes:
    """Up to n bytes of a string, the rest ignored (compare strncpy_from_user with a short
    buffer, as PR_SET_NAME uses it)."""
    out = b""
    while len(out) < n:
        chunk = copy_from_user(p.mm, addr + len(out), 1)
        if chunk == b"\0":
            break
        out += chunk
    return out


# --- times, usage --------------------------------------------------------------------------
NR_TIMES, NR_GETRUSAGE = 100, 98        # the host's
RUSAGE_X86_64 = "<qqqq14q"              # struct rusage: two timevals, 14 longs, 144 bytes
RUSAGE_I386 = "<iiii14i"                # compat_rusage, 72 bytes


def rusage_bytes(p: "Process", fields: "List[int]") -> bytes:
    """struct rusage of the guest's ABI from the host's 18 values."""
    if p.arch.word == 8:
        return struct.pack(RUSAGE_X86_64, *fields)
    return struct.pack(RUSAGE_I386, *(s32(v) for v in fields))


def host_rusage(who: int) -> "List[int]":
    import ctypes
    buf = ctypes.create_string_buffer(144)
    hostsys.syscall(NR_GETRUSAGE, who, buf)
    return list(struct.unpack(RUSAGE_X86_64, buf.raw))


def sys_getrusage(p: "Process", who: int, usage: int) -> int:
    who = s32(who)
    if who not in (0, -1, 1):      # RUSAGE_SELF, RUSAGE_CHILDREN, RUSAGE_THREAD
        raise SyscallError(Errno.EINVAL)
    copy_to_user(p.mm, usage, rusage_bytes(p, host_rusage(who)))
    return 0


def sys_times(p: "Process", buf: int) -> int:
    """struct tms of clock_t (long) and the host's tick count since boot."""
    import ctypes
    tms = ctypes.create_string_buffer(32)
    ticks = hostsys.syscall(NR_TIMES, tms)
    vals = struct.unpack("<4q", tms.raw)
    if buf:
        if p.arch.word == 8:
            copy_to_user(p.mm, buf, tms.raw)
        else:
            copy_to_user(p.mm, buf, struct.pack("<4I", *(v & 0xFFFFFFFF for v in vals)))
    return ticks if p.arch.word == 8 else ticks & 0xFFFFFFFF


def sys_getpriority(p: "Process", which: int, who: int) -> int:
    # The syscall returns 20 - nice (never negative), as Linux's getpriority does.
    try:
        return 20 - os.getpriority(s32(which), s32(who))
    except OSError as exc:
        raise SyscallError(from_oserror(exc))


def sys_setpriority(p: "Process", which: int, who: int, prio: int) -> int:
    return _host_call(os.setpriority, s32(which), s32(who), s32(prio))


def sys_personality(p: "Process", persona: int) -> int:
    """Compare Linux's ksys_personality: 0xffffffff only asks; the old value is returned."""
    old = p.personality
    if persona & 0xFFFFFFFF != 0xFFFFFFFF:
        p.personality = persona & 0xFFFFFFFF
    return old
