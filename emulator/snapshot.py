"""Snapshots: the CPU context plus a copy-on-write view of memory, kept in pyexec's page table.

Taking one shares every resident frame between the live process and the snapshot and maps the
live pages read-only, so the first write after it copies the page (the same do_wp_page path a
fork would use). Restoring maps the snapshot's frames again, read-only and shared, so a process
can return to one snapshot any number of times. Unicorn's own memory snapshots are not used:
they scale badly with dirty pages (DEVELOPERS.md).
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Tuple

from mmu.constants import UC_PROT_WRITE
from mmu.pagetable import PTE, PageKind
from mmu.vma import VMA, AddressSpace

if TYPE_CHECKING:
    from emulator.process import Process


@dataclass
class Snapshot:
    context: Any
    vmas: List[VMA]
    pages: Dict[int, Tuple[int, int, bool, PageKind]]   # vpn -> (paddr, perms, cow, kind)
    brk: Tuple[int, int]
    gdt: bytes
    signals: Any
    exit_state: Tuple[Any, Any]
    released: bool = False


def take(proc: "Process") -> Snapshot:
    mm = proc.mm
    pages: Dict[int, Tuple[int, int, bool, PageKind]] = {}
    for vpn, pte in mm.pt.items():
        mm.frames.get(pte.paddr)                 # the snapshot's own reference
        pages[vpn] = (pte.paddr, pte.perms, pte.cow, pte.kind)
        if pte.perms & UC_PROT_WRITE:
            pte.perms &= ~UC_PROT_WRITE          # the next write copies (COW)
            pte.cow = True
    mm.flush_tlb()
    return Snapshot(
        context=proc.machine.uc.context_save(),
        vmas=[dataclasses.replace(v) for v in mm.vmas],
        pages=pages,
        brk=(mm.start_brk, mm.brk),
        gdt=proc.machine.phys.read(proc._gdt_paddr, 4096),
        signals=copy.deepcopy(proc.signals),
        exit_state=(proc.exit_status, proc.term_signal),
    )


def restore(proc: "Process", snap: Snapshot) -> None:
    if snap.released:
        raise ValueError("this snapshot was released")
    mm = proc.mm
    for pte in mm.pt.values():
        mm.frames.put(pte.paddr)
    mm.pt.clear()
    mm.rss = 0
    for vpn, (paddr, perms, cow, kind) in snap.pages.items():
        mm.frames.get(paddr)
        shared = bool(perms & UC_PROT_WRITE) or cow
        mm.set_pte(vpn, PTE(paddr, perms & ~UC_PROT_WRITE, shared, kind))
    mm.vmas = AddressSpace()
    for v in snap.vmas:
        mm.vmas.insert(dataclasses.replace(v))
    mm.start_brk, mm.brk = snap.brk
    proc.machine.phys.write(proc._gdt_paddr, snap.gdt)
    proc.machine.uc.context_restore(snap.context)
    proc.signals = copy.deepcopy(snap.signals)
    proc.exit_status, proc.term_signal = snap.exit_state
    proc.cpu.pending_syscall = None
    mm.flush_tlb()


def release(proc: "Process", snap: Snapshot) -> None:
    """Drop the snapshot's frame references."""
    if not snap.released:
        for paddr, _perms, _cow, _kind in snap.pages.values():
            proc.mm.frames.put(paddr)
        snap.released = True
