"""read_elf (loader/elf.py): what it returns for the built samples, and how it refuses bad files.

Headers are checked against `readelf`; exit statuses against what bash reports when the host
kernel refuses the same file (126 cannot execute, 127 not found).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from emulator.errors import ExecError
from loader.elf import ET_DYN, ET_EXEC, PT_LOAD, Arch, read_elf

EXPECTED_ARCH = {"x86_64": Arch.X86_64, "i386": Arch.I386, "pie": Arch.X86_64, "musl": Arch.X86_64}


def readelf(path: Path) -> tuple[str, int, list[tuple[int, int, int, int, str]]]:
    """(type, entry, [(offset, vaddr, filesz, memsz, flags) of each LOAD]) from readelf -lhW."""
    out = subprocess.run(["readelf", "-hlW", str(path)], capture_output=True, text=True,
                         check=True).stdout
    etype = re.search(r"^\s*Type:\s+(\S+)", out, re.M).group(1)          # type: ignore[union-attr]
    entry = int(re.search(r"Entry point address:\s+(0x[0-9a-f]+)", out).group(1), 16)  # type: ignore[union-attr]
    loads = []
    for m in re.finditer(r"^\s*LOAD\s+(0x\S+)\s+(0x\S+)\s+0x\S+\s+(0x\S+)\s+(0x\S+)\s+([RWE ]+?)\s+0x",
                         out, re.M):
        loads.append((int(m[1], 16), int(m[2], 16), int(m[3], 16), int(m[4], 16),
                      m[5].replace(" ", "")))
    return etype, entry, loads


def test_headers_match_readelf(variant: str, sample: Callable[[str, str], Path]) -> None:
    path = sample("hello", variant)
    image = read_elf(str(path))
    etype, entry, loads = readelf(path)
    assert image.arch is EXPECTED_ARCH[variant]
    assert image.e_type == {"EXEC": ET_EXEC, "DYN": ET_DYN}[etype]
    assert image.e_type == (ET_DYN if variant == "pie" else ET_EXEC)
    assert image.e_entry == entry
    flags = {4: "R", 2: "W", 1: "E"}
    assert [(p.p_offset, p.p_vaddr, p.p_filesz, p.p_memsz,
             "".join(c for bit, c in flags.items() if p.p_flags & bit)) for p in image.loads] == loads
    assert all(p.p_type == PT_LOAD for p in image.loads)
    assert image.file_size == path.stat().st_size
    assert image.path == str(path) and image.host_path == os.path.abspath(path)
    assert image.e_phentsize == (56 if image.arch is Arch.X86_64 else 32)
    assert image.e_phnum == len(image.phdrs)


# --- crafted bad files ------------------------------------------------------------------------

class Patch:
    """A copy of a sample with header fields rewritten through struct."""

    def __init__(self, data: bytes) -> None:
        self.data = bytearray(data)
        self.is64 = data[4] == 2

    def set(self, off64: int, off32: int, fmt: str, value: int) -> None:
        struct.pack_into("<" + fmt, self.data, off64 if self.is64 else off32, value)

    def get(self, off64: int, off32: int, fmt: str) -> int:
        return struct.unpack_from("<" + fmt, self.data, off64 if self.is64 else off32)[0]

    def phdr(self, i: int) -> int:
        phoff = self.get(32, 28, "Q" if self.is64 else "I")
        return phoff + i * self.get(54, 42, "H")

    def last_load(self) -> int:
        loads = [self.phdr(i) for i in range(self.get(56, 44, "H"))
                 if struct.unpack_from("<I", self.data, self.phdr(i))[0] == PT_LOAD]
        return loads[-1]


def phnum_zero(p: Patch) -> None:
    p.set(56, 44, "H", 0)


def bad_phentsize(p: Patch) -> None:
    p.set(54, 42, "H", p.get(54, 42, "H") + 8)


def load_past_eof(p: Patch) -> None:
    ph = p.last_load()
    word = "Q" if p.is64 else "I"
    o_off, o_filesz, o_memsz = (8, 32, 40) if p.is64 else (4, 16, 20)
    offset = struct.unpack_from("<" + word, p.data, ph + o_off)[0]
    filesz = len(p.data) - offset + 0x3000
    struct.pack_into("<" + word, p.data, ph + o_filesz, filesz)
    memsz = struct.unpack_from("<" + word, p.data, ph + o_memsz)[0]
    struct.pack_into("<" + word, p.data, ph + o_memsz, max(memsz, filesz))


def et_rel(p: Patch) -> None:
    p.set(16, 16, "H", 1)


PATCHES = {"phnum-0": phnum_zero, "bad-phentsize": bad_phentsize, "et-rel": et_rel}


def native_status(path: Path) -> int:
    """What bash reports when the host kernel is asked to execute `path`."""
    bash = shutil.which("bash")
    assert bash
    return subprocess.run([bash, "-c", 'exec "$0"', str(path)], capture_output=True,
                          stdin=subprocess.DEVNULL, timeout=30).returncode


@pytest.fixture(params=["x86_64", "i386"])
def base(request: pytest.FixtureRequest, sample: Callable[[str, str], Path]) -> bytes:
    return sample("hello", request.param).read_bytes()


@pytest.mark.parametrize("kind", PATCHES)
def test_malformed_headers_are_refused_like_the_kernel(kind: str, base: bytes, tmp_path: Path) -> None:
    patch = Patch(base)
    PATCHES[kind](patch)
    bad = tmp_path / kind
    bad.write_bytes(bytes(patch.data))
    bad.chmod(0o755)
    with pytest.raises(ExecError) as info:
        read_elf(str(bad))
    status = native_status(bad)
    assert status == 126, "the host kernel accepted it: the patch is wrong"
    assert info.value.status == status
    assert "Exec format error" in info.value.reason
    assert info.value.path == str(bad)


def test_load_past_eof_is_refused(base: bytes, tmp_path: Path) -> None:
    # Linux maps such a file and the process faults later; pyexec refuses it up front.
    patch = Patch(base)
    load_past_eof(patch)
    bad = tmp_path / "past-eof"
    bad.write_bytes(bytes(patch.data))
    bad.chmod(0o755)
    with pytest.raises(ExecError) as info:
        read_elf(str(bad))
    assert info.value.status == 126
    assert "past end of file" in info.value.reason


def test_missing_file_is_127(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-program"
    with pytest.raises(ExecError) as info:
        read_elf(str(missing))
    assert info.value.status == native_status(missing) == 127
    assert info.value.reason == "No such file or directory"


def test_not_executable_is_permission_denied(tmp_path: Path, sample: Callable[[str, str], Path]) -> None:
    prog = tmp_path / "hello"
    shutil.copyfile(sample("hello", "x86_64"), prog)
    prog.chmod(0o644)
    with pytest.raises(ExecError) as info:
        read_elf(str(prog))
    assert info.value.status == native_status(prog) == 126
    assert info.value.reason == "Permission denied"
    prog.chmod(0o755)
    assert read_elf(str(prog)).arch is Arch.X86_64


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExecError) as info:
        read_elf(str(tmp_path))
    assert info.value.status == native_status(tmp_path) == 126
