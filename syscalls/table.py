"""The syscall table of an ABI."""
from __future__ import annotations

from typing import Dict

from loader.elf import Arch

from .dispatch import Syscall


def table_for(arch: Arch) -> Dict[int, Syscall]:
    if arch is Arch.X86_64:
        from .table_x86_64 import SYSCALLS
    else:
        from .table_i386 import SYSCALLS
    return SYSCALLS
