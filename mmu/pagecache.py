"""The page cache: (file, page offset) -> frame, so private mappings of one file page share it."""
from __future__ import annotations

import ctypes
import fcntl
import os
from typing import Callable, Dict, List, Optional, Tuple

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


# --- the host's page cache ----------------------------------------------------------------------
#
# pyexec's PageCache above is a private copy: right for MAP_PRIVATE pages (read once, then COW).
# MAP_SHARED pages must be the file itself, so that a store through the mapping is seen by read()
# at once, as it is on Linux where both are the same page-cache page. HostWindows maps the file
# on the host (MAP_SHARED) and that host memory into the guest's physical address space, so a
# shared page's "frame" is the host's page-cache page.

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
_MAP_FAILED = ctypes.c_void_p(-1).value
_PROT_READ, _PROT_WRITE, _MAP_SHARED = 1, 2, 1


def host_mmap(fd: int, length: int, offset: int, writable: bool) -> int:
    """A host MAP_SHARED mapping of `fd` (pages past EOF may be mapped; touching them would
    SIGBUS the host, so the fault path never hands them out)."""
    prot = _PROT_READ | (_PROT_WRITE if writable else 0)
    addr = _libc.mmap(None, length, prot, _MAP_SHARED, fd, offset)
    if addr is None or addr == _MAP_FAILED:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return int(addr)


def fd_writable(fd: int) -> bool:
    return fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDWR


def fd_readable(fd: int) -> bool:
    return fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE in (os.O_RDONLY, os.O_RDWR)


def host_resident(fd: int, offset: int, npages: int) -> List[bool]:
    """Which of the file's pages at `offset` are in the host's page cache (mincore of a
    temporary host mapping: compare Linux's mincore_page for a file VMA)."""
    if npages <= 0:
        return []
    length = npages * PAGE_SIZE
    try:
        addr = host_mmap(fd, length, offset, False)
    except OSError:
        return [False] * npages
    try:
        vec = ctypes.create_string_buffer(npages)
        if _libc.mincore(addr, length, vec) != 0:
            return [False] * npages
        return [bool(b & 1) for b in vec.raw[:npages]]
    finally:
        _libc.munmap(addr, length)


WINDOW_CHUNK = 2 << 20     # host mappings are made 2 MB of file at a time


class HostWindows:
    """Guest-physical windows onto host MAP_SHARED mappings of files, 2 MB of file each.

    `map_host(paddr, size, host_addr)` makes host memory appear at a guest-physical address
    (Unicorn's uc_mem_map_ptr). Windows are made when a shared VMA is created (never from the
    TLB-fill hook) and live as long as the address space.
    """

    def __init__(self, map_host: Callable[[int, int, int], None], base: int) -> None:
        self._map_host = map_host
        self._next = base
        self._chunks: Dict[Tuple[Tuple[int, int], int, bool], int] = {}

    def ensure(self, file: MappedFile, start: int, end: int, writable: bool) -> None:
        """Windows for file offsets [start, end)."""
        for chunk in range(start // WINDOW_CHUNK, (end + WINDOW_CHUNK - 1) // WINDOW_CHUNK):
            key = (file.key, chunk, writable)
            if key in self._chunks:
                continue
            host = host_mmap(file.fd, WINDOW_CHUNK, chunk * WINDOW_CHUNK, writable)
            paddr = self._next
            self._map_host(paddr, WINDOW_CHUNK, host)
            self._next += WINDOW_CHUNK
            self._chunks[key] = paddr

    def paddr(self, file: MappedFile, offset: int, writable: bool) -> Optional[int]:
        """The guest-physical address of the file page at `offset`, if a window holds it."""
        base = self._chunks.get((file.key, offset // WINDOW_CHUNK, writable))
        if base is None:
            return None
        return base + offset % WINDOW_CHUNK
