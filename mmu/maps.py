"""/proc/<pid>/maps, smaps, status and statm in the kernel's exact formats.

Compare Linux's fs/proc/task_mmu.c (show_map_vma, show_smap, task_mem, task_statm).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from .constants import PAGE_SHIFT, PAGE_SIZE, PROT, VM, VM_MNEMONICS
from .pagetable import PageKind

if TYPE_CHECKING:
    from .mm import MM
    from .vma import VMA

NAME_COLUMN = 72   # seq_setwidth(m, 25 + sizeof(void *) * 6 - 1), then one space
PSS_SHIFT = 12


def perms_str(vma: "VMA") -> str:
    p = vma.prot
    return ("r" if p & PROT.READ else "-") + ("w" if p & PROT.WRITE else "-") + \
        ("x" if p & PROT.EXEC else "-") + ("s" if vma.mayshare else "p")


def maps_line(mm: "MM", vma: "VMA") -> str:
    if vma.file is not None:
        pgoff, dev, ino = vma.pgoff, vma.file.dev, vma.file.ino
    else:
        pgoff, dev, ino = 0, 0, 0
    line = (f"{vma.start:08x}-{vma.end:08x} {perms_str(vma)} {pgoff:08x} "
            f"{os.major(dev):02x}:{os.minor(dev):02x} {ino} ")
    name = mm.vma_name(vma)
    if name:
        line = line.ljust(NAME_COLUMN) + " " + name
    return line


def render_maps(mm: "MM") -> str:
    return "".join(maps_line(mm, vma) + "\n" for vma in mm.vmas)


# --- smaps ------------------------------------------------------------------------------------

@dataclass
class MemSize:
    """Compare Linux's struct mem_size_stats (bytes; pss with PSS_SHIFT fraction bits)."""
    resident: int = 0
    pss: int = 0
    pss_dirty: int = 0
    shared_clean: int = 0
    shared_dirty: int = 0
    private_clean: int = 0
    private_dirty: int = 0
    referenced: int = 0
    anonymous: int = 0
    locked_pss: int = 0

    def add(self, other: "MemSize") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _mapcounts(mm: "MM") -> Dict[int, int]:
    counts: Dict[int, int] = {}
    for pte in mm.pt.values():
        if pte.kind != PageKind.ZERO:
            counts[pte.paddr] = counts.get(pte.paddr, 0) + 1
    return counts


def smaps_stats(mm: "MM", vma: "VMA", mapcounts: Dict[int, int]) -> MemSize:
    """Compare smaps_pte_entry/smaps_account: the zero page is not counted; a page mapped by
    two PTEs is shared and each counts half of it in Pss."""
    m = MemSize()
    for vpn in mm._present_vpns(vma.start, vma.end):
        pte = mm.pt[vpn]
        if pte.kind == PageKind.ZERO:
            continue
        anon = mm.page_is_anon(vma, pte)
        dirty = anon
        mapcount = mapcounts.get(pte.paddr, 1)
        m.resident += PAGE_SIZE
        m.referenced += PAGE_SIZE
        if anon:
            m.anonymous += PAGE_SIZE
        pss = (PAGE_SIZE << PSS_SHIFT) // mapcount
        m.pss += pss
        if dirty:
            m.pss_dirty += pss
        if vma.flags & VM.LOCKED:
            m.locked_pss += pss
        if mapcount >= 2:
            if dirty:
                m.shared_dirty += PAGE_SIZE
            else:
                m.shared_clean += PAGE_SIZE
        elif dirty:
            m.private_dirty += PAGE_SIZE
        else:
            m.private_clean += PAGE_SIZE
    return m


def _kb(name: str, nbytes: int) -> str:
    """SEQ_PUT_DEC: the name, then the value in kB right-aligned in 8 columns."""
    return f"{name:<16}{nbytes >> 10:>8} kB\n"


def vm_flags_str(vma: "VMA") -> str:
    bits = int(vma.prot) | int(vma.flags)
    return "".join(f"{name} " for bit, name in VM_MNEMONICS if bits & int(bit))


def _thp_eligible(vma: "VMA") -> int:
    """THP is in `madvise` mode here: eligible only with MADV_HUGEPAGE and room for a huge page."""
    if not vma.flags & VM.HUGEPAGE or vma.flags & VM.NOHUGEPAGE or vma.file is not None:
        return 0
    first = (vma.start + (2 << 20) - 1) & ~((2 << 20) - 1)
    return 1 if first + (2 << 20) <= vma.end else 0


def _smaps_body(m: MemSize, size: int, rollup: bool = False) -> str:
    out = ""
    if not rollup:
        out += _kb("Size:", size) + _kb("KernelPageSize:", PAGE_SIZE) + _kb("MMUPageSize:", PAGE_SIZE)
    out += _kb("Rss:", m.resident) + _kb("Pss:", m.pss >> PSS_SHIFT)
    out += _kb("Pss_Dirty:", m.pss_dirty >> PSS_SHIFT)
    if rollup:
        out += _kb("Pss_Anon:", m.anonymous) + _kb("Pss_File:", (m.pss >> PSS_SHIFT) - m.anonymous)
        out += _kb("Pss_Shmem:", 0)
    out += _kb("Shared_Clean:", m.shared_clean) + _kb("Shared_Dirty:", m.shared_dirty)
    out += _kb("Private_Clean:", m.private_clean) + _kb("Private_Dirty:", m.private_dirty)
    out += _kb("Referenced:", m.referenced) + _kb("Anonymous:", m.anonymous)
    out += _kb("KSM:", 0) + _kb("LazyFree:", 0) + _kb("AnonHugePages:", 0)
    out += _kb("ShmemPmdMapped:", 0) + _kb("FilePmdMapped:", 0)
    out += _kb("Shared_Hugetlb:", 0) + _kb("Private_Hugetlb:", 0)
    out += _kb("Swap:", 0) + _kb("SwapPss:", 0) + _kb("Locked:", m.locked_pss >> PSS_SHIFT)
    return out


def render_smaps(mm: "MM") -> str:
    counts = _mapcounts(mm)
    out: List[str] = []
    for vma in mm.vmas:
        m = smaps_stats(mm, vma, counts)
        out.append(maps_line(mm, vma) + "\n" + _smaps_body(m, len(vma))
                   + f"THPeligible:    {_thp_eligible(vma):>8}\n"
                   + f"VmFlags: {vm_flags_str(vma)}\n")
    return "".join(out)


def render_smaps_rollup(mm: "MM") -> str:
    counts = _mapcounts(mm)
    total = MemSize()
    for vma in mm.vmas:
        total.add(smaps_stats(mm, vma, counts))
    vmas = list(mm.vmas)
    if not vmas:
        return ""
    head = f"{vmas[0].start:08x}-{vmas[-1].end:08x} ---p 00000000 00:00 0"
    return head.ljust(NAME_COLUMN) + " [rollup]\n" + _smaps_body(total, 0, rollup=True)


# --- status and statm ---------------------------------------------------------------------------

def code_range(mm: "MM") -> Tuple[int, int]:
    return mm.start_code, mm.end_code


def status_vm_lines(mm: "MM") -> str:
    """Compare Linux's task_mem: the Vm*/Rss* lines of /proc/<pid>/status."""
    c = mm.vm_counters()
    rss = mm.rss_counters()
    start_code, end_code = code_range(mm)
    text = ((end_code + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)) - (start_code & ~(PAGE_SIZE - 1))
    text = max(text, 0)
    text = min(text, c.exec << PAGE_SHIFT)
    lib = (c.exec << PAGE_SHIFT) - text
    total_rss = rss.total
    hiwater_rss = max(mm.peak_rss, total_rss)
    hiwater_vm = max(mm.hiwater_vm, c.total)

    def dec(name: str, pages: int) -> str:
        return f"{name}\t{pages << (PAGE_SHIFT - 10):>8} kB\n"
    ptes = len({vpn >> 9 for vpn in mm.pt})
    pgtables = (ptes + len({vpn >> 18 for vpn in mm.pt}) + len({vpn >> 27 for vpn in mm.pt}) + 1) \
        * PAGE_SIZE
    return (dec("VmPeak:", hiwater_vm) + dec("VmSize:", c.total) + dec("VmLck:", c.locked)
            + dec("VmPin:", 0) + dec("VmHWM:", hiwater_rss) + dec("VmRSS:", total_rss)
            + f"RssAnon:\t{rss.anon << 2:>8} kB\n" + f"RssFile:\t{rss.file << 2:>8} kB\n"
            + f"RssShmem:\t{rss.shmem << 2:>8} kB\n"
            + dec("VmData:", c.data) + dec("VmStk:", c.stack)
            + f"VmExe:\t{text >> 10:>8} kB\n" + f"VmLib:\t{lib >> 10:>8} kB\n"
            + f"VmPTE:\t{pgtables >> 10:>8} kB\n" + dec("VmSwap:", 0)
            + "HugetlbPages:\t       0 kB\n")


def render_statm(mm: "MM") -> str:
    """Compare Linux's task_statm: size resident shared text lib data dt (pages)."""
    c = mm.vm_counters()
    rss = mm.rss_counters()
    start_code, end_code = code_range(mm)
    text = max(((end_code + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)) - (start_code & ~(PAGE_SIZE - 1)), 0)
    return f"{c.total} {rss.total} {rss.file + rss.shmem} {text >> PAGE_SHIFT} 0 " \
           f"{c.data + c.stack} 0\n"


def replace_status_lines(host: str, replace: Dict[str, Optional[str]], vm_block: str) -> str:
    """The host's /proc/self/status with some lines replaced and the Vm* block swapped in."""
    out: List[str] = []
    vm_done = False
    for line in host.splitlines(keepends=True):
        key = line.split(":", 1)[0]
        if key.startswith(("Vm", "Rss")) or key == "HugetlbPages":
            if not vm_done:
                out.append(vm_block)
                vm_done = True
            continue
        if key in replace:
            new = replace[key]
            if new is not None:
                out.append(f"{key}:\t{new}\n")
            continue
        out.append(line)
    if not vm_done:
        out.append(vm_block)
    return "".join(out)
