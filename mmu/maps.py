"""/proc/<pid>/maps in the kernel's exact format (compare Linux's show_map_vma)."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .constants import PROT

if TYPE_CHECKING:
    from .mm import MM
    from .vma import VMA

NAME_COLUMN = 72   # seq_setwidth(m, 25 + sizeof(void *) * 6 - 1), then one space


def maps_line(mm: "MM", vma: "VMA") -> str:
    p = vma.prot
    perms = ("r" if p & PROT.READ else "-") + ("w" if p & PROT.WRITE else "-") + \
        ("x" if p & PROT.EXEC else "-") + ("s" if vma.shared else "p")
    if vma.file is not None:
        pgoff, dev, ino = vma.pgoff, vma.file.dev, vma.file.ino
    else:
        pgoff, dev, ino = 0, 0, 0
    line = (f"{vma.start:08x}-{vma.end:08x} {perms} {pgoff:08x} "
            f"{os.major(dev):02x}:{os.minor(dev):02x} {ino} ")
    name = mm.vma_name(vma)
    if name:
        line = line.ljust(NAME_COLUMN) + " " + name
    return line


def render_maps(mm: "MM") -> str:
    return "".join(maps_line(mm, vma) + "\n" for vma in mm.vmas)
