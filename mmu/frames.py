"""Physical frames: 4 KB pieces of Unicorn's one physical pool, with reference counts."""
from __future__ import annotations

from typing import Dict, List, Protocol

from .constants import PAGE_SIZE

ZERO_PAGE = bytes(PAGE_SIZE)


class PhysicalMemory(Protocol):
    """Byte access by physical address (Unicorn's mem_read/mem_write in TLB_VIRTUAL mode)."""

    def read(self, paddr: int, size: int) -> bytes: ...

    def write(self, paddr: int, data: bytes) -> None: ...


class BytearrayMemory:
    """A PhysicalMemory in a Python bytearray, for unit tests of the MMU without Unicorn."""

    def __init__(self, size: int = 64 << 20) -> None:
        self.buf = bytearray(size)

    def read(self, paddr: int, size: int) -> bytes:
        return bytes(self.buf[paddr:paddr + size])

    def write(self, paddr: int, data: bytes) -> None:
        self.buf[paddr:paddr + len(data)] = data


class OutOfFrames(MemoryError):
    pass


class FrameAllocator:
    """Hands out frames (by physical address) from [base, limit); counts references.

    A frame never handed out is zero already (the host commits the pool lazily, zero-filled);
    a recycled one is cleared when it is handed out again.
    """

    def __init__(self, phys: PhysicalMemory, base: int, limit: int) -> None:
        self.phys = phys
        self._next = base
        self._limit = limit
        self._free: List[int] = []
        self.refcount: Dict[int, int] = {}

    def alloc(self, zero: bool = True) -> int:
        if self._free:
            paddr = self._free.pop()
            if zero:
                self.phys.write(paddr, ZERO_PAGE)
        else:
            if self._next + PAGE_SIZE > self._limit:
                raise OutOfFrames("physical pool exhausted")
            paddr = self._next
            self._next += PAGE_SIZE
        self.refcount[paddr] = 1
        return paddr

    def get(self, paddr: int) -> None:
        self.refcount[paddr] += 1

    def put(self, paddr: int) -> None:
        n = self.refcount[paddr] - 1
        if n:
            self.refcount[paddr] = n
        else:
            del self.refcount[paddr]
            self._free.append(paddr)

    def copy(self, src: int) -> int:
        dst = self.alloc(zero=False)
        self.phys.write(dst, self.phys.read(src, PAGE_SIZE))
        return dst

    @property
    def in_use(self) -> int:
        return len(self.refcount)
