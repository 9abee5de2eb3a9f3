"""pyexec's one exception hierarchy.

User errors (bad program file) carry the exit status the CLI ends with; guest-visible errors are
SyscallError (turned into -errno in one place, syscalls/dispatch.py) and GuestFault (a signal).
"""
from __future__ import annotations


class PyexecError(Exception):
    """Base of every error pyexec raises on purpose."""


class ExecError(PyexecError):
    """The program cannot be executed; `status` is the shell's convention (126 / 127)."""

    def __init__(self, path: str, reason: str, status: int = 126) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.status = status


class SyscallError(PyexecError):
    """A syscall handler fails with an errno (a syscalls.errno.Errno value)."""

    def __init__(self, errno: int, detail: str = "") -> None:
        super().__init__(detail or str(errno))
        self.errno = errno


class GuestFault(PyexecError):
    """A synchronous signal the guest must receive: SIGSEGV/SIGBUS from the MMU, SIGILL, SIGFPE..."""

    def __init__(self, signo: int, code: int, addr: int, detail: str = "",
                 access: int = 0) -> None:
        super().__init__(detail or f"signal {signo} code {code} at {addr:#x}")
        self.signo = signo
        self.code = code
        self.addr = addr
        self.access = access     # the MMU access (16 read / 17 write / 18 fetch), 0 if none


class InternalError(PyexecError):
    """A bug or unsupported state inside pyexec itself (not the guest's fault)."""
