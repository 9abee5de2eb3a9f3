"""The guest's own /proc/self files: pyexec's view of the guest, not the Python process's."""
from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Callable, Dict, Optional

from mmu.maps import render_maps

if TYPE_CHECKING:
    from emulator.process import Process

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


GENERATED: Dict[str, Callable[["Process"], bytes]] = {
    "/maps": lambda p: render_maps(p.mm).encode(),
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
        return p.image.host_path
    return None


_DEV_FD = re.compile(r"^/dev/(?:fd/(\d+)|(stdin|stdout|stderr))(/.*)?$")
_STD = {"stdin": 0, "stdout": 1, "stderr": 2}


def host_path(p: "Process", path: str) -> str:
    """The host path naming what `path` names for the guest: /proc/self/exe is the guest's
    executable, /proc/self/fd/N and /dev/fd/N, /dev/stdin... the guest's descriptor N (whose
    host number differs). Every other path is the same on both sides."""
    if path.startswith("/dev/"):
        m = _DEV_FD.match(path)
        if m is not None:
            fd = int(m.group(1)) if m.group(1) is not None else _STD[m.group(2)]
            return _fd_path(p, fd, m.group(3) or "")
        return path
    rest = _own(p, path)
    if rest is None:
        return path
    if rest == "/exe":
        return p.image.host_path
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
