"""The Python API's small typed views: registers, memory, symbols, syscall calls, results.

`emulator.Process` is the one process class the CLI, the debugger and tracing use too; these
views are what its `regs`, `mem`, `symbols` properties and `on_syscall` callbacks hand out.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterator, Mapping, Optional

from emulator.control import Stop, StopReason, SyscallEvent
from emulator.errors import PyexecError, SyscallError

if TYPE_CHECKING:
    from emulator.process import Process


class MemoryAccessError(PyexecError):
    """A guest address the guest itself could not access either."""


class HookError(PyexecError):
    """A user callback raised: carries the guest pc; the original exception is __cause__."""


class Registers:
    """Guest registers by name (gdb's names for the architecture): `regs.rip`, `regs["eax"]`."""

    _proc: "Process"

    def __init__(self, proc: "Process") -> None:
        object.__setattr__(self, "_proc", proc)

    def _id(self, name: str) -> int:
        ids = self._proc.machine.regs
        if name not in ids:
            raise AttributeError(f"no register {name!r} on {self._proc.arch.value}")
        return ids[name]

    def __getattr__(self, name: str) -> int:
        return self._proc.machine.reg(self._id(name))

    def __setattr__(self, name: str, value: int) -> None:
        self._proc.machine.set_reg(self._id(name), value)

    __getitem__ = __getattr__
    __setitem__ = __setattr__

    def names(self) -> list[str]:
        return list(self._proc.machine.regs)

    def as_dict(self) -> Dict[str, int]:
        return {n: self[n] for n in self.names()}


class Memory:
    """Guest virtual memory through the MMU: pages fault in lazily, as the guest's would."""

    def __init__(self, proc: "Process") -> None:
        self._proc = proc

    def read(self, addr: int, size: int) -> bytes:
        from mmu.uaccess import copy_from_user
        try:
            return copy_from_user(self._proc.mm, addr, size)
        except SyscallError:
            raise MemoryAccessError(f"cannot read {size} bytes at {addr:#x}: not mapped "
                                    "or not readable") from None

    def write(self, addr: int, data: bytes) -> None:
        from mmu.uaccess import copy_to_user
        try:
            copy_to_user(self._proc.mm, addr, bytes(data))
        except SyscallError:
            raise MemoryAccessError(f"cannot write {len(data)} bytes at {addr:#x}: not "
                                    "mapped or not writable") from None

    def read_string(self, addr: int, limit: int = 4096) -> bytes:
        from mmu.uaccess import strncpy_from_user
        try:
            return strncpy_from_user(self._proc.mm, addr, limit)
        except SyscallError:
            raise MemoryAccessError(f"cannot read a string at {addr:#x}") from None

    def read_int(self, addr: int, size: Optional[int] = None) -> int:
        return int.from_bytes(self.read(addr, size or self._proc.arch.word), "little")


class Symbols(Mapping[str, int]):
    """The ELF symbol table (.symtab), relocated by the load bias (static-pie)."""

    def __init__(self, proc: "Process") -> None:
        self._proc = proc
        self._table: Optional[Dict[str, int]] = None
        self._sorted: list[tuple[int, int, str]] = []

    def _load(self) -> Dict[str, int]:
        if self._table is None:
            from elftools.elf.elffile import ELFFile
            from elftools.elf.sections import SymbolTableSection
            bias = self._proc.load.load_bias if self._proc.load else 0
            table: Dict[str, int] = {}
            with open(self._proc.image.host_path, "rb") as f:
                elf = ELFFile(f)
                for sec in elf.iter_sections():
                    if not isinstance(sec, SymbolTableSection):
                        continue
                    for sym in sec.iter_symbols():
                        if sym.name and sym["st_value"] and sym["st_info"]["type"] in (
                                "STT_FUNC", "STT_OBJECT", "STT_NOTYPE", "STT_GNU_IFUNC"):
                            addr = sym["st_value"] + bias
                            table.setdefault(sym.name, addr)
                            self._sorted.append((addr, sym["st_size"], sym.name))
            self._sorted.sort()
            self._table = table
        return self._table

    def __getitem__(self, name: str) -> int:
        return self._load()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def lookup(self, addr: int) -> Optional[tuple[str, int]]:
        """(symbol, offset) containing addr, as gdb's `info symbol`."""
        import bisect
        self._load()
        i = bisect.bisect_right(self._sorted, (addr, 1 << 64, "")) - 1
        while i >= 0:
            start, size, name = self._sorted[i]
            if start <= addr < start + max(size, 1):
                return name, addr - start
            if size == 0 and start <= addr:
                return name, addr - start
            i -= 1
            break
        return None

    def resolve(self, where: "int | str") -> int:
        if isinstance(where, int):
            return where
        try:
            return int(where, 0)
        except ValueError:
            pass
        try:
            return self[where]
        except KeyError:
            raise KeyError(f"no symbol {where!r} in {self._proc.image.path}") from None


@dataclass
class SyscallCall:
    """What an `on_syscall` handler receives: read or change `args`, or `skip(result)`."""
    event: SyscallEvent
    proc: "Process"

    @property
    def name(self) -> str:
        return self.event.name

    @property
    def nr(self) -> int:
        return self.event.nr

    @property
    def args(self) -> list[int]:
        return self.event.args

    @property
    def result(self) -> Optional[int]:
        return self.event.result

    @property
    def path(self) -> Optional[str]:
        """The path argument of path-taking syscalls (open, openat, stat, execve, ...)."""
        index = PATH_ARG.get(self.name)
        if index is None:
            return None
        try:
            return os.fsdecode(self.proc.mem.read_string(self.args[index]))
        except MemoryAccessError:
            return None

    def skip(self, result: int) -> None:
        """Do not run the syscall; the guest sees `result` (e.g. -2 for -ENOENT)."""
        self.event.result = result


PATH_ARG = {"open": 0, "openat": 1, "stat": 0, "lstat": 0, "newfstatat": 1, "statx": 1,
            "access": 0, "faccessat": 1, "faccessat2": 1, "readlink": 0, "readlinkat": 1,
            "execve": 0, "execveat": 1, "unlink": 0, "unlinkat": 1, "mkdir": 0, "mkdirat": 1,
            "chdir": 0, "stat64": 0, "lstat64": 0, "fstatat64": 1, "creat": 0, "truncate": 0,
            "rmdir": 0, "chmod": 0, "chown": 0}


@dataclass
class Result:
    """How a `run()` ended: why it stopped, and, at the end, status, output and statistics."""
    stop: Stop
    exit_status: Optional[int] = None
    signal: Optional[int] = None
    stdout: bytes = b""
    stderr: bytes = b""
    stats: Dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.stop.reason in (StopReason.EXITED, StopReason.SIGNALED)
