"""handle_mm_fault (mmu/fault.py) on an MM over a bytearray: every kind of fault it resolves."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from emulator.errors import GuestFault, SyscallError
from emulator.signum import BUS_ADRERR, SEGV_ACCERR, SEGV_MAPERR, Signal
from mmu.constants import (ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, MAP, PAGE_SHIFT, PAGE_SIZE,
                           PROT, UC_PROT_WRITE, VM, page_down)
from mmu.fault import FaultEvent, handle_mm_fault
from mmu.frames import BytearrayMemory
from mmu.mm import LAYOUT_X86_64, MM, STACK_GUARD_GAP
from mmu.pagetable import PageKind
from mmu.uaccess import copy_from_user, copy_to_user
from mmu.vma import MappedFile

P = PAGE_SIZE
POOL = 8 << 20
RW = PROT.READ | PROT.WRITE
ANON_PRIVATE = MAP.PRIVATE | MAP.ANONYMOUS


class Recorder:
    def __init__(self, mm: MM) -> None:
        self.events: list[FaultEvent] = []
        mm.listeners.append(self.events.append)

    @property
    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


@pytest.fixture
def mm() -> MM:
    return MM(BytearrayMemory(POOL), LAYOUT_X86_64, P, POOL)


@pytest.fixture
def rec(mm: MM) -> Recorder:
    return Recorder(mm)


def vpn(addr: int) -> int:
    return addr >> PAGE_SHIFT


# --- anonymous memory -------------------------------------------------------------------------

def test_read_of_untouched_anonymous_memory_maps_the_zero_page(mm: MM, rec: Recorder) -> None:
    a = mm.do_mmap(0, 2 * P, RW, ANON_PRIVATE, None, 0)
    pte = handle_mm_fault(mm, a + 100, ACCESS_READ)
    assert rec.kinds == ["zero"]
    assert pte.paddr == mm.zero_frame and pte.kind == PageKind.ZERO
    assert not pte.perms & UC_PROT_WRITE, "the zero page must never be writable"
    assert mm.rss == 0
    # A second page reads the very same frame.
    assert handle_mm_fault(mm, a + P, ACCESS_READ).paddr == mm.zero_frame
    assert copy_from_user(mm, a, 2 * P) == bytes(2 * P)
    assert mm.rss == 0 and mm.stats.zero == 2
    mm.check_invariants()


def test_write_to_untouched_anonymous_memory_allocates_a_frame(mm: MM, rec: Recorder) -> None:
    a = mm.do_mmap(0, P, RW, ANON_PRIVATE, None, 0)
    pte = handle_mm_fault(mm, a, ACCESS_WRITE)
    assert rec.kinds == ["anon"]
    assert pte.paddr != mm.zero_frame and pte.perms & UC_PROT_WRITE and pte.kind == PageKind.ANON
    assert mm.rss == 1
    mm.check_invariants()


def test_first_write_after_a_read_replaces_the_zero_page(mm: MM, rec: Recorder) -> None:
    a = mm.do_mmap(0, P, RW, ANON_PRIVATE, None, 0)
    handle_mm_fault(mm, a, ACCESS_READ)
    copy_to_user(mm, a + 8, b"written")
    assert rec.kinds == ["zero", "anon"]
    pte = mm.pt[vpn(a)]
    assert pte.paddr != mm.zero_frame and pte.kind == PageKind.ANON
    assert pte.perms & UC_PROT_WRITE
    assert copy_from_user(mm, a, 16) == bytes(8) + b"written\0"
    # The zero page itself is untouched by that write.
    assert mm.frames.phys.read(mm.zero_frame, P) == bytes(P)


def test_rss_counts_the_frame_that_replaces_the_zero_page(mm: MM) -> None:
    a = mm.do_mmap(0, P, RW, ANON_PRIVATE, None, 0)
    handle_mm_fault(mm, a, ACCESS_READ)
    assert mm.rss == 0
    handle_mm_fault(mm, a, ACCESS_WRITE)
    assert mm.rss == 1
    mm.check_invariants()


def test_write_to_a_read_only_vma_is_segv_accerr(mm: MM, rec: Recorder) -> None:
    a = mm.do_mmap(0, P, PROT.READ, ANON_PRIVATE, None, 0)
    with pytest.raises(GuestFault) as info:
        handle_mm_fault(mm, a + 5, ACCESS_WRITE)
    assert (info.value.signo, info.value.code, info.value.addr) == (Signal.SIGSEGV, SEGV_ACCERR, a + 5)
    assert rec.kinds == ["segv"] and rec.events[0].vma is not None
    assert mm.stats.segv == 1 and vpn(a) not in mm.pt
    # The same page reads fine, and still refuses writes once present.
    handle_mm_fault(mm, a, ACCESS_READ)
    with pytest.raises(GuestFault) as info:
        handle_mm_fault(mm, a, ACCESS_WRITE)
    assert info.value.code == SEGV_ACCERR


def test_fetch_needs_prot_exec_and_read_needs_any_right(mm: MM) -> None:
    rw = mm.do_mmap(0, P, RW, ANON_PRIVATE, None, 0)
    with pytest.raises(GuestFault) as info:
        handle_mm_fault(mm, rw, ACCESS_FETCH)
    assert info.value.code == SEGV_ACCERR
    # x86: a write-only or exec-only page is readable.
    for prot in (PROT.WRITE, PROT.EXEC):
        a = mm.do_mmap(0, P, prot, ANON_PRIVATE, None, 0)
        handle_mm_fault(mm, a, ACCESS_READ)
    none = mm.do_mmap(0, P, PROT.NONE, ANON_PRIVATE, None, 0)
    for access in (ACCESS_READ, ACCESS_WRITE, ACCESS_FETCH):
        with pytest.raises(GuestFault) as info:
            handle_mm_fault(mm, none, access)
        assert info.value.code == SEGV_ACCERR


def test_no_vma_is_segv_maperr(mm: MM, rec: Recorder) -> None:
    a = mm.do_mmap(0, 3 * P, RW, ANON_PRIVATE, None, 0)
    mm.do_munmap(a + P, P)
    for addr in (a + P + 7, 0x1234, a + 3 * P):
        with pytest.raises(GuestFault) as info:
            handle_mm_fault(mm, addr, ACCESS_READ)
        assert (info.value.signo, info.value.code, info.value.addr) == (Signal.SIGSEGV, SEGV_MAPERR, addr)
    assert rec.kinds == ["segv"] * 3
    assert all(e.vma is None and "no VMA" in e.describe() for e in rec.events)
    assert mm.stats.segv == 3 and mm.pt == {}


def test_uaccess_turns_faults_into_efault(mm: MM) -> None:
    a = mm.do_mmap(0, P, PROT.READ, ANON_PRIVATE, None, 0)
    with pytest.raises(SyscallError):
        copy_to_user(mm, a, b"x")
    with pytest.raises(SyscallError):
        copy_from_user(mm, a + P, 1)
    # A write spanning a good and a bad page changes nothing.
    b = mm.do_mmap(0, 2 * P, RW, ANON_PRIVATE, None, 0)
    mm.do_mprotect(b + P, P, PROT.READ)
    with pytest.raises(SyscallError):
        copy_to_user(mm, b + P - 2, b"abcd")
    assert copy_from_user(mm, b + P - 2, 4) == bytes(4)


def test_copy_from_user_refuses_a_present_prot_none_page(mm: MM) -> None:
    a = mm.do_mmap(0, P, RW, ANON_PRIVATE, None, 0)
    copy_to_user(mm, a, b"secret")
    mm.do_mprotect(a, P, PROT.NONE)
    with pytest.raises(SyscallError):
        copy_from_user(mm, a, 6)


# --- file-backed private mappings -------------------------------------------------------------

@pytest.fixture
def datafile(tmp_path: Path) -> Iterator[tuple[MappedFile, bytes]]:
    """A file of two and a half pages of distinct bytes."""
    data = os.urandom(2 * P + P // 2)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    f = MappedFile.open(str(path), str(path))
    yield f, data
    os.close(f.fd)


def test_two_private_mappings_share_the_page_cache_frame_until_written(
        mm: MM, rec: Recorder, datafile: tuple[MappedFile, bytes]) -> None:
    f, data = datafile
    v1 = mm.mmap_region(0x1000_0000, 2 * P, RW, VM.NONE, f, pgoff=P)
    v2 = mm.mmap_region(0x2000_0000, P, RW, VM.NONE, f, pgoff=P)
    assert copy_from_user(mm, v1.start, P) == data[P:2 * P]
    assert copy_from_user(mm, v2.start, P) == data[P:2 * P]
    frame = mm.pt[vpn(v1.start)].paddr
    assert mm.pt[vpn(v2.start)].paddr == frame
    assert mm.pagecache.lookup(f, P) == frame
    assert mm.pagecache.reads == 1, "the file page must be read once"
    assert [e.kind for e in rec.events] == ["file", "file"]
    assert not mm.pt[vpn(v1.start)].perms & UC_PROT_WRITE, "a shared frame must be mapped COW"

    copy_to_user(mm, v1.start + 10, b"XYZ")
    assert rec.kinds[-1] == "cow"
    assert mm.pt[vpn(v1.start)].paddr != frame
    assert mm.pt[vpn(v2.start)].paddr == frame
    assert copy_from_user(mm, v2.start, P) == data[P:2 * P]
    assert copy_from_user(mm, v1.start, P) == data[P:P + 10] + b"XYZ" + data[P + 13:2 * P]
    # The file itself is unchanged by a private write.
    assert os.pread(f.fd, P, P) == data[P:2 * P]
    mm.check_invariants()


def test_write_to_an_absent_private_file_page_copies_it(
        mm: MM, rec: Recorder, datafile: tuple[MappedFile, bytes]) -> None:
    f, data = datafile
    v1 = mm.mmap_region(0x1000_0000, P, RW, VM.NONE, f, pgoff=0)
    v2 = mm.mmap_region(0x2000_0000, P, PROT.READ, VM.NONE, f, pgoff=0)
    copy_to_user(mm, v1.start, b"!")
    assert rec.kinds == ["cow"]
    assert copy_from_user(mm, v2.start, P) == data[:P]
    assert mm.pt[vpn(v2.start)].paddr == mm.pagecache.lookup(f, 0) != mm.pt[vpn(v1.start)].paddr
    mm.check_invariants()


def test_mprotect_writable_then_write_does_not_touch_the_page_cache(
        mm: MM, datafile: tuple[MappedFile, bytes]) -> None:
    f, data = datafile
    v1 = mm.mmap_region(0x1000_0000, P, PROT.READ, VM.NONE, f, pgoff=0)
    v2 = mm.mmap_region(0x2000_0000, P, PROT.READ, VM.NONE, f, pgoff=0)
    assert copy_from_user(mm, v1.start, P) == copy_from_user(mm, v2.start, P) == data[:P]
    mm.do_mprotect(v1.start, P, RW)
    copy_to_user(mm, v1.start, b"ZZ")
    assert copy_from_user(mm, v2.start, 2) == data[:2]
    assert mm.pt[vpn(v1.start)].paddr != mm.pt[vpn(v2.start)].paddr


def test_page_past_eof_is_sigbus_and_the_eof_page_is_zero_filled(
        mm: MM, rec: Recorder, datafile: tuple[MappedFile, bytes]) -> None:
    f, data = datafile
    size = len(data)
    v = mm.mmap_region(0x1000_0000, 5 * P, PROT.READ, VM.NONE, f, pgoff=0)
    eof_page = page_down(size)
    # The page holding EOF: file bytes, then zeros to the end of the page.
    assert copy_from_user(mm, v.start + eof_page, P) == data[eof_page:] + bytes(P - (size - eof_page))
    past = range(eof_page + P, 5 * P, P)
    assert len(past) == 2
    for page in past:
        with pytest.raises(GuestFault) as info:
            handle_mm_fault(mm, v.start + page + 3, ACCESS_READ)
        assert (info.value.signo, info.value.code, info.value.addr) == \
            (Signal.SIGBUS, BUS_ADRERR, v.start + page + 3)
    assert rec.kinds[-2:] == ["sigbus", "sigbus"]
    assert mm.stats.sigbus == 2
    # The file grows: the same page becomes readable (the size is checked at fault time).
    os.truncate(f"/proc/self/fd/{f.fd}", size + P)
    assert copy_from_user(mm, v.start + eof_page + P, 1) == b"\0"


def test_shared_writable_mapping_writes_back_on_munmap(mm: MM, tmp_path: Path) -> None:
    path = tmp_path / "shared"
    path.write_bytes(b"a" * P)
    f = MappedFile.open(str(path), str(path), writable=True)
    try:
        addr = mm.do_mmap(0, P, RW, MAP.SHARED, f, 0)
        copy_to_user(mm, addr + 1, b"bc")
        mm.do_munmap(addr, P)
        assert path.read_bytes() == b"abc" + b"a" * (P - 3)
    finally:
        os.close(f.fd)


# --- stack growth -----------------------------------------------------------------------------

def _stack(mm: MM, pages: int = 4) -> tuple[int, int]:
    top = mm.layout.stack_top
    v = mm.mmap_region(top - pages * P, pages * P, RW, VM.GROWSDOWN, name="[stack]")
    return v.start, v.end


def test_stack_grows_down_within_the_rlimit(mm: MM, rec: Recorder) -> None:
    start, end = _stack(mm)
    target = start - 10 * P + 24
    pte = handle_mm_fault(mm, target, ACCESS_WRITE)
    vma = mm.vmas.find(target)
    assert vma is not None and (vma.start, vma.end) == (page_down(target), end)
    assert len(mm.vmas) == 1 and vma.flags & VM.GROWSDOWN
    assert mm.stats.stack_growth == 1 and rec.kinds == ["anon"]
    assert pte.paddr != mm.zero_frame
    mm.check_invariants()
    # Exactly at the rlimit is still allowed ...
    lowest = end - mm.stack_rlimit
    assert mm.expand_stack(lowest) is vma and vma.start == lowest
    mm.vmas.check()


def test_stack_growth_refused_past_the_rlimit(mm: MM) -> None:
    start, end = _stack(mm)
    just_below = end - mm.stack_rlimit - 1
    assert mm.expand_stack(just_below) is None
    with pytest.raises(GuestFault) as info:
        handle_mm_fault(mm, just_below, ACCESS_WRITE)
    assert info.value.code == SEGV_MAPERR
    with pytest.raises(GuestFault):
        handle_mm_fault(mm, 0x10_0000, ACCESS_READ)       # far below
    assert mm.vmas.find(start).start == start, "a refused growth must not move the stack"
    assert mm.stats.stack_growth == 0


def test_stack_growth_keeps_the_guard_gap(mm: MM) -> None:
    start, _ = _stack(mm)
    below = start - 2 * STACK_GUARD_GAP
    mm.mmap_region(below - P, P, RW)
    # Growing to within the guard gap of the mapping below is refused ...
    assert mm.expand_stack(below + STACK_GUARD_GAP - P) is None
    # ... growing to exactly the gap is allowed.
    assert mm.expand_stack(below + STACK_GUARD_GAP) is not None
    mm.vmas.check()


def test_only_growsdown_vmas_grow(mm: MM) -> None:
    a = mm.do_mmap(0, P, RW, ANON_PRIVATE, None, 0)
    assert mm.expand_stack(a - P) is None
    with pytest.raises(GuestFault) as info:
        handle_mm_fault(mm, a - P, ACCESS_WRITE)
    assert info.value.code == SEGV_MAPERR
