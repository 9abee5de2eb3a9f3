"""The page-fault handler: the one place that decides what a fault means.

Compare Linux's handle_mm_fault and do_user_addr_fault (arch/x86/mm/fault.c): find the VMA, check
the access against its flags, then bring the page in (file, anonymous, zero page) or break COW.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from emulator.errors import GuestFault
from emulator.signum import BUS_ADRERR, SEGV_ACCERR, SEGV_MAPERR, Signal

from .constants import (ACCESS_WRITE, PAGE_SHIFT, PAGE_SIZE, PROT, UC_PROT_WRITE,
                        VM, page_down, prot_to_uc)
from .pagetable import PTE, PageKind
from .vma import VMA

if TYPE_CHECKING:
    from .mm import MM

ACCESS_NAMES = {16: "read", 17: "write", 18: "exec"}


@dataclass
class FaultEvent:
    """What one fault was and what the MMU did about it (for --trace-faults, the debugger, the API)."""
    addr: int
    access: int
    vma: Optional[VMA]
    kind: str            # file / file-private / anon / zero / cow / cow-reuse / stack / segv / sigbus
    paddr: int = -1
    detail: str = ""
    origin: str = "cpu"  # who touched the page: the guest CPU, a syscall, or execve itself

    def describe(self) -> str:
        where = "no VMA"
        if self.vma is not None:
            v = self.vma
            where = f"{v.start:x}-{v.end:x} {prot_str(v)} {v.display_name() or '[anon]'}"
        frame = f" frame={self.paddr:#x}" if self.paddr >= 0 else ""
        by = "" if self.origin == "cpu" else f" (by {self.origin})"
        return (f"fault {self.addr:#x} {ACCESS_NAMES.get(self.access, '?')}{by}: {self.kind}"
                f"{frame} [{where}]{' ' + self.detail if self.detail else ''}")


def prot_str(vma: VMA) -> str:
    p = vma.prot
    return ("r" if p & PROT.READ else "-") + ("w" if p & PROT.WRITE else "-") + \
        ("x" if p & PROT.EXEC else "-") + ("s" if vma.shared else "p")


def access_allowed(vma: VMA, access: int) -> bool:
    """Compare Linux's access_error(): write needs VM_WRITE, fetch VM_EXEC, read any right (x86)."""
    return bool(int(vma.prot) & _NEEDS[access])


_GROWSDOWN = int(VM.GROWSDOWN)
# The VMA prot bits an access needs (x86: any right implies read).
_NEEDS = {16: 7, 17: int(PROT.WRITE), 18: int(PROT.EXEC)}


def handle_mm_fault(mm: "MM", addr: int, access: int) -> PTE:
    """Resolve a fault at `addr` or raise GuestFault (SIGSEGV / SIGBUS)."""
    page = page_down(addr)
    vma = mm.vmas.find(addr)
    if vma is None:
        vma = mm.expand_stack(addr)
        if vma is None:
            mm.stats.segv += 1
            if mm.listeners:
                mm.notify(FaultEvent(addr, access, None, "segv", detail="SEGV_MAPERR"))
            raise GuestFault(Signal.SIGSEGV, SEGV_MAPERR, addr, access=access)
        mm.stats.stack_growth += 1
    if not access_allowed(vma, access):
        mm.stats.segv += 1
        if mm.listeners:
            mm.notify(FaultEvent(addr, access, vma, "segv", detail="SEGV_ACCERR"))
        raise GuestFault(Signal.SIGSEGV, SEGV_ACCERR, addr, access=access)

    vpn = page >> PAGE_SHIFT
    pte = mm.pt.get(vpn)
    if pte is not None:
        if access == ACCESS_WRITE and pte.cow:
            return do_wp_page(mm, vma, vpn, pte, addr)
        # Present and allowed: the TLB only lacked the entry.
        return pte
    if vma.file is not None:
        return do_file_fault(mm, vma, page, access, addr)
    return do_anonymous_page(mm, vma, page, access, addr)


def do_anonymous_page(mm: "MM", vma: VMA, page: int, access: int, addr: int) -> PTE:
    """Compare Linux's do_anonymous_page: a read maps the shared zero page, a write a new frame."""
    perms = prot_to_uc(vma.prot)
    if access != ACCESS_WRITE and not vma.shared:
        mm.frames.get(mm.zero_frame)
        pte = PTE(mm.zero_frame, perms & ~UC_PROT_WRITE, True, PageKind.ZERO)
        kind = "zero"
        mm.stats.zero += 1
    else:
        mm.anon_vma_prepare(vma)
        stack = bool(int(vma.flags) & _GROWSDOWN)
        pte = PTE(mm.frames.alloc(), perms, False, PageKind.STACK if stack else PageKind.ANON)
        kind = "anon"
        mm.stats.anon += 1
    mm.set_pte(page >> PAGE_SHIFT, pte)
    if mm.listeners:
        mm.notify(FaultEvent(addr, access, vma, kind, pte.paddr))
    return pte


def do_file_fault(mm: "MM", vma: VMA, page: int, access: int, addr: int) -> PTE:
    """Compare Linux's do_read_fault / do_cow_fault / do_shared_fault and filemap_fault."""
    assert vma.file is not None
    offset = vma.file_offset(page)
    perms = prot_to_uc(vma.prot)
    vpn = page >> PAGE_SHIFT
    if offset >= page_upto(vma.file.size()):
        # A page wholly past EOF: Linux's filemap_fault returns VM_FAULT_SIGBUS.
        mm.stats.sigbus += 1
        if mm.listeners:
            mm.notify(FaultEvent(addr, access, vma, "sigbus", detail="BUS_ADRERR"))
        raise GuestFault(Signal.SIGBUS, BUS_ADRERR, addr, access=access)
    if vma.mayshare and mm.windows is not None:
        # MAP_SHARED: the host's page-cache page itself (compare do_shared_fault).
        paddr = mm.windows.paddr(vma.file, offset, vma.shared)
        if paddr is None:
            mm.windows.ensure(vma.file, offset, offset + PAGE_SIZE, vma.shared)
            paddr = mm.windows.paddr(vma.file, offset, vma.shared)
            assert paddr is not None
        pte = PTE(paddr, perms, False, PageKind.SHARED)
        mm.stats.file += 1
        mm.set_pte(vpn, pte)
        if mm.listeners:
            mm.notify(FaultEvent(addr, access, vma, "file", paddr,
                                 f"file offset {offset:#x}, shared (host page cache)"))
        return pte
    if vma.file_end is not None and offset + PAGE_SIZE > vma.file_end:
        # The page holding the end of a segment's file data (padzero): its own frame, the file
        # bytes up to p_filesz and zeros after them, as Linux's padzero leaves it.
        keep = max(vma.file_end - offset, 0)
        mm.anon_vma_prepare(vma)
        paddr = mm.frames.alloc()
        if keep:
            mm.frames.phys.write(paddr, os.pread(vma.file.fd, keep, offset))
        pte = PTE(paddr, perms, False, PageKind.FILE_PRIVATE)
        mm.stats.file += 1
        mm.set_pte(vpn, pte)
        if mm.listeners:
            mm.notify(FaultEvent(addr, access, vma, "file-private", paddr,
                                 f"file offset {offset:#x}, zero from +{keep:#x}"))
        return pte
    cached_paddr, was_cached = mm.pagecache.find_or_read(vma.file, offset)
    how = "page cache hit" if was_cached else "read from file"
    if vma.shared or access != ACCESS_WRITE:
        # A private mapping of a page-cache frame is always write-protected, also when the
        # VMA is not writable yet: a later mprotect(PROT_WRITE) must not expose the frame.
        cow = not vma.shared
        mm.frames.get(cached_paddr)
        pte = PTE(cached_paddr, perms & ~UC_PROT_WRITE if cow else perms, cow, PageKind.FILE)
        mm.stats.file += 1
        kind = "file"
    else:
        # Write to a private file page not yet present: read it, then copy (do_cow_fault).
        mm.anon_vma_prepare(vma)
        pte = PTE(mm.frames.copy(cached_paddr), perms, False, PageKind.COW)
        mm.stats.cow += 1        # one fault: Linux's do_cow_fault
        kind = "cow"
    mm.set_pte(vpn, pte)
    if mm.listeners:
        mm.notify(FaultEvent(addr, access, vma, kind, pte.paddr, f"file offset {offset:#x}, {how}"))
    return pte


def do_wp_page(mm: "MM", vma: VMA, vpn: int, pte: PTE, addr: int) -> PTE:
    """Compare Linux's do_wp_page: a write to a shared read-only frame gets a private copy."""
    old = pte.paddr
    perms = prot_to_uc(vma.prot)
    mm.anon_vma_prepare(vma)
    if pte.kind == PageKind.ZERO:
        new = PTE(mm.frames.alloc(), perms, False, PageKind.ANON)
        detail = "zero page replaced by a new frame"
        kind = "anon"
        mm.stats.anon += 1
    else:
        new = PTE(mm.frames.copy(old), perms, False, PageKind.COW)
        detail = f"copied frame {old:#x}"
        kind = "cow"
        mm.stats.cow += 1
    mm.frames.put(old)
    # The TLB may still map the old frame read-only at this address: a fill from the guest
    # replaces that entry; other callers (uaccess) flush.
    mm.set_pte(vpn, new)
    if mm.listeners:
        mm.notify(FaultEvent(addr, ACCESS_WRITE, vma, kind, new.paddr, detail))
    return new


def page_upto(size: int) -> int:
    return (size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
