"""Page-table entries: one per resident 4 KB page, keyed by virtual page number."""
from __future__ import annotations

import enum
from typing import Dict


class PageKind(enum.IntEnum):
    """What a page holds, i.e. which kind of fault brought it in."""
    FILE = 0       # a page-cache frame shared with the file (read-only until written)
    FILE_PRIVATE = 1   # a private frame filled from the file (bss tail zeroed, or copied)
    ANON = 2       # a private zero-filled frame
    ZERO = 3       # the shared zero page (read of untouched anonymous memory)
    COW = 4        # a private copy made by a write to a shared frame
    STACK = 5      # anonymous page brought in by stack growth
    SHARED = 6     # a MAP_SHARED page: the host's page-cache page itself (a HostWindows frame)


class PTE:
    """A present page: the frame it maps and the TLB permissions it grants.

    `cow` marks a frame shared with the page cache or the zero page: it is mapped without
    UC_PROT_WRITE even in a writable VMA, so the first write faults and copies it.
    """
    __slots__ = ("paddr", "perms", "cow", "kind")

    def __init__(self, paddr: int, perms: int, cow: bool, kind: PageKind) -> None:
        self.paddr = paddr
        self.perms = perms
        self.cow = cow
        self.kind = kind

    def __repr__(self) -> str:
        return f"PTE(paddr={self.paddr:#x}, perms={self.perms}, cow={self.cow}, kind={self.kind.name})"


PageTable = Dict[int, PTE]
