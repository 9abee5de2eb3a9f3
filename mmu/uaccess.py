"""copy_from_user / copy_to_user / strncpy_from_user: the only way Python reads guest memory.

Each translates through the page table, faults pages in as the guest's own access would, and
raises SyscallError(EFAULT) for addresses the guest could not touch either.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from emulator.errors import GuestFault, SyscallError
from syscalls.errno import Errno

from .constants import (ACCESS_READ, ACCESS_WRITE, PAGE_SHIFT, PAGE_SIZE, UC_PROT_READ,
                        UC_PROT_WRITE)
from .fault import handle_mm_fault

if TYPE_CHECKING:
    from .mm import MM


def translate(mm: "MM", addr: int, access: int) -> int:
    """The physical address of guest virtual `addr` for `access`, faulting the page in."""
    pte = mm.pt.get(addr >> PAGE_SHIFT)
    need = UC_PROT_WRITE if access == ACCESS_WRITE else UC_PROT_READ
    if pte is None or not pte.perms & need:
        cow_break = pte is not None
        outer = mm.origin
        if outer == "cpu":
            mm.origin = "syscall"
        try:
            pte = handle_mm_fault(mm, addr, access)
        except GuestFault as exc:
            raise SyscallError(Errno.EFAULT, f"bad address {addr:#x}") from exc
        finally:
            mm.origin = outer
        if cow_break:
            mm.flush_tlb()
    return pte.paddr + (addr & (PAGE_SIZE - 1))


def _chunks(addr: int, size: int):
    while size > 0:
        n = min(size, PAGE_SIZE - (addr & (PAGE_SIZE - 1)))
        yield addr, n
        addr += n
        size -= n


def copy_from_user(mm: "MM", addr: int, size: int) -> bytes:
    if size <= 0:
        return b""
    if addr + size > mm.layout.task_size:
        raise SyscallError(Errno.EFAULT)
    read = mm.frames.phys.read
    if (addr & (PAGE_SIZE - 1)) + size <= PAGE_SIZE:
        return read(translate(mm, addr, ACCESS_READ), size)
    return b"".join(read(translate(mm, a, ACCESS_READ), n) for a, n in _chunks(addr, size))


def copy_to_user(mm: "MM", addr: int, data: bytes) -> None:
    size = len(data)
    if size == 0:
        return
    if addr + size > mm.layout.task_size:
        raise SyscallError(Errno.EFAULT)
    write = mm.frames.phys.write
    # Translate every page first, so a bad page fails the call before any byte is written.
    targets = [(translate(mm, a, ACCESS_WRITE), n) for a, n in _chunks(addr, size)]
    pos = 0
    for paddr, n in targets:
        write(paddr, data[pos:pos + n])
        pos += n


def strncpy_from_user(mm: "MM", addr: int, limit: int = 4096) -> bytes:
    """A NUL-terminated string (without the NUL); ENAMETOOLONG past `limit` bytes."""
    out = bytearray()
    read = mm.frames.phys.read
    while len(out) < limit:
        if addr >= mm.layout.task_size:
            raise SyscallError(Errno.EFAULT)
        n = min(PAGE_SIZE - (addr & (PAGE_SIZE - 1)), limit - len(out))
        chunk = read(translate(mm, addr, ACCESS_READ), n)
        nul = chunk.find(0)
        if nul >= 0:
            out += chunk[:nul]
            return bytes(out)
        out += chunk
        addr += n
    raise SyscallError(Errno.ENAMETOOLONG)


def read_word(mm: "MM", addr: int, size: int) -> int:
    return int.from_bytes(copy_from_user(mm, addr, size), "little")


def write_word(mm: "MM", addr: int, value: int, size: int) -> None:
    copy_to_user(mm, addr, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))


def peek(mm: "MM", addr: int, size: int) -> tuple[bytes, list[int]]:
    """Read guest memory without faulting anything in (the debugger's view, which must not
    change what the program's own accesses will do). Returns the bytes, with zeros where a
    page is not present, and the addresses of those pages (unmapped or not yet faulted in:
    the caller tells them apart with mm.vmas)."""
    if size <= 0:
        return b"", []
    out = bytearray()
    missing: list[int] = []
    read = mm.frames.phys.read
    for a, n in _chunks(addr, size):
        pte = mm.pt.get(a >> PAGE_SHIFT) if a < mm.layout.task_size else None
        if pte is None:
            out += bytes(n)
            missing.append(a & ~(PAGE_SIZE - 1))
        else:
            out += read(pte.paddr + (a & (PAGE_SIZE - 1)), n)
    return bytes(out), missing


TASK_SIZE_MAX = 0x7FFFFFFFF000


def access_ok(mm: "MM", addr: int, size: int) -> None:
    """Compare Linux's access_ok: the range must lie below TASK_SIZE_MAX — the 64-bit kernel's
    limit, for i386 tasks too (VMAs are checked only when bytes move); EFAULT otherwise, before
    the syscall does anything."""
    if size and addr + size > TASK_SIZE_MAX:
        raise SyscallError(Errno.EFAULT)
