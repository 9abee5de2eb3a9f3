"""The guest's file descriptors: each guest fd owns one host descriptor."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Optional

from emulator.errors import SyscallError
from syscalls.errno import Errno

FD_CLOEXEC = 1
RLIMIT_NOFILE = 1024


@dataclass
class OpenFile:
    host_fd: int
    path: str
    cloexec: bool = False
    # An i386 guest's directory positions (syscalls/fs.py dir_cookie): 31-bit cookie -> the
    # host's 64-bit position, for the hash positions ext4 gives 64-bit callers.
    dir_cookies: Optional[Dict[int, int]] = None


class FdTable:
    def __init__(self) -> None:
        self.files: Dict[int, OpenFile] = {}

    @classmethod
    def inherit_std(cls) -> "FdTable":
        """Guest 0/1/2 are duplicates of pyexec's own, so the guest closing them cannot
        take pyexec's stderr with it."""
        table = cls()
        for fd in (0, 1, 2):
            try:
                table.files[fd] = OpenFile(os.dup(fd), f"<fd {fd}>")
            except OSError:
                pass
        return table

    def get(self, fd: int) -> OpenFile:
        of = self.files.get(fd)
        if of is None:
            raise SyscallError(Errno.EBADF)
        return of

    def host(self, fd: int) -> int:
        of = self.files.get(fd)
        if of is None:
            raise SyscallError(Errno.EBADF)
        return of.host_fd

    def uses_host(self, host_fd: int) -> bool:
        return any(of.host_fd == host_fd for of in self.files.values())

    def limit(self) -> int:
        """RLIMIT_NOFILE: one past the highest descriptor number the guest may use."""
        return RLIMIT_NOFILE

    def lowest_free(self, start: int = 0) -> int:
        fd = start
        while fd in self.files:
            fd += 1
        if fd >= RLIMIT_NOFILE:
            raise SyscallError(Errno.EMFILE)
        return fd

    def install(self, of: OpenFile, start: int = 0) -> int:
        fd = self.lowest_free(start)
        self.files[fd] = of
        return fd

    def install_at(self, fd: int, of: OpenFile) -> None:
        old = self.files.pop(fd, None)
        self.files[fd] = of
        if old is not None:
            self._release(old)

    def close(self, fd: int) -> None:
        of = self.files.pop(fd, None)
        if of is None:
            raise SyscallError(Errno.EBADF)
        self._release(of)

    @staticmethod
    def _release(of: OpenFile) -> None:
        try:
            os.close(of.host_fd)
        except OSError:
            pass

    def close_all(self) -> None:
        for fd in list(self.files):
            self.close(fd)

    def close_on_exec(self) -> None:
        """Compare Linux's do_close_on_exec: exec closes every FD_CLOEXEC descriptor."""
        for fd, of in list(self.files.items()):
            if of.cloexec:
                self.close(fd)
