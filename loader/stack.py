"""The initial stack: Linux's setup_arg_pages + create_elf_tables.

From the top of [stack] down: a NULL word, the executable's name (AT_EXECFN), the environment
strings, the argument strings; then, 16-byte aligned, AT_PLATFORM's string and AT_RANDOM's 16
bytes; then argc, argv[], NULL, envp[], NULL and the auxiliary vector, with sp 16-byte aligned.
"""
from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import List, Sequence, Tuple

from emulator.errors import ExecError
from mmu.constants import PAGE_SIZE, PROT, VM, page_down
from mmu.mm import MM
from mmu.uaccess import copy_to_user

from .elf import Arch, ElfImage, LoadResult


class AT(enum.IntEnum):
    """Auxiliary vector types (include/uapi/linux/auxvec.h, asm/auxvec.h)."""
    NULL = 0
    IGNORE = 1
    PHDR = 3
    PHENT = 4
    PHNUM = 5
    PAGESZ = 6
    BASE = 7
    FLAGS = 8
    ENTRY = 9
    UID = 11
    EUID = 12
    GID = 13
    EGID = 14
    PLATFORM = 15
    HWCAP = 16
    CLKTCK = 17
    SECURE = 23
    RANDOM = 25
    HWCAP2 = 26
    EXECFN = 31
    SYSINFO = 32
    SYSINFO_EHDR = 33
    MINSIGSTKSZ = 51


STACK_EXPAND = 128 * 1024        # setup_arg_pages: room below the arguments
MINSIGSTKSZ = 0x6F0              # what this machine's kernel reports (xsave area + frame)


@dataclass
class Credentials:
    uid: int
    euid: int
    gid: int
    egid: int


@dataclass
class InitialStack:
    sp: int
    auxv: List[Tuple[int, int]]
    argv_addr: int
    execfn_addr: int
    random_addr: int


def setup_stack(mm: MM, image: ElfImage, load: LoadResult, argv: Sequence[bytes],
                envp: Sequence[bytes], execfn: bytes, random16: bytes, hwcap: int,
                creds: Credentials) -> InitialStack:
    """Create [stack] and write argc/argv/envp/auxv into it; returns the initial sp."""
    arch = image.arch
    word = arch.word
    pack = "<Q" if word == 8 else "<I"
    top = mm.layout.stack_top

    # Phase 1: the strings, as copy_strings places them (last string highest).
    if sum(len(s) + 1 for s in (*argv, *envp)) > mm.stack_rlimit // 4:
        raise ExecError(image.path, "Argument list too long", 126)
    # Compare __bprm_mm_init: vm_end - sizeof(void *) of the (64-bit) kernel, also for i386.
    p = top - 8
    p -= len(execfn) + 1
    execfn_addr = p
    env_addrs: List[int] = []
    for s in reversed(envp):
        p -= len(s) + 1
        env_addrs.append(p)
    env_addrs.reverse()
    arg_addrs: List[int] = []
    for s in reversed(argv):
        p -= len(s) + 1
        arg_addrs.append(p)
    arg_addrs.reverse()
    strings_bottom = p

    # Phase 2: the [stack] VMA (setup_arg_pages grows it by 128 KB below the strings).
    prot = PROT.READ | PROT.WRITE
    if image.exec_stack or image.read_implies_exec:
        prot |= PROT.EXEC
    stack_start = page_down(strings_bottom) - STACK_EXPAND
    mm.mmap_region(stack_start, top - stack_start, prot, VM.GROWSDOWN, name="[stack]")

    # Phase 3: platform string and random bytes, below the 16-byte aligned strings.
    p &= ~15
    platform = b"x86_64" if arch is Arch.X86_64 else b"i686"
    p -= len(platform) + 1
    platform_addr = p
    p -= 16
    random_addr = p

    # Phase 4: the auxiliary vector, in the kernel's order. pyexec has no vDSO: AT_IGNORE
    # stands where AT_SYSINFO(_EHDR) would, and for the rseq entries (rseq is ENOSYS), so
    # that every address on the stack is the one the native process sees.
    auxv: List[Tuple[int, int]] = []
    if arch is Arch.I386:
        auxv.append((AT.IGNORE, 0))          # AT_SYSINFO
    auxv += [
        (AT.IGNORE, 0),                      # AT_SYSINFO_EHDR
        (AT.MINSIGSTKSZ, MINSIGSTKSZ),
        (AT.HWCAP, hwcap),
        (AT.PAGESZ, PAGE_SIZE),
        (AT.CLKTCK, 100),
        (AT.PHDR, load.phdr_addr),
        (AT.PHENT, image.e_phentsize),
        (AT.PHNUM, image.e_phnum),
        (AT.BASE, 0),
        (AT.FLAGS, 0),
        (AT.ENTRY, load.entry),
        (AT.UID, creds.uid),
        (AT.EUID, creds.euid),
        (AT.GID, creds.gid),
        (AT.EGID, creds.egid),
        (AT.SECURE, 0),
        (AT.RANDOM, random_addr),
        (AT.HWCAP2, 0),
        (AT.EXECFN, execfn_addr),
        (AT.PLATFORM, platform_addr),
        (AT.IGNORE, 0),                      # AT_RSEQ_FEATURE_SIZE
        (AT.IGNORE, 0),                      # AT_RSEQ_ALIGN
        (AT.NULL, 0),
    ]

    # Phase 5: sp, as STACK_ADD and STACK_ROUND compute it.
    sp = p - 2 * len(auxv) * word
    items = (len(argv) + 1) + (len(envp) + 1) + 1
    sp = (sp - items * word) & ~15

    # Phase 6: write it all (this faults the top stack pages in, as exec does natively).
    table = [len(argv), *arg_addrs, 0, *env_addrs, 0]
    for key, val in auxv:
        table += [key, val]
    blob = b"".join(struct.pack(pack, v) for v in table)
    copy_to_user(mm, sp, blob)
    copy_to_user(mm, random_addr, random16 + platform + b"\0")
    strings = b"".join(s + b"\0" for s in argv) + b"".join(s + b"\0" for s in envp) + \
        execfn + b"\0" + bytes(8)
    copy_to_user(mm, strings_bottom, strings)
    mm.start_stack = sp
    return InitialStack(sp, auxv, sp + word, execfn_addr, random_addr)
