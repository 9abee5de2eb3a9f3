"""The address space of one process: Linux's mm_struct with its VMA operations.

Syscalls change VMAs only through these methods; each drops the page-table entries of the range
it changes and flushes the TLB. Only the fault path (mmu/fault.py) creates page-table entries.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Callable, Dict, List, Optional

from emulator.errors import SyscallError
from syscalls.errno import Errno

from .constants import MAP, PAGE_SHIFT, PAGE_SIZE, PROT, VM, page_down, page_offset, page_up
from .fault import FaultEvent
from .frames import FrameAllocator, PhysicalMemory
from .pagecache import PageCache
from .pagetable import PTE, PageKind, PageTable
from .vma import VMA, AddressSpace, MappedFile

MMAP_MIN_ADDR = 0x10000           # /proc/sys/vm/mmap_min_addr
STACK_GUARD_GAP = 256 * PAGE_SIZE  # Linux's stack_guard_gap
MIN_GAP = 128 << 20                # mmap_base(): at least 128 MB between stack and mmap_base
RLIMIT_STACK = 8 << 20
# After the ELF image the kernel maps [vvar], [vvar_vclock] and [vdso] (8 pages) top-down; pyexec
# has no vDSO but keeps that hole (reserve_vdso_area) so later mmaps land where they do natively.
VDSO_AREA = 8 * PAGE_SIZE


@dataclass(frozen=True)
class Layout:
    """Per-ABI address-space geometry, as Linux computes it with randomization off."""
    task_size: int          # TASK_SIZE: first address user space cannot map
    stack_top: int          # STACK_TOP: where [stack] ends
    elf_et_dyn_base: int    # ELF_ET_DYN_BASE (static-pie [heap] base on this kernel)

    @property
    def mmap_base(self) -> int:
        """Compare Linux's mmap_base() (arch/x86/mm/mmap.c) with no random offset."""
        gap = min(max(RLIMIT_STACK + STACK_GUARD_GAP, MIN_GAP), self.task_size // 6 * 5)
        return page_down(self.task_size - gap)


LAYOUT_X86_64 = Layout(task_size=0x7FFFFFFFF000, stack_top=0x7FFFFFFFF000,
                       elf_et_dyn_base=0x555555555000)
# An i386 task on an x86-64 kernel: IA32_PAGE_OFFSET; the top page holds pyexec's GDT.
LAYOUT_I386 = Layout(task_size=0xFFFFE000, stack_top=0xFFFFE000, elf_et_dyn_base=0x400000)


@dataclass
class FaultStats:
    """Page-fault outcomes, counted by the fault handler."""
    file: int = 0
    anon: int = 0
    zero: int = 0
    cow: int = 0
    stack_growth: int = 0
    segv: int = 0
    sigbus: int = 0

    def as_dict(self) -> Dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def total(self) -> int:
        return self.file + self.anon + self.zero + self.cow


def _noop() -> None:
    pass


class MM:
    """mm_struct: VMAs, page table, frames, page cache, brk and stack bookkeeping."""

    def __init__(self, phys: PhysicalMemory, layout: Layout, pool_base: int, pool_limit: int):
        self.layout = layout
        self.vmas = AddressSpace()
        self.pt: PageTable = {}
        self.frames = FrameAllocator(phys, pool_base, pool_limit)
        self.pagecache = PageCache(self.frames)
        self.zero_frame = self.frames.alloc()     # the shared zero page: never written
        self.stats = FaultStats()
        self.rss = 0
        self.peak_rss = 0
        self.start_brk = self.brk = 0
        self.start_stack = 0
        self.mmap_base = layout.mmap_base
        self.reserved: List[tuple[int, int]] = []   # holes no mmap may choose (the vDSO's)
        self.stack_rlimit = RLIMIT_STACK
        self.listeners: List[Callable[[FaultEvent], None]] = []
        self.origin = "cpu"      # set to "syscall" / "execve" while Python touches guest pages
        self.flush_tlb: Callable[[], None] = _noop

    # --- page table -------------------------------------------------------------------------
    def notify(self, event: FaultEvent) -> None:
        event.origin = self.origin
        for listener in self.listeners:
            listener(event)

    def set_pte(self, vpn: int, pte: PTE) -> None:
        old = self.pt.get(vpn)
        if old is not None and old.kind != PageKind.ZERO:
            self.rss -= 1
        if pte.kind != PageKind.ZERO:
            self.rss += 1
            if self.rss > self.peak_rss:
                self.peak_rss = self.rss
        self.pt[vpn] = pte

    def zap_range(self, start: int, end: int) -> None:
        """Compare Linux's zap_page_range: drop the PTEs of [start, end), release their frames."""
        lo, hi = start >> PAGE_SHIFT, end >> PAGE_SHIFT
        if hi - lo > len(self.pt):
            vpns = [v for v in self.pt if lo <= v < hi]
        else:
            vpns = [v for v in range(lo, hi) if v in self.pt]
        for vpn in vpns:
            pte = self.pt.pop(vpn)
            if pte.kind != PageKind.ZERO:
                self.rss -= 1
            self._writeback(vpn, pte)
            self.frames.put(pte.paddr)

    def _writeback(self, vpn: int, pte: PTE) -> None:
        """A MAP_SHARED writable file page goes back to the file when unmapped."""
        vma = self.vmas.find(vpn << PAGE_SHIFT)
        if vma is not None and vma.shared and vma.file is not None and vma.prot & PROT.WRITE:
            off = vma.file_offset(vpn << PAGE_SHIFT)
            size = vma.file.size()
            if off < size:
                n = min(PAGE_SIZE, size - off)
                self.pagecache.write_back(vma.file, off, self.frames.phys.read(pte.paddr, n))

    # --- VMA operations ----------------------------------------------------------------------
    def get_unmapped_area(self, length: int, hint: int = 0, low: int = MMAP_MIN_ADDR,
                          high: Optional[int] = None, topdown: bool = True) -> int:
        """Compare Linux's arch_get_unmapped_area_topdown / vm_unmapped_area."""
        if length > self.layout.task_size:
            raise SyscallError(Errno.ENOMEM)
        if hint:
            hint = page_up(hint)
            if (hint >= MMAP_MIN_ADDR and hint + length <= self.layout.task_size
                    and self._range_free(hint, hint + length)):
                return hint
        high = self.mmap_base if high is None else high
        busy = sorted([(v.start - (STACK_GUARD_GAP if v.flags & VM.GROWSDOWN else 0), v.end)
                       for v in self.vmas] + self.reserved)
        gaps = []
        prev_end = 0
        for start, end in busy:
            if start > prev_end:
                gaps.append((prev_end, start))
            prev_end = max(prev_end, end)
        gaps.append((prev_end, self.layout.task_size))
        clipped = [(max(a, low), min(b, high)) for a, b in gaps]
        ordered = reversed(clipped) if topdown else iter(clipped)
        for a, b in ordered:
            if b - a >= length:
                return b - length if topdown else a
        if topdown and high != self.layout.task_size:
            # Compare Linux: fall back to a bottom-up search of the whole space.
            return self.get_unmapped_area(length, 0, low, self.layout.task_size, topdown=False)
        raise SyscallError(Errno.ENOMEM)

    def _range_free(self, start: int, end: int) -> bool:
        return self.vmas.is_free(start, end) and all(e <= start or s >= end
                                                     for s, e in self.reserved)

    def reserve_vdso_area(self) -> int:
        """Keep the range where Linux's arch_setup_additional_pages would map the vDSO."""
        start = self.get_unmapped_area(VDSO_AREA)
        self.reserved.append((start, start + VDSO_AREA))
        return start

    def mmap_region(self, addr: int, length: int, prot: PROT, flags: VM = VM.NONE,
                    file: Optional[MappedFile] = None, pgoff: int = 0,
                    file_end: Optional[int] = None, name: str = "") -> VMA:
        """Compare Linux's mmap_region: replace whatever is in [addr, addr+length) by a new VMA."""
        end = addr + length
        self.munmap_range(addr, end)
        return self.vmas.insert(VMA(addr, end, PROT(prot), flags, file, pgoff, file_end, name))

    def munmap_range(self, start: int, end: int) -> None:
        if not self.vmas.overlapping(start, end):
            return
        self.zap_range(start, end)
        self.vmas.unmap(start, end)
        self.flush_tlb()

    def do_munmap(self, addr: int, length: int) -> int:
        if page_offset(addr) or addr >= self.layout.task_size or length == 0:
            raise SyscallError(Errno.EINVAL)
        length = page_up(length)
        if length > self.layout.task_size - addr:
            raise SyscallError(Errno.EINVAL)
        self.munmap_range(addr, addr + length)
        return 0

    def do_mmap(self, addr: int, length: int, prot: int, flags: int,
                file: Optional[MappedFile], offset: int) -> int:
        """Compare Linux's do_mmap: validate, choose the address, create the VMA. No page is read."""
        if length == 0:
            raise SyscallError(Errno.EINVAL)
        maptype = flags & MAP.TYPE
        if maptype not in (MAP.PRIVATE, MAP.SHARED, MAP.SHARED_VALIDATE):
            raise SyscallError(Errno.EINVAL)
        if page_offset(offset) and file is not None:
            raise SyscallError(Errno.EINVAL)
        length = page_up(length)
        if length == 0 or length > self.layout.task_size:
            raise SyscallError(Errno.ENOMEM)
        if offset + length > (1 << 64):
            raise SyscallError(Errno.EOVERFLOW)
        fixed = bool(flags & (MAP.FIXED | MAP.FIXED_NOREPLACE))
        if fixed:
            if page_offset(addr):
                raise SyscallError(Errno.EINVAL)
            if addr + length > self.layout.task_size or addr < MMAP_MIN_ADDR:
                raise SyscallError(Errno.ENOMEM if addr + length > self.layout.task_size
                                   else Errno.EPERM)
            if flags & MAP.FIXED_NOREPLACE and not flags & MAP.FIXED \
                    and not self.vmas.is_free(addr, addr + length):
                raise SyscallError(Errno.EEXIST)
        elif flags & MAP._32BIT and self.layout.task_size > 1 << 32:
            addr = self.get_unmapped_area(length, 0, 0x40000000, 0x80000000, topdown=False)
        else:
            addr = self.get_unmapped_area(length, addr)
        vmflags = VM.NONE
        if maptype != MAP.PRIVATE:
            vmflags |= VM.SHARED
        if flags & MAP.GROWSDOWN:
            vmflags |= VM.GROWSDOWN
        if file is None or flags & MAP.ANONYMOUS:
            file = None
            offset = 0
        self.mmap_region(addr, length, PROT(prot & 7), vmflags, file, offset)
        return addr

    def do_mprotect(self, start: int, length: int, prot: int) -> int:
        """Compare Linux's do_mprotect_pkey + mprotect_fixup: split, change, merge again."""
        if page_offset(start):
            raise SyscallError(Errno.EINVAL)
        if prot & ~(PROT.READ | PROT.WRITE | PROT.EXEC | PROT.GROWSDOWN | PROT.GROWSUP):
            raise SyscallError(Errno.EINVAL)
        end = start + page_up(length)
        if end < start:
            raise SyscallError(Errno.ENOMEM)
        if end == start:
            return 0
        # Every page of the range must be mapped (ENOMEM), checked before anything changes.
        covered = start
        for vma in self.vmas.overlapping(start, end):
            if vma.start > covered:
                raise SyscallError(Errno.ENOMEM)
            covered = vma.end
        if covered < end:
            raise SyscallError(Errno.ENOMEM)
        newprot = PROT(prot & 7)
        for vma in self.vmas.split_range(start, end):
            vma.prot = newprot
        for vma in self.vmas.overlapping(start, end):
            self.vmas.merge_around(vma)
        self._refresh_ptes(start, end)
        self.flush_tlb()
        return 0

    def _refresh_ptes(self, start: int, end: int) -> None:
        """Re-derive TLB perms of present pages from their (changed) VMA."""
        from .constants import UC_PROT_WRITE, prot_to_uc
        lo, hi = start >> PAGE_SHIFT, end >> PAGE_SHIFT
        vpns = [v for v in self.pt if lo <= v < hi] if hi - lo > len(self.pt) else \
            [v for v in range(lo, hi) if v in self.pt]
        for vpn in vpns:
            pte = self.pt[vpn]
            vma = self.vmas.find(vpn << PAGE_SHIFT)
            assert vma is not None
            perms = prot_to_uc(vma.prot)
            pte.perms = perms & ~UC_PROT_WRITE if pte.cow else perms

    def do_brk(self, brk: int) -> int:
        """Compare Linux's sys_brk: on failure the current break is returned unchanged."""
        if brk < self.start_brk:
            return self.brk
        newbrk, oldbrk = page_up(brk), page_up(self.brk)
        if newbrk == oldbrk:
            self.brk = brk
            return brk
        if brk <= self.brk:
            self.munmap_range(newbrk, oldbrk)
            self.brk = brk
            return brk
        nxt = self.vmas.find_vma(oldbrk)
        if newbrk > self.layout.task_size or (nxt is not None and newbrk + STACK_GUARD_GAP > nxt.start):
            return self.brk
        self.vmas.insert(VMA(oldbrk, newbrk, PROT.READ | PROT.WRITE, VM.HEAP))
        self.brk = brk
        return brk

    def expand_stack(self, addr: int) -> Optional[VMA]:
        """Compare Linux's expand_stack: grow a VM_GROWSDOWN VMA down to cover addr, or None."""
        vma = self.vmas.find_vma(addr)
        if vma is None or not vma.flags & VM.GROWSDOWN:
            return None
        new_start = page_down(addr)
        if vma.end - new_start > self.stack_rlimit:
            return None
        prev = self.vmas.prev_of(vma)
        if prev is not None and new_start - prev.end < STACK_GUARD_GAP and not prev.flags & VM.GROWSDOWN:
            return None
        vma.start = new_start
        self.vmas.replace(vma, [vma])
        return vma

    # --- views ------------------------------------------------------------------------------
    def is_heap(self, vma: VMA) -> bool:
        """Compare Linux's vma_is_initial_heap: the VMA overlapping [start_brk, brk)."""
        return vma.file is None and vma.start < self.brk and vma.end > self.start_brk

    def vma_name(self, vma: VMA) -> str:
        if vma.file is not None:
            return vma.file.path
        if self.is_heap(vma):
            return "[heap]"
        if vma.start <= self.start_stack < vma.end or vma.name == "[stack]":
            return "[stack]"
        return vma.name

    def check_invariants(self) -> None:
        """VMAs sorted/disjoint/aligned; every PTE inside a VMA with perms within the VMA's."""
        from .constants import prot_to_uc
        self.vmas.check()
        refs: Dict[int, int] = {}
        for vpn, pte in self.pt.items():
            vma = self.vmas.find(vpn << PAGE_SHIFT)
            assert vma is not None, f"PTE {vpn << PAGE_SHIFT:#x} outside every VMA"
            allowed = prot_to_uc(vma.prot)
            assert pte.perms & ~allowed == 0, f"PTE {vpn << PAGE_SHIFT:#x} perms exceed VMA"
            refs[pte.paddr] = refs.get(pte.paddr, 0) + 1
        for paddr, n in refs.items():
            assert self.frames.refcount.get(paddr, 0) >= n, f"frame {paddr:#x} under-counted"
        assert self.rss == sum(1 for p in self.pt.values() if p.kind != PageKind.ZERO)
