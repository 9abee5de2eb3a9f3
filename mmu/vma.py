"""VMAs and the sorted, disjoint list of them (Linux's vm_area_struct and the mm's VMA tree)."""
from __future__ import annotations

import bisect
import dataclasses
import os
from dataclasses import dataclass
from typing import Iterator, List, Optional

from .constants import PAGE_SIZE, PROT, VM, VM_MARKS, page_offset


@dataclass(frozen=True)
class MappedFile:
    """A host file behind file-backed VMAs: one open descriptor, identified by (dev, ino)."""
    path: str          # the name /proc/self/maps shows
    fd: int            # host descriptor, read-only unless the mapping is shared-writable
    dev: int
    ino: int

    @property
    def key(self) -> tuple[int, int]:
        return (self.dev, self.ino)

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    @classmethod
    def open(cls, host_path: str, shown_as: str, writable: bool = False) -> "MappedFile":
        fd = os.open(host_path, (os.O_RDWR if writable else os.O_RDONLY) | os.O_CLOEXEC)
        st = os.fstat(fd)
        return cls(shown_as, fd, st.st_dev, st.st_ino)


_VM_SHARED = int(VM.SHARED)


@dataclass
class VMA:
    """One vm_area_struct: [start, end) with one protection, one backing."""
    start: int
    end: int
    prot: PROT
    flags: VM = VM.NONE
    file: Optional[MappedFile] = None
    pgoff: int = 0                      # file offset (bytes) that `start` maps
    file_end: Optional[int] = None      # file offset past which bytes read as zero (bss tail)
    name: str = ""                      # "[heap]", "[stack]", or "" (file VMAs use file.path)
    # Linux's anon_vma, by identity: set when the first anonymous page (or COW copy) of the VMA
    # is made; two VMAs with different ones never merge (compare is_mergeable_anon_vma).
    anon_vma: Optional[int] = None
    # An anonymous VMA's vm_pgoff (bytes): None means "its own start", as mmap sets it; mremap
    # keeps the old value when it moves a faulted VMA, which stops merges as on Linux.
    anon_pgoff: Optional[int] = None

    @property
    def shared(self) -> bool:
        """VM_SHARED: writes reach the file (a MAP_SHARED mapping of a writable file)."""
        return bool(int(self.flags) & _VM_SHARED)

    @property
    def mayshare(self) -> bool:
        """VM_MAYSHARE: any MAP_SHARED mapping ('s' in /proc/self/maps)."""
        return bool(self.flags & (VM.MAYSHARE | VM.SHARED))

    @property
    def vm_pgoff(self) -> int:
        """Linux's vm_pgoff in bytes: the file offset, or the anonymous offset."""
        if self.file is not None:
            return self.pgoff
        return self.start if self.anon_pgoff is None else self.anon_pgoff

    @property
    def accessible(self) -> bool:
        """Compare vma_is_accessible: any of VM_READ/WRITE/EXEC."""
        return bool(self.prot & (PROT.READ | PROT.WRITE | PROT.EXEC))

    def __len__(self) -> int:
        return self.end - self.start

    def contains(self, addr: int) -> bool:
        return self.start <= addr < self.end

    def file_offset(self, addr: int) -> int:
        return self.pgoff + (addr - self.start)

    def split_at(self, addr: int) -> tuple["VMA", "VMA"]:
        """Compare Linux's __split_vma: two VMAs with the same attributes meeting at `addr`."""
        assert self.start < addr < self.end and page_offset(addr) == 0
        low = dataclasses.replace(self, end=addr)
        delta = addr - self.start
        high = dataclasses.replace(
            self, start=addr, pgoff=self.pgoff + delta if self.file else 0,
            anon_pgoff=None if self.anon_pgoff is None else self.anon_pgoff + delta)
        return low, high

    def can_merge_with_next(self, nxt: "VMA") -> bool:
        """Compare Linux's is_mergeable_vma, is_mergeable_anon_vma and the vm_pgoff continuity
        check of vma_merge (for anonymous VMAs too: their vm_pgoff follows the address)."""
        if self.end != nxt.start or self.prot != nxt.prot:
            return False
        if (self.flags ^ nxt.flags) & ~VM_MARKS:
            return False
        if self.name != nxt.name or self.file_end != nxt.file_end:
            return False
        if self.anon_vma is not None and nxt.anon_vma is not None and self.anon_vma != nxt.anon_vma:
            return False
        if (self.file is None) != (nxt.file is None):
            return False
        if self.file is not None and nxt.file is not None and self.file.key != nxt.file.key:
            return False
        return self.vm_pgoff + (self.end - self.start) == nxt.vm_pgoff

    def display_name(self) -> str:
        return self.file.path if self.file else self.name


class AddressSpace:
    """VMAs kept sorted by start and disjoint; every change keeps that invariant.

    Pure bookkeeping: callers (mmu.mm.MM) drop page-table entries for ranges this removes.
    """

    def __init__(self) -> None:
        self._vmas: List[VMA] = []
        self._starts: List[int] = []

    def __iter__(self) -> Iterator[VMA]:
        return iter(self._vmas)

    def __len__(self) -> int:
        return len(self._vmas)

    def find(self, addr: int) -> Optional[VMA]:
        """The VMA containing addr, or None."""
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0:
            vma = self._vmas[i]
            if addr < vma.end:
                return vma
        return None

    def find_vma(self, addr: int) -> Optional[VMA]:
        """Linux's find_vma: the first VMA with end > addr (it may start above addr)."""
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and addr < self._vmas[i].end:
            return self._vmas[i]
        i += 1
        return self._vmas[i] if i < len(self._vmas) else None

    def prev_of(self, vma: VMA) -> Optional[VMA]:
        i = self._index(vma)
        return self._vmas[i - 1] if i > 0 else None

    def next_of(self, vma: VMA) -> Optional[VMA]:
        i = self._index(vma)
        return self._vmas[i + 1] if i + 1 < len(self._vmas) else None

    def overlapping(self, start: int, end: int) -> List[VMA]:
        i = max(bisect.bisect_right(self._starts, start) - 1, 0)
        out = []
        while i < len(self._vmas) and self._vmas[i].start < end:
            if self._vmas[i].end > start:
                out.append(self._vmas[i])
            i += 1
        return out

    def is_free(self, start: int, end: int) -> bool:
        return not self.overlapping(start, end)

    def _index(self, vma: VMA) -> int:
        i = bisect.bisect_left(self._starts, vma.start)
        if i < len(self._vmas) and self._vmas[i] is vma:
            return i
        raise KeyError(f"VMA {vma.start:#x} not in address space")

    def insert(self, vma: VMA, merge: bool = True) -> VMA:
        """Add a VMA over a free range and merge it with equal neighbours; returns the result."""
        assert vma.start < vma.end and page_offset(vma.start) == 0 and page_offset(vma.end) == 0
        assert self.is_free(vma.start, vma.end), f"overlap at {vma.start:#x}"
        i = bisect.bisect_left(self._starts, vma.start)
        self._vmas.insert(i, vma)
        self._starts.insert(i, vma.start)
        return self.merge_around(vma) if merge else vma

    def remove(self, vma: VMA) -> None:
        i = self._index(vma)
        del self._vmas[i]
        del self._starts[i]

    def replace(self, old: VMA, new: List[VMA]) -> None:
        i = self._index(old)
        self._vmas[i:i + 1] = new
        self._starts[i:i + 1] = [v.start for v in new]

    def merge_around(self, vma: VMA) -> VMA:
        """Compare Linux's vma_merge: fold vma into equal, adjacent neighbours.

        When vma could join both neighbours but their anon_vmas differ, it joins the previous
        one only, as Linux's vma_merge_existing_range prefers.
        """
        prev, nxt = self.prev_of(vma), self.next_of(vma)
        left = prev is not None and prev.can_merge_with_next(vma)
        right = nxt is not None and vma.can_merge_with_next(nxt)
        if left and right:
            assert prev is not None and nxt is not None
            if prev.anon_vma is not None and nxt.anon_vma is not None \
                    and prev.anon_vma != nxt.anon_vma:
                right = False
        if right:
            assert nxt is not None
            self.remove(nxt)
            vma.end = nxt.end
            if vma.anon_vma is None:
                vma.anon_vma = nxt.anon_vma
        if left:
            assert prev is not None
            self.remove(vma)
            prev.end = vma.end
            if prev.anon_vma is None:
                prev.anon_vma = vma.anon_vma
            return prev
        return vma

    def split_range(self, start: int, end: int) -> List[VMA]:
        """Split VMAs so that start and end fall on VMA boundaries; return those inside."""
        for addr in (start, end):
            vma = self.find(addr)
            if vma is not None and vma.start < addr:
                self.replace(vma, list(vma.split_at(addr)))
        return self.overlapping(start, end)

    def unmap(self, start: int, end: int) -> List[VMA]:
        """Remove [start, end) from every VMA; returns the removed pieces."""
        removed = self.split_range(start, end)
        for vma in removed:
            self.remove(vma)
        return removed

    def check(self) -> None:
        """Raise AssertionError unless VMAs are sorted, disjoint, page-aligned and non-empty."""
        prev_end = -1
        assert self._starts == [v.start for v in self._vmas], "start index out of sync"
        for v in self._vmas:
            assert v.start % PAGE_SIZE == 0 and v.end % PAGE_SIZE == 0, f"unaligned {v}"
            assert v.start < v.end, f"empty {v}"
            assert v.start >= prev_end, f"overlap or unsorted at {v.start:#x}"
            prev_end = v.end
