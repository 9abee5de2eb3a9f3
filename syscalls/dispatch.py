"""Syscall dispatch: decode, look up the ABI's table, call the handler, turn errors into -errno.

Tables are data (syscalls/table_*.py): number -> Syscall(name, handler). A handler is
`sys_<name>(proc, *args) -> int` taking only the arguments it uses; SyscallError(errno) raised
anywhere below becomes -errno here, the one place that does so.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Dict, Mapping, Set

from emulator.errors import SyscallError

from .errno import Errno

if TYPE_CHECKING:
    from emulator.process import Process

log = logging.getLogger("pyexec.syscalls")

Handler = Callable[..., int]


@dataclass(frozen=True)
class Syscall:
    name: str
    handler: Handler
    nargs: int = field(default=-1)

    @classmethod
    def of(cls, name: str, handler: Handler) -> "Syscall":
        # Arguments after the process: the registers the handler takes.
        return cls(name, handler, handler.__code__.co_argcount - 1)


def build_table(entries: Mapping[int, tuple[str, Handler]]) -> Dict[int, Syscall]:
    return {nr: Syscall.of(name, handler) for nr, (name, handler) in entries.items()}


class Dispatcher:
    """Calls handlers for one process; unknown numbers warn once per number and get ENOSYS."""

    def __init__(self, table: Dict[int, Syscall], abi_name: str) -> None:
        self.table = table
        self.abi_name = abi_name
        self._warned: Set[int] = set()
        self.count = 0

    def name_of(self, nr: int) -> str:
        entry = self.table.get(nr)
        return entry.name if entry else f"syscall_{nr}"

    def call(self, proc: "Process", nr: int, args: "list[int]") -> int:
        self.count += 1
        entry = self.table.get(nr)
        if entry is None:
            if nr not in self._warned:
                self._warned.add(nr)
                from . import names
                known = names.X86_64 if self.abi_name == "x86_64" else names.I386
                log.warning("unsupported %s syscall %d (%s): returning -ENOSYS",
                            self.abi_name, nr, known.get(nr, "unknown"))
            return -Errno.ENOSYS
        try:
            return entry.handler(proc, *args[:entry.nargs])
        except SyscallError as exc:
            return -exc.errno

