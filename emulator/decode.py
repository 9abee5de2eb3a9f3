"""Instruction decoding with capstone (imported lazily: only crash reports and tracing need it).

The TLB-fill hook only learns the page of a faulting access; the exact si_addr Linux reports is
the effective address of the memory operand, recomputed here from the registers.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional, Tuple

from loader.elf import Arch

if TYPE_CHECKING:
    from emulator.machine import Machine

_MD: dict = {}


def disassembler(arch: Arch) -> Any:
    md = _MD.get(arch)
    if md is None:
        import capstone
        md = capstone.Cs(capstone.CS_ARCH_X86,
                         capstone.CS_MODE_64 if arch is Arch.X86_64 else capstone.CS_MODE_32)
        md.detail = True
        _MD[arch] = md
    return md


def decode_one(arch: Arch, code: bytes, addr: int) -> Optional[Any]:
    for insn in disassembler(arch).disasm(code, addr, 1):
        return insn
    return None


def _reg_value(machine: "Machine", insn: Any, reg: int) -> int:
    """Value of a capstone register id, read through Unicorn by name."""
    from emulator import ucconst as x86
    if reg == 0:
        return 0
    name = insn.reg_name(reg)
    if name in ("rip", "eip"):
        return insn.address + insn.size
    uc_id = getattr(x86, f"UC_X86_REG_{name.upper()}", None)
    return machine.reg(uc_id) if uc_id is not None else 0


def memory_operands(machine: "Machine", arch: Arch, insn: Any) -> List[Tuple[int, int]]:
    """(effective address, size) of each explicit memory operand of insn."""
    from capstone import x86_const as cx
    from emulator import ucconst as x86
    mask = (1 << 64) - 1 if arch is Arch.X86_64 else 0xFFFFFFFF
    out = []
    for op in insn.operands:
        if op.type != cx.X86_OP_MEM:
            continue
        mem = op.mem
        addr = mem.disp + _reg_value(machine, insn, mem.base) + \
            _reg_value(machine, insn, mem.index) * mem.scale
        seg = insn.reg_name(mem.segment) if mem.segment else ""
        if seg == "fs" and arch is Arch.X86_64:
            addr += machine.reg(x86.UC_X86_REG_FS_BASE)
        elif seg == "gs" and arch is Arch.X86_64:
            addr += machine.reg(x86.UC_X86_REG_GS_BASE)
        out.append((addr & mask, op.size))
    return out


def fault_address(machine: "Machine", arch: Arch, code: bytes, pc: int, page: int) -> int:
    """The exact address within `page` that the instruction at pc touched; `page` itself when
    the access was implicit (push, call, string ops) and cannot be pinned down."""
    insn = decode_one(arch, code, pc)
    if insn is None:
        return page
    for addr, size in memory_operands(machine, arch, insn):
        if addr & ~0xFFF == page or (addr + max(size, 1) - 1) & ~0xFFF == page:
            return max(addr, page)
    return page
