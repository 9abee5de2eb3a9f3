"""The MM's syscall operations through its API (no Unicorn), and --maps/--stats of the CLI.

Resident pages fall after munmap and MADV_DONTNEED; mremap moves frames (no copy); faults report
SEGV_MAPERR vs SEGV_ACCERR with the address; VMAs merge as Linux's do (VM_ACCOUNT, anon_vma).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.errors import GuestFault, SyscallError
from emulator.signum import SEGV_ACCERR, SEGV_MAPERR, Signal
from mmu.constants import (ACCESS_READ, ACCESS_WRITE, MADV, MAP, MREMAP_FIXED, MREMAP_MAYMOVE,
                           PAGE_SHIFT, PAGE_SIZE, PROT, VM)
from mmu.fault import handle_mm_fault
from mmu.frames import BytearrayMemory
from mmu.maps import render_maps, render_smaps
from mmu.mm import LAYOUT_I386, LAYOUT_X86_64, MM, STACK_GUARD_GAP
from mmu.uaccess import copy_from_user, copy_to_user
from mmu.vma import MappedFile
from syscalls.errno import Errno

P = PAGE_SIZE
RW = PROT.READ | PROT.WRITE
ANON = MAP.PRIVATE | MAP.ANONYMOUS
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def mm() -> MM:
    return MM(BytearrayMemory(8 << 20), LAYOUT_X86_64, P, 8 << 20)


def errno_of(fn, *args) -> int:
    with pytest.raises(SyscallError) as exc:
        fn(*args)
    return exc.value.errno


def test_rss_falls_after_munmap(mm: MM) -> None:
    a = mm.do_mmap(0, 8 * P, RW, ANON, None, 0)
    copy_to_user(mm, a, b"x" * 8 * P)
    assert mm.rss == 8
    in_use = mm.frames.in_use
    mm.do_munmap(a + 2 * P, 3 * P)
    assert mm.rss == 5 and mm.frames.in_use == in_use - 3
    mm.do_munmap(a, 8 * P)
    assert mm.rss == 0 and mm.peak_rss == 8
    mm.check_invariants()


def test_rss_falls_after_madv_dontneed_and_contents_read_zero(mm: MM) -> None:
    a = mm.do_mmap(0, 4 * P, RW, ANON, None, 0)
    copy_to_user(mm, a, b"y" * 4 * P)
    assert mm.do_madvise(a, 4 * P, MADV.DONTNEED) == 0
    assert mm.rss == 0
    assert copy_from_user(mm, a, 4 * P) == bytes(4 * P)
    assert mm.rss == 0, "reading back maps the zero page, not new frames"
    mm.check_invariants()


def test_madv_dontneed_rereads_a_private_file_page(mm: MM, tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc" + bytes(P))
    f = MappedFile.open(str(path), str(path))
    a = mm.do_mmap(0, P, RW, MAP.PRIVATE, f, 0)
    copy_to_user(mm, a, b"Z")
    assert copy_from_user(mm, a, 3) == b"Zbc"
    mm.do_madvise(a, P, MADV.DONTNEED)
    assert copy_from_user(mm, a, 3) == b"abc"
    assert path.read_bytes()[:3] == b"abc"


def test_madvise_errors_and_holes(mm: MM) -> None:
    a = mm.do_mmap(0, 3 * P, RW, ANON, None, 0)
    assert errno_of(mm.do_madvise, a + 1, P, MADV.DONTNEED) == Errno.EINVAL
    assert errno_of(mm.do_madvise, a, P, 999) == Errno.EINVAL
    copy_to_user(mm, a, b"k" * 3 * P)
    mm.do_munmap(a + P, P)
    # The mapped parts are done, then ENOMEM for the hole (madvise_walk_vmas).
    assert errno_of(mm.do_madvise, a, 3 * P, MADV.DONTNEED) == Errno.ENOMEM
    assert mm.rss == 0


def test_mremap_moves_frames_without_copying(mm: MM) -> None:
    a = mm.do_mmap(0, 2 * P, RW, ANON, None, 0)
    copy_to_user(mm, a, b"one".ljust(P, b".") + b"two")
    frames = [mm.pt[(a >> PAGE_SHIFT) + i].paddr for i in range(2)]
    mm.do_mmap(a + 2 * P, P, PROT.READ, ANON | MAP.FIXED, None, 0)     # blocks growth
    assert errno_of(mm.do_mremap, a, 2 * P, 4 * P, 0) == Errno.ENOMEM
    b = mm.do_mremap(a, 2 * P, 4 * P, MREMAP_MAYMOVE)
    assert b != a and mm.vmas.find(a) is None
    assert [mm.pt[(b >> PAGE_SHIFT) + i].paddr for i in range(2)] == frames
    assert copy_from_user(mm, b + P, 3) == b"two" and mm.rss == 2
    c = mm.do_mremap(b, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x10_0000_0000)
    assert c == 0x10_0000_0000 and copy_from_user(mm, c, 3) == b"one"
    assert mm.do_mremap(c, 4 * P, P, 0) == c and mm.rss == 1
    mm.check_invariants()


def test_mremap_grows_in_place_and_checks(mm: MM) -> None:
    a = mm.do_mmap(0x10_0000_0000, 2 * P, RW, ANON | MAP.FIXED, None, 0)
    assert mm.do_mremap(a, 2 * P, 5 * P, 0) == a
    assert [(v.start, v.end) for v in mm.vmas] == [(a, a + 5 * P)]
    assert errno_of(mm.do_mremap, a + 1, P, P, 0) == Errno.EINVAL
    assert errno_of(mm.do_mremap, a, P, P, MREMAP_FIXED, a + 16 * P) == Errno.EINVAL
    assert errno_of(mm.do_mremap, a + 64 * P, P, 2 * P, 0) == Errno.EFAULT
    assert errno_of(mm.do_mremap, a, 6 * P, 8 * P, MREMAP_MAYMOVE) == Errno.EFAULT


def test_fault_codes_maperr_and_accerr(mm: MM) -> None:
    a = mm.do_mmap(0, 2 * P, PROT.READ, ANON, None, 0)
    with pytest.raises(GuestFault) as info:
        handle_mm_fault(mm, a + 5, ACCESS_WRITE)
    assert (info.value.signo, info.value.code, info.value.addr) == (Signal.SIGSEGV, SEGV_ACCERR, a + 5)
    mm.do_munmap(a + P, P)
    with pytest.raises(GuestFault) as info:
        handle_mm_fault(mm, a + P + 7, ACCESS_READ)
    assert (info.value.signo, info.value.code, info.value.addr) == (Signal.SIGSEGV, SEGV_MAPERR, a + P + 7)
    assert mm.stats.segv == 2


def test_write_only_mapping_is_readable_on_x86(mm: MM) -> None:
    a = mm.do_mmap(0, P, PROT.WRITE, ANON, None, 0)
    copy_to_user(mm, a, b"w")
    assert copy_from_user(mm, a, 1) == b"w"
    assert render_maps(mm).splitlines()[-1].split()[1] == "-w-p"


def test_mprotect_keeps_vm_account_of_faulted_pages(mm: MM) -> None:
    """Compare mprotect_fixup: write access adds VM_ACCOUNT; taking it away drops it again only
    while the VMA has no anonymous pages; VMAs with different flags do not merge."""
    a = mm.do_mmap(0, 3 * P, PROT.READ, ANON, None, 0)
    mm.do_mprotect(a + P, P, RW)
    assert mm.vmas.find(a + P).flags & VM.ACCOUNT
    mm.do_mprotect(a + P, P, PROT.READ)
    assert len(mm.vmas) == 1
    mm.do_mprotect(a + P, P, RW)
    copy_to_user(mm, a + P, b"!")
    mm.do_mprotect(a + P, P, PROT.READ)
    assert len(mm.vmas) == 3
    assert errno_of(mm.do_mprotect, a, 3 * P, 0x100) == Errno.EINVAL


def test_mmap_placement_like_linux(mm: MM) -> None:
    a = mm.do_mmap(0, 3 * P, RW, ANON, None, 0)
    b = mm.do_mmap(0, 2 * P, RW, ANON, None, 0)
    assert b + 2 * P == a and len(mm.vmas) == 1, "top-down, adjacent, merged"
    assert mm.do_mmap(0x1234_5678, P, PROT.READ, ANON, None, 0) == 0x1234_5000, "hint rounded down"
    big = mm.do_mmap(0, 4 << 20, RW, ANON, None, 0)
    assert big % (2 << 20) == 0, "THP alignment of 2 MB-multiple anonymous mappings"
    low = mm.do_mmap(0, P, PROT.READ, ANON | MAP._32BIT, None, 0)
    assert low == 0x4000_0000
    g = mm.do_mmap(0, 4 * P, RW, ANON | MAP.GROWSDOWN, None, 0)
    below = mm.do_mmap(0, P, RW, ANON, None, 0)
    assert g - (below + P) == STACK_GUARD_GAP, "vm_start_gap keeps the stack guard gap free"
    assert errno_of(mm.do_mmap, a, P, RW, ANON | MAP.FIXED_NOREPLACE, None, 0) == Errno.EEXIST
    assert errno_of(mm.do_mmap, 0, P, RW, MAP.SHARED_VALIDATE | MAP.ANONYMOUS, None, 0) == Errno.EINVAL


def test_i386_ignores_map_32bit_and_thp() -> None:
    mm = MM(BytearrayMemory(1 << 20), LAYOUT_I386, P, 1 << 20)
    a = mm.do_mmap(0, 4 << 20, RW, ANON | MAP._32BIT, None, 0)
    assert a + (4 << 20) == mm.mmap_base


def test_brk_follows_linux(mm: MM) -> None:
    mm.start_brk = mm.brk = 0x40_0000
    assert mm.do_brk(0) == 0x40_0000
    assert mm.do_brk(0x40_0000 + 3 * P) == 0x40_0000 + 3 * P
    assert "[heap]" in render_maps(mm)
    assert mm.do_brk(0x1000) == 0x40_0000 + 3 * P, "failure returns the current break"
    assert mm.do_brk(0x40_0000 + 10) == 0x40_0000 + 10
    assert [(v.start, v.end) for v in mm.vmas] == [(0x40_0000, 0x40_0000 + P)]


def test_mincore_and_msync(mm: MM) -> None:
    a = mm.do_mmap(0, 4 * P, RW, ANON, None, 0)
    copy_to_user(mm, a, b"1")
    copy_from_user(mm, a + 2 * P, 1)
    assert mm.do_mincore(a, 4 * P) == bytes([1, 0, 1, 0])
    mm.do_munmap(a + 3 * P, P)
    assert mm.mincore_vec(a, 4 * P) == (bytes([1, 0, 1]), Errno.ENOMEM)
    assert errno_of(mm.do_msync, a, 4 * P, 4) == Errno.ENOMEM
    assert errno_of(mm.do_msync, a, P, 5) == Errno.EINVAL


def test_smaps_counts_resident_pages(mm: MM) -> None:
    a = mm.do_mmap(0, 8 * P, RW, ANON, None, 0)
    copy_to_user(mm, a, b"z" * 3 * P)
    copy_from_user(mm, a + 5 * P, 1)
    text = render_smaps(mm)
    assert "Size:                 32 kB\n" in text and "Rss:                  12 kB\n" in text
    assert "VmFlags: rd wr mr mw me ac \n" in text


# --- the CLI's --maps and --stats ------------------------------------------------------------

def _run_cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "emulator", *args], cwd=REPO,
                          capture_output=True, timeout=120, stdin=subprocess.DEVNULL)


def _sample(name: str) -> Path:
    path = REPO / "samples" / "build" / f"{name}-x86_64"
    if not path.is_file():
        subprocess.run(["make", "-C", str(REPO), "samples"], capture_output=True, check=False)
    assert path.is_file(), f"{path} not built"
    return path


def _stats(path: Path) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in path.read_text().splitlines())


def test_maps_and_stats_after_a_crash(tmp_path: Path) -> None:
    maps, stats = tmp_path / "maps", tmp_path / "stats"
    proc = _run_cli(f"--maps={maps}", f"--stats={stats}", str(_sample("segv")))
    assert proc.returncode == -signal.SIGSEGV, proc.stderr
    lines = maps.read_text().splitlines()
    assert any(ln.endswith("[stack]") for ln in lines)
    assert any(ln.endswith("segv-x86_64") for ln in lines)
    st = _stats(stats)
    for key in ("page_faults", "page_faults_file", "page_faults_anon", "page_faults_cow",
                "page_faults_stack_growth", "page_faults_segv", "resident_pages", "peak_rss_kb"):
        assert key in st, key
    assert int(st["page_faults_segv"]) == 1
    assert int(st["resident_pages"]) > 0
    assert int(st["peak_rss_kb"]) >= int(st["resident_pages"]) * 4


def test_stats_after_normal_exit_count_stack_growth(tmp_path: Path) -> None:
    stats = tmp_path / "stats"
    proc = _run_cli(f"--stats={stats}", "--maps", str(_sample("mmtest")), "stack-growth-ok")
    assert proc.returncode == 0, proc.stderr
    st = _stats(stats)
    assert int(st["page_faults_stack_growth"]) > 0
    assert int(st["page_faults_anon"]) >= 200, "about 1 MB of stack was touched"
    assert b"[stack]" in proc.stderr, "--maps without a file writes to stderr"
