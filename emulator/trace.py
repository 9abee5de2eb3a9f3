"""`--trace[=FILE]`: one line per executed instruction, `0xADDR: BYTES  MNEMONIC OPERANDS`
(capstone, Intel syntax), optionally followed by the registers it changed (`--trace-regs`,
an indented `reg=value ...` line), and optionally only inside address ranges
(`--trace-range=A-B`) or functions (`--trace-symbol=NAME`, from the ELF's .symtab, relocated
by the load bias of a static-pie).

This is a tracing mode, so it uses a Python UC_HOOK_CODE hook: registered for the ranges only
when filtered (Unicorn instruments just those instructions), for every address otherwise, and
for every address with --trace-regs and a filter (a change is only known at the next
instruction, wherever that is). A rep-prefixed instruction shows once per repetition. The hooks
are registered when the image is loaded and before its first instruction (the first return of
uc_emu_start, after the ring-3 entry stub), when the load bias is known.
"""
from __future__ import annotations

import ctypes
import logging
import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, TextIO, Tuple

from emulator import ucconst as x86
from emulator.ucbind import uclib
from emulator.ucconst import UC_HOOK_CODE

from loader.elf import Arch

if TYPE_CHECKING:
    from emulator.process import Process

log = logging.getLogger("pyexec.trace")

TRACE_REGS = {
    Arch.X86_64: ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10",
                  "r11", "r12", "r13", "r14", "r15", "eflags", "fs_base", "gs_base"],
    Arch.I386: ["eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp", "eflags", "gs"],
}


def function_ranges(path: str, names: Sequence[str], bias: int) -> Dict[str, Tuple[int, int]]:
    """name -> [start, end) from .symtab; a symbol without a size ends at the next symbol."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection
    found: Dict[str, Tuple[int, int]] = {}
    starts: List[int] = []
    sized: Dict[str, Tuple[int, int]] = {}
    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            for sec in elf.iter_sections():
                if not isinstance(sec, SymbolTableSection):
                    continue
                for sym in sec.iter_symbols():
                    value, size = sym["st_value"], sym["st_size"]
                    if not value or sym["st_shndx"] == "SHN_UNDEF":
                        continue
                    if sym["st_info"]["type"] in ("STT_FUNC", "STT_NOTYPE", "STT_GNU_IFUNC"):
                        starts.append(value)
                        if sym.name in names and sym.name not in sized:
                            sized[sym.name] = (value, size)
    except (OSError, ELFError) as exc:
        log.warning("--trace-symbol: cannot read the symbols of %s: %s", path, exc)
        return found
    starts.sort()
    import bisect
    for name, (value, size) in sized.items():
        if not size:
            i = bisect.bisect_right(starts, value)
            size = (starts[i] - value) if i < len(starts) else 1
        found[name] = (value + bias, value + bias + size)
    return found


class InstructionTrace:
    """One per run; hooks each new Machine."""

    def __init__(self, out: TextIO, regs: bool = False,
                 ranges: Sequence[Tuple[int, int]] = (), symbols: Sequence[str] = ()) -> None:
        self.out = out
        self.regs = regs
        self.ranges = list(ranges)
        self.symbols = list(symbols)
        self.lines = 0
        self._proc: Optional["Process"] = None
        self._armed = False
        self._active: List[Tuple[int, int]] = []
        self._decoded: Dict[Tuple[int, bytes], str] = {}
        self._cs: Any = None
        self._names: List[str] = []
        self._reg_ids: Any = None
        self._reg_vals: Any = None
        self._reg_ptrs: Any = None
        self._last: Optional[List[int]] = None
        self._pending = False          # the last traced instruction's delta is not shown yet
        try:
            os.register_at_fork(before=self.flush)     # a forked guest must not repeat lines
        except AttributeError:
            pass

    def attach(self, proc: "Process") -> None:
        from emulator.disasm import Decoder
        self.finish()
        self._proc = proc
        self._armed = False
        self._decoded.clear()
        self._cs = Decoder(proc.arch)
        self._names = TRACE_REGS[proc.arch]
        ids = [proc.machine.regs.get(n, getattr(x86, f"UC_X86_REG_{n.upper()}"))
               for n in self._names]
        n = len(ids)
        self._reg_ids = (ctypes.c_int * n)(*ids)
        self._reg_vals = (ctypes.c_uint64 * n)()
        base = ctypes.addressof(self._reg_vals)
        self._reg_ptrs = (ctypes.c_void_p * n)(*[base + 8 * i for i in range(n)])
        self._last = None
        proc.machine.run_listeners.append(self._arm)

    def _arm(self) -> None:
        """First return of uc_emu_start on this Machine (the ring-3 entry stub ran): the
        image is loaded, no user instruction has been translated yet."""
        if self._armed:
            return
        self._armed = True
        proc = self._proc
        assert proc is not None
        ranges = list(self.ranges)
        if self.symbols:
            bias = proc.load.load_bias if proc.load is not None else 0
            found = function_ranges(proc.image.host_path, self.symbols, bias)
            for name in self.symbols:
                if name in found:
                    ranges.append(found[name])
                else:
                    log.warning("--trace-symbol: no function %s in %s", name, proc.exe_path)
        self._active = ranges
        uc = proc.machine.uc
        top = proc.mm.layout.task_size
        if not ranges and not (self.ranges or self.symbols):
            uc.hook_add(UC_HOOK_CODE, self._hook, None, 1, 0)
        elif self.regs:
            uc.hook_add(UC_HOOK_CODE, self._hook_filtered, None, 1, 0)
        else:
            for lo, hi in ranges:
                uc.hook_add(UC_HOOK_CODE, self._hook, None, lo, min(hi, top) - 1)

    def _read_regs(self) -> List[int]:
        proc = self._proc
        assert proc is not None
        for i in range(len(self._names)):
            self._reg_vals[i] = 0       # 32-bit registers fill only the low half
        uclib.uc_reg_read_batch(proc.machine._uch, self._reg_ids, self._reg_ptrs,
                                len(self._names))
        return list(self._reg_vals)

    def _delta(self) -> None:
        """The registers the last traced instruction changed."""
        if not self._pending:
            return
        self._pending = False
        now = self._read_regs()
        last = self._last
        self._last = now
        if last is None:
            return
        changed = [f"{name}={v:#x}" for name, v, old in zip(self._names, now, last) if v != old]
        if changed:
            self.out.write("    " + " ".join(changed) + "\n")

    def _hook_filtered(self, uc: Any, addr: int, size: int, data: Any) -> None:
        if self._pending:
            self._delta()
        for lo, hi in self._active:
            if lo <= addr < hi:
                self._hook(uc, addr, size, data)
                return
        self._last = None

    def _hook(self, uc: Any, addr: int, size: int, data: Any) -> None:
        proc = self._proc
        if proc is None or addr >= proc.mm.layout.task_size:
            return
        try:
            if self.regs:
                if self._pending:
                    self._delta()
                if self._last is None:
                    self._last = self._read_regs()
            self.out.write(self._line(addr, size))
            self.lines += 1
            self._pending = self.regs
        except BaseException as exc:      # never let an exception vanish inside Unicorn
            proc.cpu.error = exc
            proc.machine.stop()

    def _line(self, addr: int, size: int) -> str:
        from emulator.errors import SyscallError
        from mmu.uaccess import copy_from_user
        proc = self._proc
        assert proc is not None
        try:
            code = copy_from_user(proc.mm, addr, size)
        except SyscallError:
            return f"{addr:#x}: ??\n"
        text = self._decoded.get((addr, code))
        if text is None:
            ins = next(self._cs.disasm(code, addr, 1), None)
            if ins is None:
                asm = "(bad)"
            else:
                asm = f"{ins[2]} {ins[3]}" if ins[3] else ins[2]
            text = self._decoded[(addr, code)] = f"{addr:#x}: {code.hex(' ')}  {asm}\n"
        return text

    def finish(self) -> None:
        if self._proc is not None and self._pending:
            try:
                self._delta()
            except Exception as exc:      # the machine may be gone (execve)
                log.debug("trace: no final register delta: %s", exc)
        self.flush()

    def flush(self) -> None:
        try:
            self.out.flush()
        except (OSError, ValueError):
            pass
