"""The file page that ends one PT_LOAD and starts the next (gcc -m32 -static puts the end of
.rodata/.eh_frame and the start of .tdata/.data in one page). Linux maps it twice -- read-only
at the end of one segment, writable at the start of the next -- and both mappings read the one
page-cache page until the writable one is written, which gives it a private copy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from emulator.errors import SyscallError
from emulator.process import Process
from loader.elf import PF_W, Phdr, read_elf
from mmu.constants import PAGE_SHIFT, PAGE_SIZE, page_down, page_offset
from mmu.uaccess import copy_from_user, copy_to_user


def boundary_page(path: Path) -> tuple[int, int, int, Phdr, Phdr]:
    """(file offset of the shared page, vaddr in the first PT_LOAD, vaddr in the second, both)."""
    loads = read_elf(str(path)).loads
    for a, b in zip(loads, loads[1:]):
        if not a.p_filesz or not b.p_filesz:
            continue
        last_of_a = page_down(a.p_offset + a.p_filesz - 1)
        if last_of_a == page_down(b.p_offset):
            va = page_down(a.p_vaddr) + (last_of_a - page_down(a.p_offset))
            vb = page_down(b.p_vaddr)
            assert va != vb
            return last_of_a, va, vb, a, b
    raise AssertionError(f"{path} has no file page shared by two PT_LOADs")


def test_boundary_page_is_shared_until_written(sample: Callable[[str, str], Path]) -> None:
    path = sample("hello", "i386")
    offset, va, vb, a, b = boundary_page(path)
    with open(path, "rb") as f:
        f.seek(offset)
        file_page = f.read(PAGE_SIZE)
    assert len(file_page) == PAGE_SIZE
    assert not a.p_flags & PF_W and b.p_flags & PF_W, "expected read-only text/rodata, then data"

    proc = Process.spawn(str(path), [str(path)], env={})
    mm = proc.mm
    # Nothing of the image is read at exec: both pages are faulted in by these reads.
    assert va >> PAGE_SHIFT not in mm.pt and vb >> PAGE_SHIFT not in mm.pt
    assert copy_from_user(mm, va, PAGE_SIZE) == file_page
    assert copy_from_user(mm, vb, PAGE_SIZE) == file_page
    frame = mm.pt[va >> PAGE_SHIFT].paddr
    assert mm.pt[vb >> PAGE_SHIFT].paddr == frame, "one page-cache frame for both mappings"
    assert mm.pagecache.lookup(mm.vmas.find(va).file, offset) == frame  # type: ignore[union-attr]

    # Write one byte of the data segment through the writable mapping.
    k = page_offset(b.p_vaddr)
    new = bytes([file_page[k] ^ 0xFF])
    copy_to_user(mm, vb + k, new)
    assert mm.pt[vb >> PAGE_SHIFT].paddr != frame, "the write must copy the page"
    assert mm.pt[va >> PAGE_SHIFT].paddr == frame
    assert copy_from_user(mm, va, PAGE_SIZE) == file_page, "the read-only view sees the file"
    assert copy_from_user(mm, vb, PAGE_SIZE) == file_page[:k] + new + file_page[k + 1:]
    # Neither the page cache nor the file changed.
    assert mm.frames.phys.read(frame, PAGE_SIZE) == file_page
    assert path.read_bytes()[offset:offset + PAGE_SIZE] == file_page
    # The read-only mapping still refuses writes.
    with pytest.raises(SyscallError):
        copy_to_user(mm, va, b"\0")
    mm.check_invariants()


def _run_to_exit(path: Path, capfd: pytest.CaptureFixture[str]) -> tuple[Process, Any, str]:
    proc = Process.spawn(str(path), [str(path)], env={})
    result = proc.run()
    out, _ = capfd.readouterr()
    return proc, result, out


def test_whole_run_exits_like_native(sample: Callable[[str, str], Path], run_native: Callable[..., Any],
                                     capfd: pytest.CaptureFixture[str]) -> None:
    path = sample("hello", "i386")
    native = run_native([path], env={})
    proc, result, out = _run_to_exit(path, capfd)
    assert (result.exit_status, result.signal) == (native.returncode, None)
    assert out == native.stdout.decode()
    # Whatever the program wrote through the data view, the read-only view holds the file bytes.
    offset, va, vb, _, _ = boundary_page(path)
    assert copy_from_user(proc.mm, va, PAGE_SIZE) == path.read_bytes()[offset:offset + PAGE_SIZE]


def test_invariants_hold_after_a_whole_run(sample: Callable[[str, str], Path],
                                           capfd: pytest.CaptureFixture[str]) -> None:
    proc, result, _ = _run_to_exit(sample("hello", "i386"), capfd)
    assert result.exit_status == 0
    proc.mm.check_invariants()
