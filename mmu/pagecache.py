"""The page cache: (file, page offset) -> frame, so private mappings of one file page share it."""
from __future__ import annotations

import os
from typing import Dict, Tuple

from .constants import PAGE_SIZE
from .frames import FrameAllocator
from .vma import MappedFile


class PageCache:
    """Holds one reference on each cached frame; mappings take their own.

    Compare Linux's filemap_fault: the page is read once, then every mapping of it (the text and
    data VMAs that both cover a boundary page, say) points at the same frame until someone writes.
    """

    def __init__(self, frames: FrameAllocator) -> None:
        self.frames = frames
        self._pages: Dict[Tuple[Tuple[int, int], int], int] = {}
        self.reads = 0

    def lookup(self, file: MappedFile, offset: int) -> int | None:
        return self._pages.get((file.key, offset))

    def find_or_read(self, file: MappedFile, offset: int) -> Tuple[int, bool]:
        """The frame caching the file page at `offset` (page-aligned); (frame, was_cached)."""
        key = (file.key, offset)
        paddr = self._pages.get(key)
        if paddr is not None:
            return paddr, True
        data = os.pread(file.fd, PAGE_SIZE, offset)
        paddr = self.frames.alloc(zero=len(data) < PAGE_SIZE)
        if data:
            self.frames.phys.write(paddr, data)
        self._pages[key] = paddr
        self.reads += 1
        return paddr, False

    def write_back(self, file: MappedFile, offset: int, data: bytes) -> None:
        """A shared writable mapping changed the page: the file follows (msync / munmap)."""
        os.pwrite(file.fd, data, offset)

    def invalidate(self, file: MappedFile) -> None:
        for key in [k for k in self._pages if k[0] == file.key]:
            self.frames.put(self._pages.pop(key))

    def __len__(self) -> int:
        return len(self._pages)
