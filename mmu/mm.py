"""The address space of one process: Linux's mm_struct with its VMA operations.

Syscalls change VMAs only through these methods; each drops the page-table entries of the range
it changes and flushes the TLB. Only the fault path (mmu/fault.py) creates page-table entries
(mremap moves existing ones, as Linux's move_page_tables does).
"""
from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field, fields
from typing import Callable, Dict, List, Optional, Tuple

from emulator.errors import GuestFault, SyscallError
from syscalls.errno import Errno

from .constants import (ACCESS_READ, ACCESS_WRITE, LEGACY_MAP_MASK, MADV, MAP, MREMAP_DONTUNMAP,
                        MREMAP_FIXED, MREMAP_MAYMOVE, MS_ASYNC, MS_INVALIDATE, MS_SYNC,
                        PAGE_SHIFT, PAGE_SIZE, PROT, UC_PROT_WRITE, VM, VM_MARKS,
                        VM_MAY_DEFAULT,
                        page_down, page_offset, page_up, prot_to_uc)
from .fault import FaultEvent
from .frames import FrameAllocator, PhysicalMemory
from .pagecache import HostWindows, PageCache, fd_readable, fd_writable, host_resident
from .pagetable import PTE, PageKind, PageTable
from .vma import VMA, AddressSpace, MappedFile

MMAP_MIN_ADDR = 0x10000           # /proc/sys/vm/mmap_min_addr
STACK_GUARD_GAP = 256 * PAGE_SIZE  # Linux's stack_guard_gap
MIN_GAP = 128 << 20                # mmap_base(): at least 128 MB between stack and mmap_base
RLIMIT_STACK = 8 << 20
PMD_SIZE = 2 << 20                 # a huge page: THP alignment of large anonymous mappings
# After the ELF image the kernel maps [vvar], [vvar_vclock] and [vdso] (8 pages) top-down; pyexec
# has no vDSO but keeps that hole (reserve_vdso_area) so later mmaps land where they do natively.
VDSO_AREA = 8 * PAGE_SIZE
SHMEM_NAME = "/dev/zero (deleted)"  # what maps shows for MAP_SHARED|MAP_ANONYMOUS (shmem_zero_setup)


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

    @property
    def mmap_legacy_base(self) -> int:
        """TASK_UNMAPPED_BASE: where the bottom-up fallback search starts."""
        return page_up(self.task_size // 3)

    @property
    def compat(self) -> bool:
        """An i386 task (in_32bit_syscall): no MAP_32BIT, no THP alignment."""
        return self.task_size <= 1 << 32


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


@dataclass
class RssCounters:
    """Compare Linux's MM_ANONPAGES / MM_FILEPAGES / MM_SHMEMPAGES, in pages."""
    anon: int = 0
    file: int = 0
    shmem: int = 0

    @property
    def total(self) -> int:
        return self.anon + self.file + self.shmem


@dataclass
class VmCounters:
    """total_vm, data_vm, stack_vm, exec_vm, locked_vm (pages), as vm_stat_account keeps them."""
    total: int = 0
    data: int = 0
    stack: int = 0
    exec: int = 0
    locked: int = 0
    extra: Dict[str, int] = field(default_factory=dict)


def _noop() -> None:
    pass


def _has_cap_sys_rawio() -> bool:
    """Mapping below mmap_min_addr needs CAP_SYS_RAWIO (cap_mmap_addr); pyexec runs the guest
    with its own credentials."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) & (1 << 17))
    except OSError:
        pass
    return False


def is_exec_mapping(vma: VMA) -> bool:
    return bool(vma.prot & PROT.EXEC) and not vma.prot & PROT.WRITE \
        and not vma.flags & VM.GROWSDOWN


def is_stack_mapping(vma: VMA) -> bool:
    return bool(vma.flags & VM.GROWSDOWN)


def is_data_mapping(vma: VMA) -> bool:
    return bool(vma.prot & PROT.WRITE) and not vma.flags & (VM.SHARED | VM.GROWSDOWN)


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
        self.hiwater_vm = 0
        self.start_brk = self.brk = 0
        self.start_stack = 0
        self.start_code = self.end_code = 0     # set from the ELF image (VmExe, statm text)
        self.mmap_base = layout.mmap_base
        self.reserved: List[tuple[int, int]] = []   # holes no mmap may choose (the vDSO's)
        self.stack_rlimit = RLIMIT_STACK
        self.listeners: List[Callable[[FaultEvent], None]] = []
        self.origin = "cpu"      # set to "syscall" / "execve" while Python touches guest pages
        self.flush_tlb: Callable[[], None] = _noop
        self.cap_sys_rawio = _has_cap_sys_rawio()
        self._anon_vma_ids = itertools.count(1)
        # MAP_SHARED pages are the host's page cache when the physical memory can show host
        # memory (Unicorn); otherwise (unit tests) they are page-cache frames written back.
        map_host = getattr(phys, "map_host", None)
        self.windows: Optional[HostWindows] = None
        if map_host is not None:
            self.windows = HostWindows(map_host, max(pool_limit, 1 << 35))

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

    def _present_vpns(self, start: int, end: int) -> List[int]:
        lo, hi = start >> PAGE_SHIFT, end >> PAGE_SHIFT
        if hi - lo > len(self.pt):
            return sorted(v for v in self.pt if lo <= v < hi)
        return [v for v in range(lo, hi) if v in self.pt]

    def zap_range(self, start: int, end: int) -> None:
        """Compare Linux's zap_page_range: drop the PTEs of [start, end), release their frames."""
        for vpn in self._present_vpns(start, end):
            pte = self.pt.pop(vpn)
            if pte.kind != PageKind.ZERO:
                self.rss -= 1
            if pte.kind == PageKind.SHARED:
                continue         # the host's page-cache page: nothing to release or write
            self._writeback(vpn, pte)
            self.frames.put(pte.paddr)

    def _writeback(self, vpn: int, pte: PTE) -> None:
        """A MAP_SHARED writable file page goes back to the file when unmapped (only when the
        page is a page-cache frame, i.e. without HostWindows)."""
        vma = self.vmas.find(vpn << PAGE_SHIFT)
        if vma is not None and vma.shared and vma.file is not None and vma.prot & PROT.WRITE \
                and pte.kind == PageKind.FILE:
            off = vma.file_offset(vpn << PAGE_SHIFT)
            size = vma.file.size()
            if off < size:
                n = min(PAGE_SIZE, size - off)
                self.pagecache.write_back(vma.file, off, self.frames.phys.read(pte.paddr, n))

    def sync_range(self, start: int, end: int) -> None:
        """msync: write shared page-cache frames of [start, end) back to their files."""
        for vpn in self._present_vpns(start, end):
            self._writeback(vpn, self.pt[vpn])

    def anon_vma_prepare(self, vma: VMA) -> None:
        """Compare Linux's anon_vma_prepare + find_mergeable_anon_vma: the first anonymous page
        of a VMA gives it an anon_vma, borrowed from a compatible neighbour if there is one."""
        if vma.anon_vma is not None:
            return
        for other in (self.vmas.next_of(vma), self.vmas.prev_of(vma)):
            if other is None or other.anon_vma is None:
                continue
            a, b = (vma, other) if other.start >= vma.end else (other, vma)
            if a.end == b.start and a.file is None and b.file is None \
                    and a.vm_pgoff + len(a) == b.vm_pgoff and not (a.flags ^ b.flags) & ~VM_MARKS:
                vma.anon_vma = other.anon_vma
                return
        vma.anon_vma = next(self._anon_vma_ids)

    # --- address choice ----------------------------------------------------------------------
    def _busy(self) -> List[Tuple[int, int]]:
        """Occupied ranges, each VMA widened by its guard gap (vm_start_gap)."""
        return sorted([(v.start - (STACK_GUARD_GAP if v.flags & VM.GROWSDOWN else 0), v.end)
                       for v in self.vmas] + self.reserved)

    def _gaps(self, low: int, high: int) -> List[Tuple[int, int]]:
        gaps = []
        prev_end = 0
        for start, end in self._busy():
            if start > prev_end:
                gaps.append((prev_end, start))
            prev_end = max(prev_end, end)
        gaps.append((prev_end, self.layout.task_size))
        return [(max(a, low), min(b, high)) for a, b in gaps if min(b, high) > max(a, low)]

    def _unmapped_area(self, length: int, low: int, high: int, topdown: bool) -> Optional[int]:
        """Compare Linux's vm_unmapped_area: the highest (top-down) or lowest fitting gap."""
        gaps = self._gaps(low, high)
        for a, b in (reversed(gaps) if topdown else gaps):
            if b - a >= length:
                return b - length if topdown else a
        return None

    def _hint_free(self, addr: int, length: int) -> bool:
        """The hint test of arch_get_unmapped_area(_topdown): no VMA, nor a VMA's guard gap."""
        if addr + length > self.layout.task_size:
            return False
        return all(e <= addr or s >= addr + length for s, e in self._busy())

    def get_unmapped_area(self, length: int, hint: int = 0, low: int = MMAP_MIN_ADDR,
                          high: Optional[int] = None, topdown: bool = True,
                          flags: int = 0, thp_off: Optional[int] = None) -> int:
        """Compare Linux's __get_unmapped_area + arch_get_unmapped_area_topdown (x86).

        `thp_off`: the mapping may be placed on a 2 MB boundary (thp_get_unmapped_area), with
        that file offset (0 for anonymous memory).
        """
        task_size = self.layout.task_size
        if length > task_size:
            raise SyscallError(Errno.ENOMEM)
        if flags & MAP._32BIT and not self.layout.compat:
            # MAP_32BIT: bottom-up in the first 2 GB (find_start_end).
            return self._bottom_up(length, hint, 0x40000000, 0x80000000)
        if hint:
            hint = page_down(hint)
            if task_size - length >= hint and self._hint_free(hint, length):
                return hint
        high = self.mmap_base if high is None else high
        if thp_off is not None and not self.layout.compat:
            addr = self._thp_area(length, thp_off, low, high)
            if addr is not None:
                return addr
        addr = self._unmapped_area(length, max(low, PAGE_SIZE), high, topdown)
        if addr is not None:
            return addr
        if topdown:
            # Compare Linux: fall back to a bottom-up search from TASK_UNMAPPED_BASE.
            return self._bottom_up(length, hint, self.layout.mmap_legacy_base, task_size)
        raise SyscallError(Errno.ENOMEM)

    def _bottom_up(self, length: int, hint: int, begin: int, end: int) -> int:
        """Compare Linux's arch_get_unmapped_area (bottom-up)."""
        if length > end:
            raise SyscallError(Errno.ENOMEM)
        if hint:
            hint = page_up(hint)
            if end - length >= hint and self._hint_free(hint, length):
                return hint
        addr = self._unmapped_area(length, begin, end, topdown=False)
        if addr is None:
            raise SyscallError(Errno.ENOMEM)
        return addr

    def _thp_area(self, length: int, off: int, low: int, high: int) -> Optional[int]:
        """Compare Linux's __thp_get_unmapped_area: search length + 2 MB, then align."""
        off_align = (off + PMD_SIZE - 1) & ~(PMD_SIZE - 1)
        if off + length <= off_align or off + length - off_align < PMD_SIZE:
            return None
        ret = self._unmapped_area(length + PMD_SIZE, max(low, PAGE_SIZE), high, topdown=True)
        if ret is None:
            return None
        off_sub = (off - ret) & (PMD_SIZE - 1)
        return ret + PMD_SIZE if off_sub == 0 else ret + off_sub

    def _range_free(self, start: int, end: int) -> bool:
        return self.vmas.is_free(start, end) and all(e <= start or s >= end
                                                     for s, e in self.reserved)

    def reserve_vdso_area(self) -> int:
        """Keep the range where Linux's arch_setup_additional_pages would map the vDSO."""
        start = self.get_unmapped_area(VDSO_AREA)
        self.reserved.append((start, start + VDSO_AREA))
        return start

    def _unreserve(self, start: int, end: int) -> None:
        """MAP_FIXED or munmap over the vDSO's place removes it, as it would the vDSO."""
        out = []
        for s, e in self.reserved:
            if e <= start or s >= end:
                out.append((s, e))
                continue
            if s < start:
                out.append((s, start))
            if e > end:
                out.append((end, e))
        self.reserved = out

    # --- creating and removing VMAs ----------------------------------------------------------
    def mmap_region(self, addr: int, length: int, prot: PROT, flags: VM = VM.NONE,
                    file: Optional[MappedFile] = None, pgoff: int = 0,
                    file_end: Optional[int] = None, name: str = "") -> VMA:
        """Compare Linux's mmap_region: replace whatever is in [addr, addr+length) by a new VMA.

        The VM_MAY* bits, VM_MAYSHARE and VM_ACCOUNT are added as do_mmap/mmap_region would.
        """
        flags = VM(flags) | VM_MAY_DEFAULT
        if flags & VM.SHARED:
            flags |= VM.MAYSHARE
        if not flags & (VM.NORESERVE | VM.SHARED | VM.MAYSHARE) and prot & PROT.WRITE:
            flags |= VM.ACCOUNT          # accountable_mapping
        return self._map(VMA(addr, addr + length, PROT(prot), flags, file, pgoff, file_end, name))

    def _map(self, vma: VMA) -> VMA:
        self.munmap_range(vma.start, vma.end)
        self._unreserve(vma.start, vma.end)
        if vma.file is not None and vma.mayshare and self.windows is not None:
            self.windows.ensure(vma.file, vma.pgoff, vma.pgoff + len(vma), vma.shared)
        merged = self.vmas.insert(vma)
        self._update_hiwater()
        return merged

    def munmap_range(self, start: int, end: int) -> None:
        if not self.vmas.overlapping(start, end):
            return
        self.zap_range(start, end)
        self.vmas.unmap(start, end)
        self.flush_tlb()

    def do_munmap(self, addr: int, length: int) -> int:
        """Compare Linux's do_vmi_munmap: EINVAL for a bad range, holes are fine."""
        if page_offset(addr) or addr > self.layout.task_size or length == 0:
            raise SyscallError(Errno.EINVAL)
        if length > self.layout.task_size - addr:
            raise SyscallError(Errno.EINVAL)
        length = page_up(length)
        self.munmap_range(addr, addr + length)
        self._unreserve(addr, addr + length)
        return 0

    def do_mmap(self, addr: int, length: int, prot: int, flags: int,
                file: Optional[MappedFile], offset: int) -> int:
        """Compare Linux's do_mmap: validate, choose the address, create the VMA. No page is read
        (unless MAP_POPULATE / MAP_LOCKED ask for it)."""
        if length == 0:
            raise SyscallError(Errno.EINVAL)
        if flags & MAP.ANONYMOUS:
            file = None
        if flags & MAP.FIXED_NOREPLACE:
            flags |= MAP.FIXED
        fixed = bool(flags & MAP.FIXED)
        if not fixed and addr and addr < MMAP_MIN_ADDR:
            addr = page_up(MMAP_MIN_ADDR)          # round_hint_to_min
        elif not fixed:
            addr = page_down(addr)
        length = page_up(length)
        if length == 0 or length > self.layout.task_size:
            raise SyscallError(Errno.ENOMEM)
        if file is not None and (offset >> PAGE_SHIFT) + (length >> PAGE_SHIFT) >= 1 << 64:
            raise SyscallError(Errno.EOVERFLOW)
        maptype = flags & MAP.TYPE
        if file is None and flags & MAP.HUGETLB:
            raise SyscallError(Errno.ENOMEM)       # no huge pages reserved (nr_hugepages = 0)
        if file is not None and flags & MAP.HUGETLB:
            raise SyscallError(Errno.EINVAL)

        # __get_unmapped_area
        if fixed:
            if addr > self.layout.task_size - length:
                raise SyscallError(Errno.ENOMEM)
            if page_offset(addr):
                raise SyscallError(Errno.EINVAL)
            if addr < MMAP_MIN_ADDR and not self.cap_sys_rawio:
                raise SyscallError(Errno.EPERM)
        else:
            thp = None
            if file is None and maptype == MAP.PRIVATE and not addr and length % PMD_SIZE == 0:
                thp = 0
            elif file is not None:
                thp = offset
            addr = self.get_unmapped_area(length, addr, flags=flags, thp_off=thp)
        if flags & MAP.FIXED_NOREPLACE and not self._range_free(addr, addr + length):
            raise SyscallError(Errno.EEXIST)

        vmflags = VM_MAY_DEFAULT
        map_sync = bool(flags & MAP.SYNC)
        if file is not None:
            if maptype == MAP.SHARED:
                flags &= LEGACY_MAP_MASK
            if maptype in (MAP.SHARED, MAP.SHARED_VALIDATE):
                if flags & ~LEGACY_MAP_MASK:
                    raise SyscallError(Errno.EOPNOTSUPP)
                writable = fd_writable(file.fd)
                if prot & PROT.WRITE and not writable:
                    raise SyscallError(Errno.EACCES)
                vmflags |= VM.SHARED | VM.MAYSHARE
                if not writable:
                    vmflags &= ~(VM.MAYWRITE | VM.SHARED)
            elif maptype != MAP.PRIVATE:
                raise SyscallError(Errno.EINVAL)
            if not fd_readable(file.fd):
                raise SyscallError(Errno.EACCES)
            if flags & MAP.GROWSDOWN:
                raise SyscallError(Errno.EINVAL)
            if map_sync:
                # VM_SYNC reaches the filesystem's mmap, which refuses it without DAX
                # (ext4_file_mmap: daxdev_mapping_supported).
                raise SyscallError(Errno.EOPNOTSUPP)
        else:
            if maptype == MAP.SHARED:
                if flags & MAP.GROWSDOWN:
                    raise SyscallError(Errno.EINVAL)
                vmflags |= VM.SHARED | VM.MAYSHARE
                file = self._shmem_file(length)
                offset = 0
            elif maptype != MAP.PRIVATE:
                raise SyscallError(Errno.EINVAL)
            else:
                offset = 0
        if flags & MAP.GROWSDOWN:
            vmflags |= VM.GROWSDOWN
        if flags & MAP.NORESERVE:
            vmflags |= VM.NORESERVE
        if flags & MAP.LOCKED:
            vmflags |= VM.LOCKED
        if flags & MAP.STACK:
            vmflags |= VM.NOHUGEPAGE                   # calc_vm_flag_bits: MAP_STACK
        if not vmflags & (VM.NORESERVE | VM.SHARED) and prot & PROT.WRITE and \
                (file is None or not vmflags & VM.MAYSHARE):
            vmflags |= VM.ACCOUNT                      # accountable_mapping
        vma = VMA(addr, addr + length, PROT(prot & 7), vmflags, file, offset if file else 0)
        self._map(vma)
        if flags & (MAP.POPULATE | MAP.LOCKED) and not flags & MAP.NONBLOCK:
            self.populate(addr, addr + length)
        return addr

    def _shmem_file(self, length: int) -> MappedFile:
        """MAP_SHARED|MAP_ANONYMOUS: a shmem object of its own (Linux's shmem_zero_setup), here
        a host memfd, so its pages survive MADV_DONTNEED and mremap as on Linux."""
        fd = os.memfd_create("dev/zero", os.MFD_CLOEXEC)
        os.ftruncate(fd, length)
        st = os.fstat(fd)
        return MappedFile(SHMEM_NAME, fd, st.st_dev, st.st_ino)

    def populate(self, start: int, end: int, write: Optional[bool] = None) -> None:
        """Compare Linux's __mm_populate: fault every page in (errors are ignored); private
        writable mappings are populated with write faults."""
        from .fault import handle_mm_fault
        outer, self.origin = self.origin, "syscall"
        try:
            for page in range(start, end, PAGE_SIZE):
                vma = self.vmas.find(page)
                if vma is None or not vma.accessible:
                    continue
                w = write if write is not None else \
                    bool(vma.prot & PROT.WRITE) and not vma.flags & VM.SHARED
                pte = self.pt.get(page >> PAGE_SHIFT)
                if pte is not None and (not w or pte.perms & UC_PROT_WRITE):
                    continue
                try:
                    handle_mm_fault(self, page, ACCESS_WRITE if w else ACCESS_READ)
                except GuestFault:
                    break
        finally:
            self.origin = outer
        self.flush_tlb()

    # --- mprotect ------------------------------------------------------------------------------
    def do_mprotect(self, start: int, length: int, prot: int) -> int:
        """Compare Linux's do_mprotect_pkey + mprotect_fixup: split, change, merge again.

        As on Linux, the VMAs before a hole are changed before ENOMEM is returned.
        """
        grows = prot & (PROT.GROWSDOWN | PROT.GROWSUP)
        prot &= ~(PROT.GROWSDOWN | PROT.GROWSUP)
        if grows == PROT.GROWSDOWN | PROT.GROWSUP:
            raise SyscallError(Errno.EINVAL)
        if page_offset(start):
            raise SyscallError(Errno.EINVAL)
        if not length:
            return 0
        length = page_up(length)
        end = start + length
        if end <= start:
            raise SyscallError(Errno.ENOMEM)
        if prot & ~(PROT.READ | PROT.WRITE | PROT.EXEC | 0x8):    # PROT_SEM is valid
            raise SyscallError(Errno.EINVAL)
        vma = self.vmas.find_vma(start)
        if vma is None or vma.start >= end:
            raise SyscallError(Errno.ENOMEM)
        if grows & PROT.GROWSDOWN:
            if not vma.flags & VM.GROWSDOWN:
                raise SyscallError(Errno.EINVAL)
            start = vma.start
        elif vma.start > start:
            raise SyscallError(Errno.ENOMEM)
        elif grows & PROT.GROWSUP:
            raise SyscallError(Errno.EINVAL)
        newprot = PROT(prot & 7)
        nstart = start
        error: Optional[int] = None
        try:
            while nstart < end:
                vma = self.vmas.find(nstart)
                if vma is None:
                    error = Errno.ENOMEM
                    break
                if newprot & ~self._may(vma):
                    error = Errno.EACCES
                    break
                tmp = min(vma.end, end)
                self._mprotect_fixup(vma, nstart, tmp, newprot)
                nstart = tmp
        finally:
            self._refresh_ptes(start, nstart)
            self.flush_tlb()
        if error is not None:
            raise SyscallError(error)
        return 0

    @staticmethod
    def _may(vma: VMA) -> PROT:
        may = PROT.NONE
        if vma.flags & VM.MAYREAD:
            may |= PROT.READ
        if vma.flags & VM.MAYWRITE:
            may |= PROT.WRITE
        if vma.flags & VM.MAYEXEC:
            may |= PROT.EXEC
        return may

    def _mprotect_fixup(self, vma: VMA, start: int, end: int, newprot: PROT) -> None:
        newflags = vma.flags
        if newprot & PROT.WRITE:
            if not (vma.flags & (VM.ACCOUNT | VM.SHARED | VM.NORESERVE)) \
                    and not vma.prot & PROT.WRITE:
                newflags |= VM.ACCOUNT
        elif vma.flags & VM.ACCOUNT and vma.file is None and vma.anon_vma is None:
            newflags &= ~VM.ACCOUNT
        def change(v: VMA) -> None:
            v.prot = newprot
            v.flags = newflags
        self._modify(vma, start, end, change)

    def _modify(self, vma: VMA, start: int, end: int, change: Callable[[VMA], object]) -> VMA:
        """Compare Linux's vma_modify: split off [start, end) of vma, change it, merge it."""
        if vma.start < start:
            low, high = vma.split_at(start)
            self.vmas.replace(vma, [low, high])
            vma = high
        if vma.end > end:
            low, high = vma.split_at(end)
            self.vmas.replace(vma, [low, high])
            vma = low
        change(vma)
        return self.vmas.merge_around(vma)

    def _refresh_ptes(self, start: int, end: int) -> None:
        """Re-derive TLB perms of present pages from their (changed) VMA."""
        for vpn in self._present_vpns(start, end):
            pte = self.pt[vpn]
            vma = self.vmas.find(vpn << PAGE_SHIFT)
            assert vma is not None
            perms = prot_to_uc(vma.prot)
            pte.perms = perms & ~UC_PROT_WRITE if pte.cow else perms

    # --- mremap --------------------------------------------------------------------------------
    def do_mremap(self, addr: int, old_len: int, new_len: int, flags: int,
                  new_addr: int = 0) -> int:
        """Compare Linux's mremap: shrink in place, grow in place, or move the pages (their PTEs
        and frames move; nothing is copied)."""
        task_size = self.layout.task_size
        if flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP):
            raise SyscallError(Errno.EINVAL)
        if flags & MREMAP_FIXED and not flags & MREMAP_MAYMOVE:
            raise SyscallError(Errno.EINVAL)
        if flags & MREMAP_DONTUNMAP and (not flags & MREMAP_MAYMOVE or old_len != new_len):
            raise SyscallError(Errno.EINVAL)
        if page_offset(addr):
            raise SyscallError(Errno.EINVAL)
        old_len, new_len = page_up(old_len), page_up(new_len)
        if not new_len:
            raise SyscallError(Errno.EINVAL)
        if new_len > task_size or addr > task_size - old_len:
            raise SyscallError(Errno.EINVAL if flags & MREMAP_FIXED else Errno.ENOMEM)
        vma = self.vmas.find(addr)
        if vma is None:
            raise SyscallError(Errno.EFAULT)
        if old_len == 0:
            # Duplicating a shared mapping is not supported; a private one is EINVAL on Linux.
            raise SyscallError(Errno.EINVAL)
        if flags & MREMAP_FIXED:
            return self._mremap_to(addr, old_len, new_addr, new_len, flags)
        if old_len >= new_len:
            if old_len > new_len:
                self.munmap_range(addr + new_len, addr + old_len)
            return addr
        vma = self._vma_to_resize(addr, old_len)
        delta = new_len - old_len
        if old_len == vma.end - addr and vma.end + delta <= task_size \
                and self._range_free(vma.end, vma.end + delta) \
                and not flags & MREMAP_DONTUNMAP:
            # Grow in place (vma_expandable + vma_merge_extend).
            if vma.file is not None and vma.mayshare and self.windows is not None:
                self.windows.ensure(vma.file, vma.pgoff, vma.pgoff + len(vma) + delta, vma.shared)
            vma.end += delta
            self.vmas.replace(vma, [vma])
            self.vmas.merge_around(vma)
            self._update_hiwater()
            if vma.flags & VM.LOCKED:
                self.populate(addr + old_len, addr + new_len)
            return addr
        if not flags & MREMAP_MAYMOVE:
            raise SyscallError(Errno.ENOMEM)
        map_flags = MAP.SHARED if vma.mayshare else 0
        thp = None
        if vma.file is None and not vma.mayshare and new_len % PMD_SIZE == 0:
            thp = 0
        elif vma.file is not None:
            thp = vma.file_offset(addr)
        target = self.get_unmapped_area(new_len, 0, flags=map_flags, thp_off=thp)
        return self._move_vma(vma, addr, old_len, new_len, target, flags)

    def _vma_to_resize(self, addr: int, old_len: int) -> VMA:
        vma = self.vmas.find(addr)
        if vma is None or old_len > vma.end - addr:
            raise SyscallError(Errno.EFAULT)
        if vma.flags & VM.DONTEXPAND:
            raise SyscallError(Errno.EFAULT)
        return vma

    def _mremap_to(self, addr: int, old_len: int, new_addr: int, new_len: int, flags: int) -> int:
        task_size = self.layout.task_size
        if page_offset(new_addr):
            raise SyscallError(Errno.EINVAL)
        if new_len > task_size or new_addr > task_size - new_len:
            raise SyscallError(Errno.EINVAL)
        if addr + old_len > new_addr and new_addr + new_len > addr:
            raise SyscallError(Errno.EINVAL)        # overlapping ranges
        self.munmap_range(new_addr, new_addr + new_len)
        self._unreserve(new_addr, new_addr + new_len)
        if old_len > new_len:
            self.munmap_range(addr + new_len, addr + old_len)
            old_len = new_len
        vma = self._vma_to_resize(addr, old_len)
        return self._move_vma(vma, addr, old_len, new_len, new_addr, flags)

    def _move_vma(self, vma: VMA, old_addr: int, old_len: int, new_len: int, new_addr: int,
                  flags: int) -> int:
        """Compare Linux's move_vma: copy_vma at the new place, move_page_tables, unmap the old
        range (unless MREMAP_DONTUNMAP)."""
        delta = old_addr - vma.start
        # copy_vma: a faulted anonymous VMA keeps its vm_pgoff (so it will not merge with
        # neighbours at the new place); an unfaulted one gets the new address's.
        anon_pgoff: Optional[int] = None
        if vma.file is None and vma.anon_vma is not None:
            anon_pgoff = vma.vm_pgoff + delta
        new = VMA(new_addr, new_addr + new_len, vma.prot, vma.flags, vma.file,
                  vma.pgoff + delta if vma.file is not None else 0,
                  vma.file_end, vma.name, vma.anon_vma, anon_pgoff)
        if new.anon_pgoff == new.start:
            new.anon_pgoff = None
        new.flags &= ~VM_MARKS
        moved: List[Tuple[int, PTE]] = []
        for vpn in self._present_vpns(old_addr, old_addr + old_len):
            moved.append((vpn - (old_addr >> PAGE_SHIFT), self.pt.pop(vpn)))
            if moved[-1][1].kind != PageKind.ZERO:
                self.rss -= 1
        if not flags & MREMAP_DONTUNMAP:
            self.vmas.unmap(old_addr, old_addr + old_len)
        self.munmap_range(new_addr, new_addr + new_len)
        if new.file is not None and new.mayshare and self.windows is not None:
            self.windows.ensure(new.file, new.pgoff, new.pgoff + new_len, new.shared)
        self.vmas.insert(new)
        base = new_addr >> PAGE_SHIFT
        for rel, pte in moved:
            self.set_pte(base + rel, pte)
        self._update_hiwater()
        self.flush_tlb()
        return new_addr

    # --- madvise, msync, mincore ------------------------------------------------------------
    def do_madvise(self, start: int, len_in: int, advice: int) -> int:
        """Compare Linux's do_madvise + madvise_walk_vmas: the advice is applied to the mapped
        parts of the range; a hole anywhere makes the result ENOMEM."""
        try:
            behavior = MADV(advice)
        except ValueError:
            raise SyscallError(Errno.EINVAL) from None
        if page_offset(start):
            raise SyscallError(Errno.EINVAL)
        length = page_up(len_in)
        if len_in and not length:
            raise SyscallError(Errno.EINVAL)
        end = start + length
        if end < start:
            raise SyscallError(Errno.EINVAL)
        if end == start:
            return 0
        if behavior in (MADV.MERGEABLE, MADV.UNMERGEABLE) and not os.path.isdir("/sys/kernel/mm/ksm"):
            raise SyscallError(Errno.EINVAL)
        unmapped = False
        pos = start
        while pos < end:
            vma = self.vmas.find_vma(pos)
            if vma is None or vma.start >= end:
                if pos == start and vma is None:
                    raise SyscallError(Errno.ENOMEM)
                unmapped = True
                break
            if vma.start > pos:
                unmapped = True
                pos = vma.start
            tmp = min(vma.end, end)
            self._madvise_vma(vma, pos, tmp, behavior)
            pos = tmp
        if unmapped:
            raise SyscallError(Errno.ENOMEM)
        return 0

    _MADV_SET = {MADV.RANDOM: (VM.RAND_READ, VM.SEQ_READ), MADV.SEQUENTIAL: (VM.SEQ_READ, VM.RAND_READ),
                 MADV.NORMAL: (VM.NONE, VM.SEQ_READ | VM.RAND_READ),
                 MADV.DONTFORK: (VM.DONTCOPY, VM.NONE), MADV.DOFORK: (VM.NONE, VM.DONTCOPY),
                 MADV.DONTDUMP: (VM.DONTDUMP, VM.NONE), MADV.DODUMP: (VM.NONE, VM.DONTDUMP),
                 MADV.WIPEONFORK: (VM.WIPEONFORK, VM.NONE), MADV.KEEPONFORK: (VM.NONE, VM.WIPEONFORK),
                 MADV.HUGEPAGE: (VM.HUGEPAGE, VM.NOHUGEPAGE), MADV.NOHUGEPAGE: (VM.NOHUGEPAGE, VM.HUGEPAGE),
                 MADV.MERGEABLE: (VM.MERGEABLE, VM.NONE), MADV.UNMERGEABLE: (VM.NONE, VM.MERGEABLE)}

    def _madvise_vma(self, vma: VMA, start: int, end: int, behavior: MADV) -> VMA:
        if behavior in (MADV.DONTNEED, MADV.DONTNEED_LOCKED):
            if vma.flags & VM.LOCKED and behavior == MADV.DONTNEED:
                raise SyscallError(Errno.EINVAL)
            self.zap_range(start, end)
            self.flush_tlb()
            return vma
        if behavior == MADV.FREE:
            if vma.file is not None or vma.mayshare:
                raise SyscallError(Errno.EINVAL)
            return vma        # lazily freed: the contents stay until memory is short
        if behavior == MADV.REMOVE:
            if vma.flags & VM.LOCKED:
                raise SyscallError(Errno.EINVAL)
            if vma.file is None or not vma.shared:
                raise SyscallError(Errno.EACCES)
            raise SyscallError(Errno.EOPNOTSUPP)
        if behavior in (MADV.POPULATE_READ, MADV.POPULATE_WRITE):
            write = behavior == MADV.POPULATE_WRITE
            if not vma.accessible or (write and not vma.prot & PROT.WRITE):
                raise SyscallError(Errno.EFAULT if not vma.accessible else Errno.EFAULT)
            self.populate(start, end, write)
            return vma
        if behavior == MADV.WIPEONFORK and (vma.file is not None or vma.mayshare):
            raise SyscallError(Errno.EINVAL)
        change = self._MADV_SET.get(behavior)
        if change is None:
            return vma        # WILLNEED, COLD, PAGEOUT, COLLAPSE: hints only
        add, remove = change
        newflags = (vma.flags | add) & ~remove
        if newflags == vma.flags:
            return vma
        return self._modify(vma, start, end, lambda v: setattr(v, "flags", newflags))

    def do_msync(self, start: int, length: int, flags: int) -> int:
        """Compare Linux's sys_msync: shared file pages go back to the file; ENOMEM for holes."""
        if flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC):
            raise SyscallError(Errno.EINVAL)
        if page_offset(start):
            raise SyscallError(Errno.EINVAL)
        if flags & MS_ASYNC and flags & MS_SYNC:
            raise SyscallError(Errno.EINVAL)
        end = start + page_up(length)
        if end < start:
            raise SyscallError(Errno.ENOMEM)
        if end == start:
            return 0
        unmapped = False
        pos = start
        while pos < end:
            vma = self.vmas.find_vma(pos)
            if vma is None:
                raise SyscallError(Errno.ENOMEM)
            if vma.start >= end:
                unmapped = True
                break
            if vma.start > pos:
                unmapped = True
                pos = vma.start
            if flags & MS_INVALIDATE and vma.flags & VM.LOCKED:
                raise SyscallError(Errno.EBUSY)
            tmp = min(vma.end, end)
            if vma.file is not None and vma.shared:
                self.sync_range(pos, tmp)
            pos = tmp
        if unmapped:
            raise SyscallError(Errno.ENOMEM)
        return 0

    def do_mincore(self, start: int, length: int) -> bytes:
        """Compare Linux's mincore: residency from the page table; for file VMAs a page not
        mapped here is resident when it is in the (host's) page cache. ENOMEM on a hole."""
        vec, err = self.mincore_vec(start, length)
        if err is not None:
            raise SyscallError(err)
        return vec

    def mincore_vec(self, start: int, length: int) -> Tuple[bytes, Optional[int]]:
        """(the vector up to the first hole, ENOMEM if there is one): Linux writes the part
        before the hole to user memory, then fails."""
        if page_offset(start):
            raise SyscallError(Errno.EINVAL)
        if length > self.layout.task_size or start > self.layout.task_size - length:
            raise SyscallError(Errno.ENOMEM)
        npages = (length + PAGE_SIZE - 1) >> PAGE_SHIFT
        out = bytearray()
        addr = start
        end = start + npages * PAGE_SIZE
        while addr < end:
            vma = self.vmas.find(addr)
            if vma is None:
                return bytes(out), Errno.ENOMEM
            tmp = min(vma.end, end)
            vpns = range(addr >> PAGE_SHIFT, tmp >> PAGE_SHIFT)
            if vma.file is not None:
                cached = host_resident(vma.file.fd, vma.file_offset(addr), len(vpns))
                out += bytes(1 if (v in self.pt or c) else 0 for v, c in zip(vpns, cached))
            else:
                out += bytes(1 if v in self.pt else 0 for v in vpns)
            addr = tmp
        return bytes(out), None

    # --- brk and the stack ----------------------------------------------------------------------
    def do_brk(self, brk: int) -> int:
        """Compare Linux's sys_brk: on failure the current break is returned unchanged."""
        if brk < self.start_brk:
            return self.brk
        newbrk, oldbrk = page_up(brk), page_up(self.brk)
        if newbrk == oldbrk:
            self.brk = brk
            return brk
        if brk <= self.brk:
            # Always allow shrinking brk (unless something else is mapped there).
            brkvma = self.vmas.find_vma(newbrk)
            if brkvma is None or brkvma.start >= oldbrk:
                return self.brk
            self.brk = brk
            self.munmap_range(newbrk, oldbrk)
            return brk
        if newbrk > self.layout.task_size:
            return self.brk
        nxt = self.vmas.find_vma(oldbrk)
        if nxt is not None:
            gap_start = nxt.start - (STACK_GUARD_GAP if nxt.flags & VM.GROWSDOWN else 0)
            if newbrk + PAGE_SIZE > gap_start:
                return self.brk
        if not self._range_free(oldbrk, newbrk):
            return self.brk
        # do_brk_flags: extend the brk VMA below (vma_prev_limit(start_brk)) or make a new one.
        prev = self.vmas.find_vma(oldbrk - 1) if oldbrk else None
        flags = VM_MAY_DEFAULT | VM.ACCOUNT | VM.HEAP
        if prev is not None and prev.end == oldbrk and prev.start >= self.start_brk \
                and prev.file is None and prev.prot == PROT.READ | PROT.WRITE \
                and not (prev.flags ^ flags) & ~(VM.HEAP | VM.STACK):
            prev.end = newbrk
            self.vmas.replace(prev, [prev])
        else:
            self.vmas.insert(VMA(oldbrk, newbrk, PROT.READ | PROT.WRITE, flags), merge=False)
        self.brk = brk
        self._update_hiwater()
        return brk

    def expand_stack(self, addr: int) -> Optional[VMA]:
        """Compare Linux's expand_stack/expand_downwards: grow a VM_GROWSDOWN VMA down to cover
        addr, or None (the fault is then SIGSEGV)."""
        vma = self.vmas.find_vma(addr)
        if vma is None or not vma.flags & VM.GROWSDOWN:
            return None
        new_start = page_down(addr)
        if new_start < MMAP_MIN_ADDR:
            return None
        prev = self.vmas.prev_of(vma)
        if prev is not None and not prev.flags & VM.GROWSDOWN and prev.accessible \
                and new_start - prev.end < STACK_GUARD_GAP:
            return None
        if prev is not None and prev.end > new_start:
            return None
        if vma.end - new_start > self.stack_rlimit:
            return None
        if vma.anon_pgoff is not None:
            vma.anon_pgoff -= vma.start - new_start
        vma.start = new_start
        self.vmas.replace(vma, [vma])
        self._update_hiwater()
        return vma

    # --- accounting and views -----------------------------------------------------------------
    def vm_counters(self) -> VmCounters:
        """Compare Linux's vm_stat_account: total/data/stack/exec/locked, in pages."""
        c = VmCounters()
        for v in self.vmas:
            n = len(v) >> PAGE_SHIFT
            c.total += n
            if is_exec_mapping(v):
                c.exec += n
            elif is_stack_mapping(v):
                c.stack += n
            elif is_data_mapping(v):
                c.data += n
            if v.flags & VM.LOCKED:
                c.locked += n
        return c

    def _update_hiwater(self) -> None:
        total = sum(len(v) for v in self.vmas) >> PAGE_SHIFT
        if total > self.hiwater_vm:
            self.hiwater_vm = total

    def page_is_anon(self, vma: VMA, pte: PTE) -> bool:
        return pte.kind in (PageKind.ANON, PageKind.COW, PageKind.STACK, PageKind.FILE_PRIVATE) \
            and not (vma.mayshare and vma.file is not None)

    def rss_counters(self, start: int = 0, end: Optional[int] = None) -> RssCounters:
        """Resident pages by kind (anon / file / shmem) in [start, end)."""
        c = RssCounters()
        end = self.layout.task_size if end is None else end
        for vpn in self._present_vpns(start, end):
            pte = self.pt[vpn]
            if pte.kind == PageKind.ZERO:
                continue
            vma = self.vmas.find(vpn << PAGE_SHIFT)
            if vma is not None and vma.file is not None and vma.file.path == SHMEM_NAME \
                    and vma.mayshare:
                c.shmem += 1
            elif vma is not None and self.page_is_anon(vma, pte):
                c.anon += 1
            else:
                c.file += 1
        return c

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
        self.vmas.check()
        refs: Dict[int, int] = {}
        for vpn, pte in self.pt.items():
            vma = self.vmas.find(vpn << PAGE_SHIFT)
            assert vma is not None, f"PTE {vpn << PAGE_SHIFT:#x} outside every VMA"
            allowed = prot_to_uc(vma.prot)
            assert pte.perms & ~allowed == 0, f"PTE {vpn << PAGE_SHIFT:#x} perms exceed VMA"
            if pte.kind != PageKind.SHARED:
                refs[pte.paddr] = refs.get(pte.paddr, 0) + 1
        for paddr, n in refs.items():
            assert self.frames.refcount.get(paddr, 0) >= n, f"frame {paddr:#x} under-counted"
        assert self.rss == sum(1 for p in self.pt.values() if p.kind != PageKind.ZERO)
