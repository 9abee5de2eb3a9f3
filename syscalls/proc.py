"""The guest's own /proc/self files: pyexec's view of the guest, not the Python process's."""
from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Callable, Dict, Optional

from mmu.maps import (render_maps, render_smaps, render_smaps_rollup, render_statm,
                      replace_status_lines, status_vm_lines)

if TYPE_CHECKING:
    from emulator.process import Process
    from mmu.mm import MM

_SELF = re.compile(r"^/proc/(self|thread-self|\d+)(/.*)?$")


def _own(p: "Process", path: str) -> Optional[str]:
    """The part after /proc/self (or /proc/<own pid>), or None for any other path."""
    m = _SELF.match(os.path.normpath(path)) if path.startswith("/proc/") else None
    if m is None:
        return None
    who = m.group(1)
    if who not in ("self", "thread-self") and int(who) != p.pid:
        return None
    return m.group(2) or ""


def _cmdline(p: "Process") -> bytes:
    return b"".join(a + b"\0" for a in p.argv)


def _environ(p: "Process") -> bytes:
    return b"".join(e + b"\0" for e in p.envp)


def _auxv(p: "Process") -> bytes:
    assert p.stack is not None
    fmt = "<QQ" if p.arch.word == 8 else "<II"
    import struct
    return b"".join(struct.pack(fmt, k, v) for k, v in p.stack.auxv)


def _set_code_range(p: "Process") -> None:
    """mm->start_code / end_code as load_elf_binary sets them (executable PT_LOADs)."""
    mm: "MM" = p.mm
    if mm.end_code or p.load is None:
        return
    bias = p.load.load_bias
    exec_loads = [ph for ph in p.image.loads if ph.p_flags & 1]      # PF_X
    if exec_loads:
        mm.start_code = bias + min(ph.p_vaddr for ph in exec_loads)
        mm.end_code = bias + max(ph.p_vaddr + ph.p_filesz for ph in exec_loads)


def _status(p: "Process") -> bytes:
    """The host's status for this pid with the guest's name, memory and signal state."""
    _set_code_range(p)
    try:
        with open(f"/proc/{os.getpid()}/status") as f:
            host = f.read()
    except OSError:
        host = ""
    sig = getattr(p, "signals", None)
    blocked = ignored = caught = pending = 0
    if sig is not None:
        blocked = sig.blocked
        for num, act in sig.actions.items():
            if act.handler == 1:
                ignored |= 1 << (num - 1)
            elif act.handler > 1:
                caught |= 1 << (num - 1)
        for num in sig.pending:
            pending |= 1 << (num - 1)
    name = os.path.basename(p.exe_path)[:15]
    replace: Dict[str, Optional[str]] = {
        "Name": name, "Threads": "1", "SigPnd": f"{pending:016x}", "ShdPnd": f"{0:016x}",
        "SigBlk": f"{blocked:016x}", "SigIgn": f"{ignored:016x}", "SigCgt": f"{caught:016x}",
    }
    return replace_status_lines(host, replace, status_vm_lines(p.mm)).encode()


def _statm(p: "Process") -> bytes:
    _set_code_range(p)
    return render_statm(p.mm).encode()


GENERATED: Dict[str, Callable[["Process"], bytes]] = {
    "/maps": lambda p: render_maps(p.mm).encode(),
    "/smaps": lambda p: render_smaps(p.mm).encode(),
    "/smaps_rollup": lambda p: render_smaps_rollup(p.mm).encode(),
    "/status": _status,
    "/statm": _statm,
    "/cmdline": _cmdline,
    "/environ": _environ,
    "/auxv": _auxv,
}


def open_virtual(p: "Process", path: str) -> Optional[int]:
    """A host fd with the generated contents of a /proc/self file, or None to pass through."""
    rest = _own(p, path)
    if rest is None or rest not in GENERATED:
        return None
    fd = os.memfd_create("pyexec-proc", os.MFD_CLOEXEC)
    os.write(fd, GENERATED[rest](p))
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def stat_virtual(p: "Process", path: str) -> Optional[os.stat_result]:
    rest = _own(p, path)
    if rest == "/exe":
        return os.stat(p.image.host_path)
    return None


def readlink_virtual(p: "Process", path: str) -> Optional[str]:
    rest = _own(p, path)
    if rest == "/exe":
        return os.path.realpath(p.image.host_path)    # d_path: absolute, symlinks resolved
    return None


_DEV_FD = re.compile(r"^/dev/(?:fd/(\d+)|(stdin|stdout|stderr))(/.*)?$")
_STD = {"stdin": 0, "stdout": 1, "stderr": 2}


def host_path(p: "Process", path: str, follow: bool = True) -> str:
    """The host path naming what `path` names for the guest: /proc/self/exe is the guest's
    executable, /proc/self/fd/N and /dev/fd/N, /dev/stdin... the guest's descriptor N (whose
    host number differs). Every other path is the same on both sides. With follow=False
    (lstat, readlink...) /proc/self/exe and the /dev links as last component are the host's
    own symlinks, which look the same."""
    if path.startswith("/dev/"):
        m = _DEV_FD.match(path)
        if m is not None and (follow or m.group(3)):
            fd = int(m.group(1)) if m.group(1) is not None else _STD[m.group(2)]
            return _fd_path(p, fd, m.group(3) or "")
        return path
    rest = _own(p, path)
    if rest is None:
        return path
    if rest == "/exe":
        return p.image.host_path if follow else path
    if rest.startswith("/fd/"):
        num, _, tail = rest[4:].partition("/")
        if num.isdigit():
            return _fd_path(p, int(num), "/" + tail if tail else "")
    return path


def _fd_path(p: "Process", fd: int, tail: str) -> str:
    of = p.fds.files.get(fd)
    # A descriptor the guest does not have: a number no host process has either.
    host = of.host_fd if of is not None else 1 << 30
    return f"/proc/self/fd/{host}{tail}"
