"""execve and execveat: replace the guest's image with another static ELF, or run a `#!` script
through its interpreter (compare Linux's fs/exec.c and fs/binfmt_script.c).

Everything that can fail is checked here, while the caller still runs and can get -errno:
argv and envp are read, the file is opened and validated, `#!` lines are followed. Then the
request is handed to Process.exec_pending and the CPU is stopped: the run loop builds the new
image (Process.finish_exec), which is the point of no return.
"""
from __future__ import annotations

import logging
import os
import stat as stat_mod
from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Optional

from emulator.errors import ExecError, SyscallError
from loader.elf import ElfImage, read_elf
from mmu.uaccess import read_word, strncpy_from_user

from . import proc as procfs
from .abi import s32
from .errno import Errno

if TYPE_CHECKING:
    from emulator.process import Process

log = logging.getLogger("pyexec.exec")

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_EMPTY_PATH = 0x1000
BINPRM_BUF_SIZE = 256
BINPRM_MAX_RECURSION = 4
MAX_ARG_STRLEN = 32 * 4096
MAX_ARG_STRINGS = 0x7FFFFFFF
ARG_MAX_BYTES = (8 << 20) // 4      # _STK_LIM / 4, what bprm_stack_limits allows


@dataclass
class ExecRequest:
    """A validated exec: what the new image is made of."""
    image: ElfImage
    argv: List[bytes]
    envp: List[bytes]
    filename: str          # bprm->filename: AT_EXECFN, the new comm's basename


def _strings(p: "Process", addr: int) -> List[bytes]:
    """A NULL-terminated array of string pointers (compare count() and copy_strings())."""
    out: List[bytes] = []
    if not addr:
        return out
    word = p.arch.word
    total = 0
    while True:
        ptr = read_word(p.mm, addr + word * len(out), word)
        if ptr == 0:
            return out
        try:
            s = strncpy_from_user(p.mm, ptr, MAX_ARG_STRLEN)
        except SyscallError as exc:
            raise SyscallError(Errno.E2BIG if exc.errno == Errno.ENAMETOOLONG else exc.errno)
        total += len(s) + 1
        if total > ARG_MAX_BYTES or len(out) >= MAX_ARG_STRINGS:
            raise SyscallError(Errno.E2BIG)
        out.append(s)


def _open_exec(path: str, follow: bool) -> bytes:
    """Compare do_open_execat: a regular file with execute permission; its first bytes."""
    try:
        st = os.stat(path, follow_symlinks=follow)
    except OSError as exc:
        raise SyscallError(exc.errno or Errno.ENOENT)
    if stat_mod.S_ISLNK(st.st_mode):
        raise SyscallError(Errno.ELOOP)
    if not stat_mod.S_ISREG(st.st_mode) or not os.access(path, os.X_OK):
        raise SyscallError(Errno.EACCES)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise SyscallError(exc.errno or Errno.EACCES)
    try:
        return os.pread(fd, BINPRM_BUF_SIZE, 0)
    finally:
        os.close(fd)


def _spacetab(c: int) -> bool:
    return c in (0x20, 0x09)


def parse_shebang(head: bytes) -> tuple[bytes, Optional[bytes]]:
    """Compare load_script: the interpreter and its one optional argument, or ENOEXEC."""
    buf = head.ljust(BINPRM_BUF_SIZE, b"\0")
    buf_end = BINPRM_BUF_SIZE - 1
    nl = buf.find(b"\n")
    if nl >= 0:
        i_end = nl
    else:
        start = next((i for i in range(2, buf_end) if not _spacetab(buf[i])), None)
        if start is None:
            raise SyscallError(Errno.ENOEXEC)        # all spaces and tabs
        if not any(_spacetab(c) or c == 0 for c in buf[start:buf_end]):
            raise SyscallError(Errno.ENOEXEC)        # the interpreter's name is truncated
        i_end = buf_end
    while i_end > 2 and _spacetab(buf[i_end - 1]):
        i_end -= 1
    i_name = 2
    while i_name < i_end and _spacetab(buf[i_name]):
        i_name += 1
    if i_name >= i_end:
        raise SyscallError(Errno.ENOEXEC)            # no interpreter name
    i_sep = i_name
    while i_sep < i_end and not (_spacetab(buf[i_sep]) or buf[i_sep] == 0):
        i_sep += 1
    name = buf[i_name:i_sep]
    arg: Optional[bytes] = None
    if i_sep < i_end and buf[i_sep] != 0:
        a = i_sep
        while a < i_end and _spacetab(buf[a]):
            a += 1
        if a < i_end:
            arg = buf[a:i_end].split(b"\0", 1)[0]
    return name, arg


def prepare_exec(p: "Process", target: str, filename: str, argv: List[bytes],
                 envp: List[bytes], follow: bool) -> ExecRequest:
    """Follow `#!` lines to a static ELF (compare search_binary_handler / exec_binprm).
    `target` is the host path to open, `filename` what the guest called it."""
    script_name = filename
    for depth in range(BINPRM_MAX_RECURSION + 2):
        head = _open_exec(target, follow if depth == 0 else True)
        if head[:2] == b"#!":
            if depth > BINPRM_MAX_RECURSION:
                raise SyscallError(Errno.ELOOP)
            interp, arg = parse_shebang(head)
            argv = [interp, *([arg] if arg is not None else []),
                    os.fsencode(script_name), *argv[1:]]
            script_name = os.fsdecode(interp)
            target = procfs.host_path(p, script_name)
            continue
        if head[:4] != b"\x7fELF":
            raise SyscallError(Errno.ENOEXEC)
        try:
            image = read_elf(os.path.realpath(target))
        except ExecError as exc:
            # A dynamically linked or foreign ELF: no binfmt handler pyexec has accepts it.
            log.warning("execve %s: %s", filename, exc.reason)
            raise SyscallError(Errno.ENOEXEC) from None
        if sum(len(s) + 1 for s in (*argv, *envp)) > ARG_MAX_BYTES:
            raise SyscallError(Errno.E2BIG)
        return ExecRequest(image, argv, envp, filename)
    raise SyscallError(Errno.ELOOP)


def do_execveat(p: "Process", dirfd: int, path_addr: int, argv_addr: int, envp_addr: int,
                flags: int) -> int:
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        raise SyscallError(Errno.EINVAL)
    if path_addr == 0:
        raise SyscallError(Errno.EFAULT)
    name = os.fsdecode(strncpy_from_user(p.mm, path_addr, 4096))
    dfd = s32(dirfd)
    if name == "":
        if not flags & AT_EMPTY_PATH:
            raise SyscallError(Errno.ENOENT)
        host_fd = p.fds.host(dfd)
        filename, target = f"/dev/fd/{dfd}", os.readlink(f"/proc/self/fd/{host_fd}")
    elif name.startswith("/") or dfd == AT_FDCWD:
        filename, target = name, procfs.host_path(p, name)
    else:
        host_fd = p.fds.host(dfd)
        filename, target = f"/dev/fd/{dfd}/{name}", f"/proc/self/fd/{host_fd}/{name}"
    argv = _strings(p, argv_addr) or [b""]     # an empty argv gets "" (Linux >= 5.18)
    envp = _strings(p, envp_addr)
    request = prepare_exec(p, target, filename, argv, envp, not flags & AT_SYMLINK_NOFOLLOW)
    from .process import set_host_comm, vfork_release
    vfork_release(p)
    set_host_comm(os.fsencode(os.path.basename(request.filename)))
    p.start_exec(request)
    return 0


def sys_execve(p: "Process", path: int, argv: int, envp: int) -> int:
    return do_execveat(p, AT_FDCWD & 0xFFFFFFFF, path, argv, envp, 0)


def sys_execveat(p: "Process", dirfd: int, path: int, argv: int, envp: int, flags: int) -> int:
    return do_execveat(p, dirfd, path, argv, envp, flags & 0xFFFFFFFF)
