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
    UNINITIALIZED = 0x4000000


# Compare Linux's LEGACY_MAP_MASK: the flags MAP_SHARED silently accepts and MAP_SHARED_VALIDATE
# checks (anything else with MAP_SHARED_VALIDATE is EOPNOTSUPP).
LEGACY_MAP_MASK = (MAP.SHARED | MAP.PRIVATE | MAP.FIXED | MAP.ANONYMOUS | MAP.DENYWRITE
                   | MAP.EXECUTABLE | MAP.UNINITIALIZED | MAP.GROWSDOWN | MAP.LOCKED
                   | MAP.NORESERVE | MAP.POPULATE | MAP.NONBLOCK | MAP.STACK | MAP.HUGETLB)


class VM(enum.IntFlag):
    """vm_flags bits that are not PROT bits (compare Linux's include/linux/mm.h).

    VM_READ/WRITE/EXEC live in VMA.prot; the values below are Linux's own bit numbers, so
    /proc/self/smaps can print VmFlags in the kernel's order.
    """
    NONE = 0
    SHARED = 0x08
    MAYREAD = 0x10
    MAYWRITE = 0x20
    MAYEXEC = 0x40
    MAYSHARE = 0x80
    GROWSDOWN = 0x0100
    LOCKED = 0x2000
    SEQ_READ = 0x8000
    RAND_READ = 0x10000
    DONTCOPY = 0x20000
    DONTEXPAND = 0x40000
    ACCOUNT = 0x100000
    NORESERVE = 0x200000
    WIPEONFORK = 0x2000000
    DONTDUMP = 0x4000000
    HUGEPAGE = 0x20000000
    NOHUGEPAGE = 0x40000000
    MERGEABLE = 0x80000000
    # Our own marks, above every Linux bit, so /proc/self/maps can name a VMA as the kernel does.
    HEAP = 1 << 40
    STACK = 1 << 41


# Marks that are pyexec's bookkeeping, not vm_flags: VMA merging ignores them.
VM_MARKS = VM.HEAP | VM.STACK
VM_MAY_DEFAULT = VM.MAYREAD | VM.MAYWRITE | VM.MAYEXEC

# /proc/<pid>/smaps "VmFlags:" mnemonics, in bit order (compare show_smap_vma_flags).
VM_MNEMONICS = [
    (0x1, "rd"), (0x2, "wr"), (0x4, "ex"), (VM.SHARED, "sh"), (VM.MAYREAD, "mr"),
    (VM.MAYWRITE, "mw"), (VM.MAYEXEC, "me"), (VM.MAYSHARE, "ms"), (VM.GROWSDOWN, "gd"),
    (VM.LOCKED, "lo"), (VM.SEQ_READ, "sr"), (VM.RAND_READ, "rr"), (VM.DONTCOPY, "dc"),
    (VM.DONTEXPAND, "de"), (VM.ACCOUNT, "ac"), (VM.NORESERVE, "nr"), (VM.WIPEONFORK, "wf"),
    (VM.DONTDUMP, "dd"), (VM.HUGEPAGE, "hg"), (VM.NOHUGEPAGE, "nh"), (VM.MERGEABLE, "mg"),
]

# mremap flags (include/uapi/linux/mman.h), msync flags, madvise advice values.
MREMAP_MAYMOVE = 1
MREMAP_FIXED = 2
MREMAP_DONTUNMAP = 4
MS_ASYNC = 1
MS_INVALIDATE = 2
MS_SYNC = 4


class MADV(enum.IntEnum):
    NORMAL = 0
    RANDOM = 1
    SEQUENTIAL = 2
    WILLNEED = 3
    DONTNEED = 4
    FREE = 8
    REMOVE = 9
    DONTFORK = 10
    DOFORK = 11
    MERGEABLE = 12
    UNMERGEABLE = 13
    HUGEPAGE = 14
    NOHUGEPAGE = 15
    DONTDUMP = 16
    DODUMP = 17
    WIPEONFORK = 18
    KEEPONFORK = 19
    COLD = 20
    PAGEOUT = 21
    POPULATE_READ = 22
    POPULATE_WRITE = 23
    DONTNEED_LOCKED = 24
    COLLAPSE = 25


# Unicorn's page permissions (UC_PROT_*), used in TLB entries.
UC_PROT_READ = 1
UC_PROT_WRITE = 2
UC_PROT_EXEC = 4

# Unicorn's TLB-fill access codes (UC_MEM_READ / UC_MEM_WRITE / UC_MEM_FETCH).
ACCESS_READ = 16
ACCESS_WRITE = 17
ACCESS_FETCH = 18


def _uc_perms(prot: int) -> int:
    perms = 0
    if prot & 7:
        perms |= UC_PROT_READ
    if prot & 2:
        perms |= UC_PROT_WRITE
    if prot & 4:
        perms |= UC_PROT_EXEC
    return perms


# prot & 7 -> TLB permissions; a table because IntFlag arithmetic is slow on the fault path.
_UC_PERMS = tuple(_uc_perms(p) for p in range(8))


def prot_to_uc(prot: int) -> int:
    """The TLB permissions a page of a VMA with `prot` may get on x86.

    x86 has no write-only or exec-only pages (without protection keys): any access right implies
    read, which is why a PROT_WRITE mapping shows `-w-p` in maps yet reads fine natively.
    """
    return _UC_PERMS[int(prot) & 7]
