"""Register views for the debugger and the gdb stub: gdb's names, order and types.

The order of each TDESC list is the order of the target description the stub sends (gdb numbers
the registers of a remote target in XML order), so `g` packets, `p N` and the XML agree.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional

from emulator import ucconst as x86

from loader.elf import Arch

if TYPE_CHECKING:
    from emulator.process import Process


class RegisterError(Exception):
    pass


@dataclass(frozen=True)
class Reg:
    name: str
    bits: int
    type: str              # the gdb type in the target description
    feature: str           # core / sse / linux / segments
    uc: Optional[int]      # Unicorn id; None: not emulated (reads as zero)
    group: str = ""


def _core(names: List[str], bits: int, ptr: Dict[str, str]) -> List[Reg]:
    return [Reg(n, bits, ptr.get(n, "int64" if bits == 64 else "int32"), "core",
                _UC[n.upper()]) for n in names]


_UC: Dict[str, int] = {name[len("UC_X86_REG_"):]: value for name, value in vars(x86).items()
                       if name.startswith("UC_X86_REG_")}

_SEGS = ["cs", "ss", "ds", "es", "fs", "gs"]
_FPU_CTRL = [("fctrl", "FPCW"), ("fstat", "FPSW"), ("ftag", "FPTAG"), ("fiseg", "FCS"),
             ("fioff", "FIP"), ("foseg", "FDS"), ("fooff", "FDP"), ("fop", "FOP")]


def _x87() -> List[Reg]:
    regs = [Reg(f"st{i}", 80, "i387_ext", "core", _UC[f"FP{i}"]) for i in range(8)]
    regs += [Reg(n, 32, "int", "core", _UC.get(u), "float") for n, u in _FPU_CTRL]
    return regs


def _sse(count: int) -> List[Reg]:
    regs = [Reg(f"xmm{i}", 128, "vec128", "sse", _UC[f"XMM{i}"]) for i in range(count)]
    regs.append(Reg("mxcsr", 32, "i386_mxcsr", "sse", _UC["MXCSR"], "vector"))
    return regs


GENERAL_X86_64 = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10",
                  "r11", "r12", "r13", "r14", "r15", "rip", "eflags"] + _SEGS
GENERAL_I386 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags"] + _SEGS

TDESC: Dict[Arch, List[Reg]] = {
    Arch.X86_64: (_core(GENERAL_X86_64[:16], 64, {"rbp": "data_ptr", "rsp": "data_ptr"})
                  + [Reg("rip", 64, "code_ptr", "core", _UC["RIP"]),
                     Reg("eflags", 32, "i386_eflags", "core", _UC["EFLAGS"])]
                  + _core(_SEGS, 32, {}) + _x87() + _sse(16)
                  + [Reg("orig_rax", 64, "int", "linux", None),
                     Reg("fs_base", 64, "int", "segments", _UC["FS_BASE"]),
                     Reg("gs_base", 64, "int", "segments", _UC["GS_BASE"])]),
    Arch.I386: (_core(GENERAL_I386[:8], 32, {"ebp": "data_ptr", "esp": "data_ptr"})
                + [Reg("eip", 32, "code_ptr", "core", _UC["EIP"]),
                   Reg("eflags", 32, "i386_eflags", "core", _UC["EFLAGS"])]
                + _core(_SEGS, 32, {}) + _x87() + _sse(8)
                + [Reg("orig_eax", 32, "int", "linux", None)]),
}

# `info registers` without arguments: gdb's general group.
GENERAL: Dict[Arch, List[str]] = {
    Arch.X86_64: GENERAL_X86_64 + ["fs_base", "gs_base"],
    Arch.I386: GENERAL_I386,
}

ALIASES: Dict[Arch, Dict[str, str]] = {
    Arch.X86_64: {"pc": "rip", "sp": "rsp", "fp": "rbp", "ps": "eflags"},
    Arch.I386: {"pc": "eip", "sp": "esp", "fp": "ebp", "ps": "eflags"},
}

# Pseudo registers gdb offers on x86-64 (eax, ax, al...) and on i386 (ax, al...).
_PSEUDO_32 = ["eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp"] + \
    [f"r{i}d" for i in range(8, 16)]
_PSEUDO_16 = ["ax", "bx", "cx", "dx", "si", "di", "bp", "sp"] + [f"r{i}w" for i in range(8, 16)]
_PSEUDO_8 = ["al", "bl", "cl", "dl", "sil", "dil", "bpl", "spl", "ah", "bh", "ch", "dh"] + \
    [f"r{i}l" for i in range(8, 16)]
_UC_PSEUDO = {f"r{i}d": f"R{i}D" for i in range(8, 16)} | \
    {f"r{i}w": f"R{i}W" for i in range(8, 16)} | {f"r{i}l": f"R{i}B" for i in range(8, 16)}


def _pseudo(arch: Arch) -> Dict[str, int]:
    names = _PSEUDO_16 + _PSEUDO_8
    if arch is Arch.X86_64:
        names = _PSEUDO_32 + names
    else:
        names = [n for n in names if not n.startswith("r") and n not in
                 ("sil", "dil", "bpl", "spl")]
    width = {n: 32 for n in _PSEUDO_32} | {n: 16 for n in _PSEUDO_16} | {n: 8 for n in _PSEUDO_8}
    return {n: width[n] for n in names}


PSEUDO: Dict[Arch, Dict[str, int]] = {a: _pseudo(a) for a in Arch}

EFLAGS_BITS = [(0, "CF"), (2, "PF"), (4, "AF"), (6, "ZF"), (7, "SF"), (8, "TF"), (9, "IF"),
               (10, "DF"), (11, "OF"), (14, "NT"), (16, "RF"), (17, "VM"), (18, "AC"),
               (19, "VIF"), (20, "VIP"), (21, "ID")]


def canonical(arch: Arch, name: str) -> str:
    name = name.lower().lstrip("$")
    return ALIASES[arch].get(name, name)


def width(arch: Arch, name: str) -> int:
    """Bits of a register name (after aliases); RegisterError for unknown names."""
    name = canonical(arch, name)
    for r in TDESC[arch]:
        if r.name == name:
            return r.bits
    if name in PSEUDO[arch]:
        return PSEUDO[arch][name]
    raise RegisterError(f"Invalid register `{name}'")


def _uc_id(arch: Arch, name: str) -> int:
    for r in TDESC[arch]:
        if r.name == name:
            if r.uc is None:
                raise RegisterError(f"register {name} is not emulated")
            return r.uc
    if name in PSEUDO[arch]:
        return _UC[_UC_PSEUDO.get(name, name).upper()]
    raise RegisterError(f"Invalid register `{name}'")


def read_register(proc: "Process", name: str) -> int:
    """An integer register, a pseudo register or an alias ($pc, $sp, $fp)."""
    arch = proc.arch
    name = canonical(arch, name)
    if name in ("orig_rax", "orig_eax"):
        return 0xFFFFFFFFFFFFFFFF if arch is Arch.X86_64 else 0xFFFFFFFF
    reg = next((r for r in TDESC[arch] if r.name == name), None)
    if reg is not None and reg.bits > 64:
        return raw_value(proc, reg)
    value = proc.machine.reg(_uc_id(arch, name))
    bits = width(arch, name)
    return value & ((1 << bits) - 1)


def write_register(proc: "Process", name: str, value: int) -> None:
    arch = proc.arch
    name = canonical(arch, name)
    bits = width(arch, name)
    uc = _uc_id(arch, name)
    if bits > 64:
        proc.machine.uc.reg_write(uc, value & ((1 << bits) - 1))
        return
    proc.machine.set_reg(uc, value & ((1 << bits) - 1))


def raw_value(proc: "Process", reg: Reg) -> int:
    """Any register of the target description as an unsigned integer of reg.bits (x87 as the
    80-bit extended value: 64-bit mantissa, then sign and exponent)."""
    if reg.uc is None:
        if reg.name in ("orig_rax", "orig_eax"):
            return (1 << reg.bits) - 1          # -1: not in a syscall
        return 0
    if reg.type == "i387_ext":
        mantissa, exponent = proc.machine.uc.reg_read(reg.uc)
        return (mantissa & ((1 << 64) - 1)) | ((exponent & 0xFFFF) << 64)
    if reg.bits > 64:
        return int(proc.machine.uc.reg_read(reg.uc)) & ((1 << reg.bits) - 1)
    return proc.machine.reg(reg.uc) & ((1 << reg.bits) - 1)


def write_raw(proc: "Process", reg: Reg, value: int) -> None:
    if reg.uc is None:
        return
    if reg.type == "i387_ext":
        proc.machine.uc.reg_write(reg.uc, (value & ((1 << 64) - 1), (value >> 64) & 0xFFFF))
    elif reg.bits > 64:
        proc.machine.uc.reg_write(reg.uc, value)
    elif reg.name in ("cs", "ss", "ds", "es", "fs", "gs"):
        return      # gdb writes back what it read; loading selectors needs descriptors
    else:
        proc.machine.set_reg(reg.uc, value)


def eflags_text(value: int) -> str:
    """gdb's flags view: [ PF ZF IF ]."""
    return "[ " + " ".join(name for bit, name in EFLAGS_BITS if value >> bit & 1) + " ]"
