"""pyexec's handling of programs it cannot run.

A missing program exits 127, anything that is not a runnable static x86-64 or
i386 ELF exits 126; either way stderr is one `pyexec: ...` line, never a
traceback.  The bad inputs are crafted in tmp_path from a built sample.
"""

from __future__ import annotations

import random
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
HELLO_C = REPO_ROOT / "samples" / "hello.c"
EM_ARM = 40
PT_LOAD = 1


class Elf:
    """Just enough ELF header knowledge to patch a sample."""

    def __init__(self, data: bytes) -> None:
        assert data[:4] == b"\x7fELF"
        self.data = bytearray(data)
        self.is64 = data[4] == 2

    def _field(self, off64: int, off32: int, wide: bool) -> tuple[int, str]:
        fmt = "<Q" if wide and self.is64 else ("<I" if wide else "<H")
        return (off64 if self.is64 else off32), fmt

    def get(self, off64: int, off32: int, wide: bool = False) -> int:
        off, fmt = self._field(off64, off32, wide)
        return int(struct.unpack_from(fmt, self.data, off)[0])

    def put(self, value: int, off64: int, off32: int, wide: bool = False) -> None:
        off, fmt = self._field(off64, off32, wide)
        struct.pack_into(fmt, self.data, off, value)

    def phdrs(self) -> list[int]:
        phoff = self.get(32, 28, wide=True)
        entsize = self.get(54, 42)
        return [phoff + i * entsize for i in range(self.get(56, 44))]

    def make_load_exceed_file(self) -> None:
        """Grow the last PT_LOAD's p_filesz (and p_memsz) past the end of file."""
        loads = [ph for ph in self.phdrs() if struct.unpack_from("<I", self.data, ph)[0] == PT_LOAD]
        ph = loads[-1]
        # (p_offset, p_filesz, p_memsz) offsets within a program header
        o_off, o_filesz, o_memsz = (8, 32, 40) if self.is64 else (4, 16, 20)
        fmt = "<Q" if self.is64 else "<I"
        p_offset = struct.unpack_from(fmt, self.data, ph + o_off)[0]
        p_memsz = struct.unpack_from(fmt, self.data, ph + o_memsz)[0]
        filesz = len(self.data) - p_offset + 0x10000
        struct.pack_into(fmt, self.data, ph + o_filesz, filesz)
        struct.pack_into(fmt, self.data, ph + o_memsz, max(p_memsz, filesz))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o755)
    return path


def _compile(tmp: Path, name: str, *flags: str) -> Path:
    out = tmp / name
    subprocess.run(["gcc", *flags, "-o", str(out), str(HELLO_C)], check=True, capture_output=True)
    return out


def _patched(tmp: Path, name: str, base: bytes, patch: Callable[[Elf], None]) -> Path:
    elf = Elf(base)
    patch(elf)
    return _write(tmp / name, bytes(elf.data))


ARCH_FLAGS: dict[str, list[str]] = {"x86_64": [], "i386": ["-m32"]}

# name -> builder(tmp_path, sample bytes, gcc arch flags) -> path of the bad program
BUILDERS: dict[str, Callable[[Path, bytes, list[str]], Path]] = {
    "text": lambda t, b, f: _write(t / "notes.txt", b"just some text\nnot a program\n"),
    "random": lambda t, b, f: _write(t / "random.bin", b"\x00" + random.Random(1234).randbytes(8191)),
    "truncated": lambda t, b, f: _write(t / "truncated", b[:30]),
    "arm-machine": lambda t, b, f: _patched(t, "arm", b, lambda e: e.put(EM_ARM, 18, 18)),
    "et-rel": lambda t, b, f: _compile(t, "hello.o", "-c", *f),
    "phnum-0": lambda t, b, f: _patched(t, "phnum0", b, lambda e: e.put(0, 56, 44)),
    "load-past-eof": lambda t, b, f: _patched(t, "loadeof", b, Elf.make_load_exceed_file),
    "dynamic": lambda t, b, f: _compile(t, "hello-dyn", *f),
}
ARCH_INDEPENDENT = {"text", "random"}

BAD_INPUTS = [
    pytest.param(kind, arch, id=kind if kind in ARCH_INDEPENDENT else f"{kind}-{arch}")
    for kind in BUILDERS
    for arch in ARCH_FLAGS
    if not (kind in ARCH_INDEPENDENT and arch != "x86_64")
]


def _assert_one_pyexec_line(stderr: bytes) -> None:
    text = stderr.decode(errors="replace")
    assert "Traceback" not in text, text
    assert text.endswith("\n") and text.count("\n") == 1, f"expected exactly one line, got:\n{text}"
    assert text.startswith("pyexec: "), text


def test_missing_program(tmp_path: Path, run_pyexec: Callable[..., Any]) -> None:
    path = tmp_path / "does-not-exist"
    proc = run_pyexec([str(path), "arg"])
    assert proc.returncode == 127, proc.stderr
    assert proc.stderr.decode(errors="replace") == f"pyexec: {path}: No such file or directory\n"
    assert proc.stdout == b""


@pytest.mark.parametrize(("kind", "arch"), BAD_INPUTS)
def test_bad_program(
    kind: str,
    arch: str,
    tmp_path: Path,
    sample: Callable[[str, str], Path],
    run_pyexec: Callable[..., Any],
) -> None:
    base = sample("hello", arch).read_bytes()
    bad = BUILDERS[kind](tmp_path, base, ARCH_FLAGS[arch])
    proc = run_pyexec([str(bad)])
    assert proc.returncode == 126, proc.stderr.decode(errors="replace")
    _assert_one_pyexec_line(proc.stderr)
    assert proc.stdout == b""
