"""x86 disassembly through libcapstone directly (cs_open / cs_disasm / cs_free via ctypes).

`import capstone` costs ~130 ms and 10 MB (the binding imports every architecture's module);
the instruction counter, which `--stats` turns on, needs only instruction boundaries and
mnemonics, so it loads the library the capstone wheel ships without importing the package.
When the library cannot be found this way, the capstone package itself is used.
"""
from __future__ import annotations

import ctypes
import logging
import sys
from pathlib import Path
from typing import Any, Container, Iterator, List, Optional, Tuple

from loader.elf import Arch

log = logging.getLogger("pyexec.disasm")

CS_ARCH_X86 = 3
CS_MODE_32, CS_MODE_64 = 1 << 2, 1 << 3

Insn = Tuple[int, int, str, str]        # address, size, mnemonic, operands


class _CsInsn(ctypes.Structure):
    """cs_insn of capstone 5 (the detail pointer stays NULL: CS_OPT_DETAIL is off)."""
    _fields_ = [("id", ctypes.c_uint), ("address", ctypes.c_uint64), ("size", ctypes.c_uint16),
                ("bytes", ctypes.c_ubyte * 24), ("mnemonic", ctypes.c_char * 32),
                ("op_str", ctypes.c_char * 160), ("detail", ctypes.c_void_p)]


_lib: List[Optional[ctypes.CDLL]] = []


def _library() -> Optional[ctypes.CDLL]:
    if _lib:
        return _lib[0]
    lib = None
    for entry in sys.path:         # where `import capstone` would find the package
        for name in ("libcapstone.so", "libcapstone.so.5"):
            path = Path(entry or ".") / "capstone" / "lib" / name
            if path.is_file():
                try:
                    lib = ctypes.CDLL(str(path))
                    break
                except OSError as exc:
                    log.debug("cannot load %s: %s", path, exc)
        if lib is not None:
            break
    if lib is not None:
        lib.cs_open.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_size_t)]
        lib.cs_open.restype = ctypes.c_int
        lib.cs_disasm.argtypes = [ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t,
                                  ctypes.c_uint64, ctypes.c_size_t,
                                  ctypes.POINTER(ctypes.POINTER(_CsInsn))]
        lib.cs_disasm.restype = ctypes.c_size_t
        lib.cs_free.argtypes = [ctypes.POINTER(_CsInsn), ctypes.c_size_t]
        lib.cs_free.restype = None
    _lib.append(lib)
    return lib


class Decoder:
    """Intel-syntax x86 decoding for one architecture."""

    def __init__(self, arch: Arch) -> None:
        mode = CS_MODE_64 if arch is Arch.X86_64 else CS_MODE_32
        self._lib = _library()
        self._handle = ctypes.c_size_t()
        self._cs: Any = None
        if self._lib is None or self._lib.cs_open(CS_ARCH_X86, mode, ctypes.byref(self._handle)):
            import capstone              # the slow but sure way
            self._lib = None
            self._cs = capstone.Cs(capstone.CS_ARCH_X86, mode)

    def native_handle(self) -> Optional[Tuple[int, int, int]]:
        """(csh, cs_disasm, cs_free) for C code, or None when going through the package."""
        if self._lib is None:
            return None
        return (self._handle.value, ctypes.cast(self._lib.cs_disasm, ctypes.c_void_p).value or 0,
                ctypes.cast(self._lib.cs_free, ctypes.c_void_p).value or 0)

    def scan(self, code: bytes, addr: int, watch: "Container[str]" = ()) -> Tuple[int, int, str,
                                                                         List[Insn]]:
        """For the instruction counter: (number of instructions, end of the last one, the first
        one's mnemonic, the instructions whose mnemonic is in `watch`), without building an
        object per instruction."""
        if self._cs is not None:
            insns = list(self._cs.disasm_lite(code, addr))
            if not insns:
                return 0, addr, "", []
            return (len(insns), insns[-1][0] + insns[-1][1], insns[0][2],
                    [i for i in insns if i[2] in watch])
        assert self._lib is not None
        p = ctypes.POINTER(_CsInsn)()
        n = self._lib.cs_disasm(self._handle.value, code, len(code), addr, 0, ctypes.byref(p))
        if not n:
            return 0, addr, "", []
        try:
            last = p[n - 1]
            first = p[0].mnemonic.decode()
            found: List[Insn] = []
            if watch:
                for i in range(n):
                    mn = p[i].mnemonic.decode()
                    if mn in watch:
                        found.append((p[i].address, p[i].size, mn, p[i].op_str.decode()))
            return n, last.address + last.size, first, found
        finally:
            self._lib.cs_free(p, n)

    def disasm(self, code: bytes, addr: int, count: int = 0) -> Iterator[Insn]:
        """(address, size, mnemonic, operands) of each instruction, up to the first bytes that
        do not decode."""
        if self._cs is not None:
            yield from self._cs.disasm_lite(code, addr, count)
            return
        assert self._lib is not None
        insns = ctypes.POINTER(_CsInsn)()
        n = self._lib.cs_disasm(self._handle.value, code, len(code), addr, count,
                                ctypes.byref(insns))
        try:
            out = [(insns[i].address, insns[i].size, insns[i].mnemonic.decode(),
                    insns[i].op_str.decode()) for i in range(n)]
        finally:
            if n:
                self._lib.cs_free(insns, n)
        yield from out
