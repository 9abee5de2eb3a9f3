"""Page geometry and the PROT_* / MAP_* flags, with Linux's names and values."""
from __future__ import annotations

import enum

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = ~(PAGE_SIZE - 1)


def page_down(addr: int) -> int:
    """ELF_PAGESTART / PAGE_ALIGN_DOWN."""
    return addr & PAGE_MASK


def page_up(addr: int) -> int:
    """PAGE_ALIGN."""
    return (addr + PAGE_SIZE - 1) & PAGE_MASK


def page_offset(addr: int) -> int:
    """ELF_PAGEOFFSET."""
    return addr & (PAGE_SIZE - 1)


class PROT(enum.IntFlag):
    NONE = 0
    READ = 0x1
    WRITE = 0x2
    EXEC = 0x4
    GROWSDOWN = 0x01000000
    GROWSUP = 0x02000000


class MAP(enum.IntFlag):
    SHARED = 0x01
    PRIVATE = 0x02
    SHARED_VALIDATE = 0x03
    TYPE = 0x0F
    FIXED = 0x10
    ANONYMOUS = 0x20
    # x86: MAP_32BIT places the mapping in the first 2 GB.
    _32BIT = 0x40
    GROWSDOWN = 0x0100
    DENYWRITE = 0x0800
    EXECUTABLE = 0x1000
    LOCKED = 0x2000
    NORESERVE = 0x4000
    POPULATE = 0x8000
    NONBLOCK = 0x10000
    STACK = 0x20000
    HUGETLB = 0x40000
    SYNC = 0x80000
    FIXED_NOREPLACE = 0x100000


class VM(enum.IntFlag):
    """vm_flags bits that are not PROT bits (compare Linux's include/linux/mm.h)."""
    NONE = 0
    SHARED = 0x08
    GROWSDOWN = 0x0100
    # Our own marks, so /proc/self/maps can name a VMA as the kernel does.
    HEAP = 0x1000_0000
    STACK = 0x2000_0000


# Unicorn's page permissions (UC_PROT_*), used in TLB entries.
UC_PROT_READ = 1
UC_PROT_WRITE = 2
UC_PROT_EXEC = 4

# Unicorn's TLB-fill access codes (UC_MEM_READ / UC_MEM_WRITE / UC_MEM_FETCH).
ACCESS_READ = 16
ACCESS_WRITE = 17
ACCESS_FETCH = 18


def prot_to_uc(prot: int) -> int:
    """The TLB permissions a page of a VMA with `prot` may get on x86.

    x86 has no write-only or exec-only pages (without protection keys): any access right implies
    read, which is why a PROT_WRITE mapping shows `-w-p` in maps yet reads fine natively.
    """
    perms = 0
    if prot & (PROT.READ | PROT.WRITE | PROT.EXEC):
        perms |= UC_PROT_READ
    if prot & PROT.WRITE:
        perms |= UC_PROT_WRITE
    if prot & PROT.EXEC:
        perms |= UC_PROT_EXEC
    return perms
