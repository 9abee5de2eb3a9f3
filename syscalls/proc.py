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
