"""loader.elf reads the ELF and program headers with struct; pyelftools must agree."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from loader.elf import Arch, read_elf


@pytest.mark.parametrize("name", ["hello", "heap", "signals"])
def test_program_headers_match_pyelftools(name: str, variant: str,
                                          sample: Callable[[str, str], Path]) -> None:
    path = sample(name, variant)
    image = read_elf(str(path))
    with open(path, "rb") as f:
        elf = ELFFile(f)
        assert image.e_entry == elf.header["e_entry"]
        assert image.e_phoff == elf.header["e_phoff"]
        assert image.e_phnum == elf.header["e_phnum"] == len(image.phdrs)
        assert image.arch is (Arch.X86_64 if elf.elfclass == 64 else Arch.I386)
        for mine, seg in zip(image.phdrs, elf.iter_segments()):
            h = seg.header
            assert (mine.p_offset, mine.p_vaddr, mine.p_filesz, mine.p_memsz, mine.p_flags,
                    mine.p_align) == (h["p_offset"], h["p_vaddr"], h["p_filesz"], h["p_memsz"],
                                      h["p_flags"], h["p_align"])
            if seg.header["p_type"] == "PT_LOAD":
                assert mine.p_type == 1
