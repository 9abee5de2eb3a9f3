"""load_elf_binary for static x86-64 and i386 executables (ET_EXEC and static-pie ET_DYN).

One linear function in phases, as in Linux's fs/binfmt_elf.c and xv6's exec(): every header is
checked before anything is committed to the address space, and no page is read at load time —
the VMAs say where each file page will come from when the guest first touches it.
"""
from __future__ import annotations

import enum
import errno
import os
import struct
from dataclasses import dataclass
from typing import List, Optional

from emulator.errors import ExecError
from mmu.constants import PROT, VM, page_down, page_offset, page_up
from mmu.mm import MM, Layout, LAYOUT_I386, LAYOUT_X86_64
from mmu.vma import MappedFile

PT_LOAD, PT_INTERP, PT_PHDR, PT_GNU_STACK = 1, 3, 6, 0x6474E551
PF_X, PF_W, PF_R = 1, 2, 4
ET_REL, ET_EXEC, ET_DYN, ET_CORE = 1, 2, 3, 4
EM_386, EM_X86_64 = 3, 62
ELFCLASS32, ELFCLASS64 = 1, 2

ET_NAMES = {0: "ET_NONE", ET_REL: "ET_REL (relocatable object)", ET_CORE: "ET_CORE (core dump)"}
EM_NAMES = {2: "SPARC", 8: "MIPS", 20: "PowerPC", 21: "PowerPC64", 22: "S/390", 40: "ARM",
            50: "IA-64", 183: "AArch64", 243: "RISC-V", EM_386: "i386", EM_X86_64: "x86-64"}


class Arch(enum.Enum):
    X86_64 = "x86_64"
    I386 = "i386"

    @property
    def word(self) -> int:
        return 8 if self is Arch.X86_64 else 4

    @property
    def layout(self) -> Layout:
        return LAYOUT_X86_64 if self is Arch.X86_64 else LAYOUT_I386


@dataclass(frozen=True)
class Phdr:
    p_type: int
    p_flags: int
    p_offset: int
    p_vaddr: int
    p_filesz: int
    p_memsz: int
    p_align: int


@dataclass
class ElfImage:
    """The validated headers of an executable: everything load_elf_binary needs."""
    path: str            # as the user named it (maps, AT_EXECFN, /proc/self/exe)
    host_path: str       # absolute path on the host
    arch: Arch
    e_type: int
    e_entry: int
    e_phoff: int
    e_phnum: int
    e_phentsize: int
    phdrs: List[Phdr]
    file_size: int
    exec_stack: Optional[bool]   # PT_GNU_STACK's PF_X, None when there is no PT_GNU_STACK

    @property
    def loads(self) -> List[Phdr]:
        return [p for p in self.phdrs if p.p_type == PT_LOAD]

    @property
    def read_implies_exec(self) -> bool:
        """Compare Linux's elf_read_implies_exec: i386 without PT_GNU_STACK."""
        return self.arch is Arch.I386 and self.exec_stack is None


@dataclass
class LoadResult:
    """What start_thread and create_elf_tables need after the image is mapped."""
    entry: int
    load_bias: int
    phdr_addr: int
    start_brk: int
    end_code: int
    start_data: int


def _fail(path: str, reason: str) -> ExecError:
    return ExecError(path, f"cannot execute binary file: Exec format error ({reason})", 126)


def read_elf(path: str) -> ElfImage:
    """Open and validate an executable; raise ExecError with the reason (exit 126 / 127)."""
    # Phase 1: the file itself.
    try:
        host_path = os.path.abspath(path)
        fd = os.open(host_path, os.O_RDONLY)
    except FileNotFoundError:
        raise ExecError(path, "No such file or directory", 127) from None
    except IsADirectoryError:
        raise ExecError(path, "Is a directory", 126) from None
    except OSError as exc:
        raise ExecError(path, os.strerror(exc.errno or errno.EIO), 126) from None
    try:
        st = os.fstat(fd)
        if not os.path.isfile(host_path):
            raise ExecError(path, "Permission denied", 126)
        if not os.access(host_path, os.X_OK):
            raise ExecError(path, "Permission denied", 126)
        head = os.pread(fd, 64, 0)
    finally:
        os.close(fd)
    size = st.st_size

    # Phase 2: the ELF header (compare the first checks of load_elf_binary).
    if head[:4] != b"\x7fELF":
        raise _fail(path, "not an ELF file")
    if len(head) < 52 or head[4] not in (ELFCLASS32, ELFCLASS64):
        raise _fail(path, "truncated or invalid ELF header")
    if head[5] != 1:
        raise _fail(path, "not little-endian")
    elfclass = head[4]
    if elfclass == ELFCLASS64 and len(head) < 64:
        raise _fail(path, "truncated ELF header")
    e_type, e_machine = struct.unpack_from("<HH", head, 16)
    if e_type not in (ET_EXEC, ET_DYN):
        raise _fail(path, f"{ET_NAMES.get(e_type, f'e_type {e_type}')} is not an executable")
    if (elfclass, e_machine) == (ELFCLASS64, EM_X86_64):
        arch = Arch.X86_64
    elif (elfclass, e_machine) == (ELFCLASS32, EM_386):
        arch = Arch.I386
    else:
        name = EM_NAMES.get(e_machine, f"e_machine {e_machine}")
        raise _fail(path, f"wrong architecture: {name} {'64' if elfclass == 2 else '32'}-bit; "
                          "pyexec runs x86-64 and i386")
    # The Ehdr and Phdr tables are fixed-layout: read with struct here, because importing
    # pyelftools costs 30-50 ms of the startup budget. pyelftools parses everything else
    # (symbols, sections) and cross-checks this parser in tests/loader/test_read_elf.py.
    if arch is Arch.X86_64:
        e_entry, e_phoff = struct.unpack_from("<QQ", head, 24)
        e_phentsize, e_phnum = struct.unpack_from("<HH", head, 54)
        phfmt = "<IIQQQQQQ"     # type flags offset vaddr paddr filesz memsz align
    else:
        e_entry, e_phoff = struct.unpack_from("<II", head, 24)
        e_phentsize, e_phnum = struct.unpack_from("<HH", head, 42)
        phfmt = "<IIIIIIII"     # type offset vaddr paddr filesz memsz flags align
    phentsize = struct.calcsize(phfmt)
    if e_phentsize != phentsize:
        raise _fail(path, f"e_phentsize {e_phentsize} != {phentsize}")
    if e_phnum < 1 or e_phnum > 65536 // phentsize:
        raise _fail(path, f"bad program header count {e_phnum}")
    if e_phoff + e_phnum * phentsize > size:
        raise _fail(path, "program headers past end of file")
    with open(host_path, "rb") as stream:
        stream.seek(e_phoff)
        table = stream.read(e_phnum * phentsize)
    if len(table) != e_phnum * phentsize:
        raise _fail(path, "program headers past end of file")
    phdrs = []
    for i in range(e_phnum):
        f = struct.unpack_from(phfmt, table, i * phentsize)
        if arch is Arch.X86_64:
            p_type, p_flags, p_offset, p_vaddr, _pa, p_filesz, p_memsz, p_align = f
        else:
            p_type, p_offset, p_vaddr, _pa, p_filesz, p_memsz, p_flags, p_align = f
        phdrs.append(Phdr(p_type, p_flags, p_offset, p_vaddr, p_filesz, p_memsz, p_align))

    # Phase 3: program headers (compare elf_read_implies_exec, PT_INTERP, elf_map's checks).
    if any(p.p_type == PT_INTERP for p in phdrs):
        raise ExecError(path, "dynamically linked ELF is not supported yet (it has PT_INTERP); "
                              "build it with -static or -static-pie", 126)
    layout = arch.layout
    loads = [p for p in phdrs if p.p_type == PT_LOAD]
    if not loads:
        raise _fail(path, "no PT_LOAD segment")
    prev_end = 0
    for p in loads:
        if p.p_filesz > p.p_memsz:
            raise _fail(path, "PT_LOAD with p_filesz > p_memsz")
        if p.p_offset + p.p_filesz > size:
            raise _fail(path, "PT_LOAD extends past end of file (truncated?)")
        if page_offset(p.p_vaddr) != page_offset(p.p_offset):
            raise _fail(path, "PT_LOAD p_vaddr and p_offset disagree modulo the page size")
        if p.p_vaddr + p.p_memsz > layout.task_size or p.p_vaddr + p.p_memsz < p.p_vaddr:
            raise _fail(path, "PT_LOAD outside the user address space")
        if p.p_vaddr < prev_end:
            raise _fail(path, "PT_LOAD segments overlap or are not sorted")
        prev_end = p.p_vaddr + p.p_memsz
    if e_type == ET_EXEC and not any(p.p_vaddr <= e_entry < p.p_vaddr + p.p_memsz for p in loads):
        raise _fail(path, f"entry point {e_entry:#x} is outside every PT_LOAD")
    stack = [p for p in phdrs if p.p_type == PT_GNU_STACK]
    exec_stack = bool(stack[0].p_flags & PF_X) if stack else None
    return ElfImage(path, host_path, arch, e_type, e_entry, e_phoff, e_phnum, phentsize, phdrs,
                    size, exec_stack)


def make_prot(p_flags: int, read_implies_exec: bool) -> PROT:
    """Compare Linux's make_prot: PF_R/W/X to PROT_*, plus READ_IMPLIES_EXEC."""
    prot = PROT.NONE
    if p_flags & PF_R:
        prot |= PROT.READ
    if p_flags & PF_W:
        prot |= PROT.WRITE
    if p_flags & PF_X:
        prot |= PROT.EXEC
    if read_implies_exec and prot & PROT.READ:
        prot |= PROT.EXEC
    return prot


def load_elf_binary(mm: MM, image: ElfImage) -> LoadResult:
    """Map every PT_LOAD of a validated image into `mm` (an empty address space).

    Compare Linux's load_elf_binary: only VMAs are created here. Each PT_LOAD maps whole file
    pages from ELF_PAGESTART(p_vaddr); the bss beyond the last file page is anonymous memory.
    """
    loads = image.loads
    first, last = loads[0], loads[-1]

    # Phase 1: load_bias. ET_EXEC is mapped where it says; a static-pie (ET_DYN without
    # PT_INTERP) goes where mmap would put the whole image, top-down below mmap_base.
    if image.e_type == ET_DYN:
        total = page_up(last.p_vaddr + last.p_memsz) - page_down(first.p_vaddr)
        load_bias = mm.get_unmapped_area(total) - page_down(first.p_vaddr)
    else:
        load_bias = 0

    # Phase 2: one file-backed VMA per PT_LOAD, plus the anonymous bss (compare elf_load).
    file = MappedFile.open(image.host_path, os.path.realpath(image.host_path))
    elf_brk = 0
    end_code, start_data = 0, 1 << 64
    for p in loads:
        prot = make_prot(p.p_flags, image.read_implies_exec)
        start = page_down(load_bias + p.p_vaddr)
        file_part_end = page_up(load_bias + p.p_vaddr + p.p_filesz)
        zero_end = page_up(load_bias + p.p_vaddr + p.p_memsz)
        if p.p_filesz:
            # padzero: the bytes of the last file page past p_filesz read as zero; Linux
            # clears them at exec, pyexec when the page is first touched.
            file_end = p.p_offset + p.p_filesz if p.p_memsz > p.p_filesz else None
            mm.mmap_region(start, file_part_end - start, prot, VM.NONE, file,
                           page_down(p.p_offset), file_end)
        else:
            file_part_end = start
        if zero_end > file_part_end:
            mm.mmap_region(file_part_end, zero_end - file_part_end, prot)
        if p.p_flags & PF_X:
            end_code = max(end_code, load_bias + p.p_vaddr + p.p_filesz)
        else:
            start_data = min(start_data, load_bias + p.p_vaddr)
        elf_brk = max(elf_brk, load_bias + p.p_vaddr + p.p_memsz)

    # Phase 3: where the program headers are in memory (AT_PHDR).
    phdr_addr = 0
    for p in image.phdrs:
        if p.p_type == PT_PHDR:
            phdr_addr = p.p_vaddr + load_bias
    if not phdr_addr:
        for p in loads:
            if p.p_offset <= image.e_phoff < p.p_offset + p.p_filesz:
                phdr_addr = image.e_phoff - p.p_offset + p.p_vaddr + load_bias
                break

    # Phase 4: set_brk. A static-pie's brk starts at ELF_ET_DYN_BASE, as this kernel does.
    if image.e_type == ET_DYN:
        start_brk = mm.layout.elf_et_dyn_base
    else:
        start_brk = page_up(elf_brk)
    mm.start_brk = mm.brk = start_brk
    return LoadResult(image.e_entry + load_bias, load_bias, phdr_addr, start_brk, end_code,
                      start_data if start_data < 1 << 64 else 0)
