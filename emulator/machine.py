"""Unicorn glue: one CPU, one physical pool, the page walk as a TLB-fill hook.

Measured facts this follows (see DEVELOPERS.md): one big physical region mapped once, the virtual
TLB mode with a fill hook as the page walk, exact per-page permissions, and the hot hooks
(TLB fill, syscall) registered through ctypes directly to keep Python frames off the path.
"""
from __future__ import annotations

import ctypes
import weakref
from typing import Any, Callable, Dict, List, Sequence

from emulator import ucbind
from emulator import ucconst as ucc
from emulator import ucconst as x86
from emulator.ucbind import (HOOK_INSN_IN_CFUNC, HOOK_INSN_OUT_CFUNC, HOOK_INSN_SYSCALL_CFUNC,
                             HOOK_INTR_CFUNC, HOOK_TLB_FILL_CFUNC, UcError, uclib)

from loader.elf import Arch

POOL_SIZE = 1 << 34            # physical address space; the host commits it lazily
PAGE_SIZE = 4096

# Register names for both views (gdb's names), mapped to Unicorn ids.
REGS_X86_64: Dict[str, int] = {
    "rax": x86.UC_X86_REG_RAX, "rbx": x86.UC_X86_REG_RBX, "rcx": x86.UC_X86_REG_RCX,
    "rdx": x86.UC_X86_REG_RDX, "rsi": x86.UC_X86_REG_RSI, "rdi": x86.UC_X86_REG_RDI,
    "rbp": x86.UC_X86_REG_RBP, "rsp": x86.UC_X86_REG_RSP, "r8": x86.UC_X86_REG_R8,
    "r9": x86.UC_X86_REG_R9, "r10": x86.UC_X86_REG_R10, "r11": x86.UC_X86_REG_R11,
    "r12": x86.UC_X86_REG_R12, "r13": x86.UC_X86_REG_R13, "r14": x86.UC_X86_REG_R14,
    "r15": x86.UC_X86_REG_R15, "rip": x86.UC_X86_REG_RIP, "eflags": x86.UC_X86_REG_EFLAGS,
    "cs": x86.UC_X86_REG_CS, "ss": x86.UC_X86_REG_SS, "ds": x86.UC_X86_REG_DS,
    "es": x86.UC_X86_REG_ES, "fs": x86.UC_X86_REG_FS, "gs": x86.UC_X86_REG_GS,
    "fs_base": x86.UC_X86_REG_FS_BASE, "gs_base": x86.UC_X86_REG_GS_BASE,
}
REGS_I386: Dict[str, int] = {
    "eax": x86.UC_X86_REG_EAX, "ecx": x86.UC_X86_REG_ECX, "edx": x86.UC_X86_REG_EDX,
    "ebx": x86.UC_X86_REG_EBX, "esp": x86.UC_X86_REG_ESP, "ebp": x86.UC_X86_REG_EBP,
    "esi": x86.UC_X86_REG_ESI, "edi": x86.UC_X86_REG_EDI, "eip": x86.UC_X86_REG_EIP,
    "eflags": x86.UC_X86_REG_EFLAGS, "cs": x86.UC_X86_REG_CS, "ss": x86.UC_X86_REG_SS,
    "ds": x86.UC_X86_REG_DS, "es": x86.UC_X86_REG_ES, "fs": x86.UC_X86_REG_FS,
    "gs": x86.UC_X86_REG_GS,
}

# Syscall argument registers: number first, then the six arguments (Linux's entry code).
SYSCALL_REGS = {
    Arch.X86_64: [x86.UC_X86_REG_RAX, x86.UC_X86_REG_RDI, x86.UC_X86_REG_RSI, x86.UC_X86_REG_RDX,
                  x86.UC_X86_REG_R10, x86.UC_X86_REG_R8, x86.UC_X86_REG_R9],
    Arch.I386: [x86.UC_X86_REG_EAX, x86.UC_X86_REG_EBX, x86.UC_X86_REG_ECX, x86.UC_X86_REG_EDX,
                x86.UC_X86_REG_ESI, x86.UC_X86_REG_EDI, x86.UC_X86_REG_EBP],
}

# pyexec's "kernel" pages, above TASK_SIZE where the guest cannot map anything: the GDT and a
# stub page holding one `iret` that drops the CPU to ring 3 before the first user instruction.
# Running the guest at CPL 3 makes privileged instructions (hlt, cli, in/out...) raise #GP as on
# real hardware, which Linux turns into SIGSEGV.
KERNEL_PAGES = {
    # arch: (GDT, stub): x86-64 uses the cpu_entry_area's neighbourhood, i386 the two top pages.
    Arch.X86_64: (0xFFFFFE0000001000, 0xFFFFFE0000002000),
    Arch.I386: (0xFFFFE000, 0xFFFFF000),
}
GDT_ENTRIES = 32
GDT_ENTRY_TLS_MIN = 12          # Linux's GDT_ENTRY_TLS_MIN on x86-64 kernels (selector 0x63)
GDT_ENTRY_TLS_ENTRIES = 3
# Linux's x86-64 GDT layout (asm/segment.h): selectors the guest sees are the native ones.
GDT_KERNEL32_CS, GDT_KERNEL_CS, GDT_KERNEL_DS = 1, 2, 3
GDT_USER32_CS, GDT_USER_DS, GDT_USER_CS = 4, 5, 6
USER_CS_64, USER_CS_32, USER_DS = 0x33, 0x23, 0x2B


def make_descriptor(base: int, limit: int, access: int, flags: int) -> int:
    """An x86 segment descriptor (8 bytes) from base, 20-bit limit, access byte and flags."""
    return ((limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (access << 40)
            | (((limit >> 16) & 0xF) << 48) | (flags << 52) | (((base >> 24) & 0xFF) << 56))


class UnicornMemory:
    """PhysicalMemory over Unicorn's pool (mem_read/mem_write take physical addresses)."""

    def __init__(self, uch: Any) -> None:
        self._uch = uch
        self._buf = ctypes.create_string_buffer(PAGE_SIZE)

    def read(self, paddr: int, size: int) -> bytes:
        buf = self._buf if size <= PAGE_SIZE else ctypes.create_string_buffer(size)
        if uclib.uc_mem_read(self._uch, paddr, buf, size):
            raise UcError(ucc.UC_ERR_READ_UNMAPPED)
        return buf.raw[:size]

    def write(self, paddr: int, data: bytes) -> None:
        if uclib.uc_mem_write(self._uch, paddr, data, len(data)):
            raise UcError(ucc.UC_ERR_WRITE_UNMAPPED)

    def map_host(self, paddr: int, size: int, host_addr: int) -> None:
        """Show host memory at guest-physical `paddr` (mmu.pagecache.HostWindows: MAP_SHARED
        file pages are the host's page-cache pages)."""
        status = uclib.uc_mem_map_ptr(self._uch, paddr, size, ucc.UC_PROT_ALL,
                                      ctypes.c_void_p(host_addr))
        if status:
            raise UcError(status)


class Machine:
    """The CPU of one guest: Unicorn for the architecture, its register view, its hooks."""

    def __init__(self, arch: Arch) -> None:
        self.arch = arch
        self._mode = ucc.UC_MODE_64 if arch is Arch.X86_64 else ucc.UC_MODE_32
        self._uch = ucbind.uc_open(self._mode)
        self._uc: Any = None             # Unicorn's Python binding, imported on first use
        # Close the engine when the Machine goes (an execve replaces it), as the binding would.
        weakref.finalize(self, ucbind.close, self._uch)
        ucbind.ctl_write(self._uch, ucc.UC_CTL_TLB_TYPE, ctypes.c_int(ucc.UC_TLB_VIRTUAL))
        ucbind.check(uclib.uc_mem_map(self._uch, 0, POOL_SIZE, ucc.UC_PROT_ALL))
        ucbind.ctl_write(self._uch, ucc.UC_CTL_UC_USE_EXITS, ctypes.c_int(1))
        ucbind.set_exits(self._uch, [])
        self.phys = UnicornMemory(self._uch)
        self.regs = REGS_X86_64 if arch is Arch.X86_64 else REGS_I386
        self.pc_reg = x86.UC_X86_REG_RIP if arch is Arch.X86_64 else x86.UC_X86_REG_EIP
        self.sp_reg = x86.UC_X86_REG_RSP if arch is Arch.X86_64 else x86.UC_X86_REG_ESP
        self._keep: List[Any] = []       # ctypes callbacks must outlive the Unicorn handle
        # Called each time uc_emu_start returns, before anything reads or changes registers
        # (emulator/icount.py settles a block left early here).
        self.run_listeners: List[Callable[[], None]] = []
        # A scalar read/write through ctypes directly (~4x cheaper than Uc.reg_read).
        self._val = ctypes.c_uint64()
        self._val_p = ctypes.byref(self._val)


    @property
    def uc(self) -> Any:
        """Unicorn's Python object for this engine (the debugger, tracing, snapshots and the
        FPU state of signal frames use it); its import is deferred to keep start-up short."""
        if self._uc is None:
            self._uc = ucbind.binding_for(self._uch, self._mode)
        return self._uc

    # --- registers ---------------------------------------------------------------------------
    def reg(self, uc_id: int) -> int:
        self._val.value = 0          # 32-bit registers fill only the low half
        uclib.uc_reg_read(self._uch, uc_id, self._val_p)
        return self._val.value

    def set_reg(self, uc_id: int, value: int) -> None:
        self._val.value = value & 0xFFFFFFFFFFFFFFFF
        uclib.uc_reg_write(self._uch, uc_id, self._val_p)

    @property
    def pc(self) -> int:
        return self.reg(self.pc_reg)

    @pc.setter
    def pc(self, value: int) -> None:
        self.set_reg(self.pc_reg, value)

    @property
    def sp(self) -> int:
        return self.reg(self.sp_reg)

    @sp.setter
    def sp(self, value: int) -> None:
        self.set_reg(self.sp_reg, value)

    # --- hooks ------------------------------------------------------------------------------
    def _hook_add(self, htype: int, cfunc: Any, *extra: Any) -> None:
        ucbind.hook_add(self._uch, htype, cfunc, 1, 0, *extra)
        self._keep.append(cfunc)

    def hook_tlb_fill(self, fn: Callable[[int, int, int, Any, int], bool]) -> None:
        """fn(uch, vaddr, access, entry_ptr, data) -> bool, called by Unicorn directly (the
        hottest hook: no wrapper frame); set entry_ptr[0].paddr/perms on success."""
        self._hook_add(ucc.UC_HOOK_TLB_FILL, HOOK_TLB_FILL_CFUNC(fn))

    def hook_syscall(self, fn: Callable[[], None]) -> None:
        """x86-64 `syscall` instruction (RIP points at it; Unicorn adds 2 after)."""
        def cb(uch: int, data: int) -> None:
            fn()
        self._hook_add(ucc.UC_HOOK_INSN, HOOK_INSN_SYSCALL_CFUNC(cb),
                       ctypes.c_int(x86.UC_X86_INS_SYSCALL))

    def hook_intr(self, fn: Callable[[int], None]) -> None:
        """Software interrupts and CPU exceptions (int 0x80, int3, #DE...)."""
        def cb(uch: int, intno: int, data: int) -> None:
            fn(intno)
        self._hook_add(ucc.UC_HOOK_INTR, HOOK_INTR_CFUNC(cb))

    def hook_port_io(self, fn: Callable[[], None]) -> None:
        """in/out instructions (Unicorn executes them at any privilege level)."""
        def on_in(uch: int, port: int, size: int, data: int) -> int:
            fn()
            return 0

        def on_out(uch: int, port: int, size: int, value: int, data: int) -> None:
            fn()
        self._hook_add(ucc.UC_HOOK_INSN, HOOK_INSN_IN_CFUNC(on_in), ctypes.c_int(x86.UC_X86_INS_IN))
        self._hook_add(ucc.UC_HOOK_INSN, HOOK_INSN_OUT_CFUNC(on_out),
                       ctypes.c_int(x86.UC_X86_INS_OUT))

    # --- running ----------------------------------------------------------------------------
    def start(self, pc: int, count: int = 0) -> None:
        """Run from pc until emu_stop (no `until` address: see DEVELOPERS.md)."""
        status = uclib.uc_emu_start(self._uch, pc, 0, 0, count)
        for fn in self.run_listeners:
            fn()
        if status:
            raise UcError(status)

    def stop(self) -> None:
        uclib.uc_emu_stop(self._uch)

    def flush_tlb(self) -> None:
        ucbind.ctl_write(self._uch, ucc.UC_CTL_TLB_FLUSH)

    def flush_code(self, start: int, end: int) -> None:
        ucbind.ctl_write(self._uch, ucc.UC_CTL_TB_REMOVE_CACHE, ctypes.c_uint64(start),
                         ctypes.c_uint64(end))

    def flush_all_code(self) -> None:
        ucbind.ctl_write(self._uch, ucc.UC_CTL_TB_FLUSH)

    def set_exits(self, exits: Sequence[int]) -> None:
        ucbind.set_exits(self._uch, exits)

    # --- segments and ring 3 -------------------------------------------------------------
    def enter_user_mode(self, gdt_paddr: int, stub_paddr: int, pc: int, sp: int) -> None:
        """Load Linux's flat GDT and `iret` to ring 3 at pc/sp (compare start_thread)."""
        gdt_vaddr, stub_vaddr = KERNEL_PAGES[self.arch]
        flat32, flat64 = 0xC, 0xA   # G+D/B (32-bit; for SS the B bit), G+L (64-bit code)
        entries = {
            GDT_KERNEL32_CS: make_descriptor(0, 0xFFFFF, 0x9B, flat32),
            GDT_KERNEL_CS: make_descriptor(0, 0xFFFFF, 0x9B, flat64),
            GDT_KERNEL_DS: make_descriptor(0, 0xFFFFF, 0x93, flat32),
            GDT_USER32_CS: make_descriptor(0, 0xFFFFF, 0xFB, flat32),
            GDT_USER_DS: make_descriptor(0, 0xFFFFF, 0xF3, flat32),
            GDT_USER_CS: make_descriptor(0, 0xFFFFF, 0xFB, flat64),
        }
        for index, desc in entries.items():
            self.phys.write(gdt_paddr + 8 * index, desc.to_bytes(8, "little"))
        gdtr = ucbind.uc_x86_mmr(0, gdt_vaddr, GDT_ENTRIES * 8 - 1, 0)
        ucbind.check(uclib.uc_reg_write(self._uch, x86.UC_X86_REG_GDTR, ctypes.byref(gdtr)))
        frame_off = 0x800
        # The iret lands on a `nop` in the stub page, which is an exit: Unicorn stops there,
        # already in ring 3, before it could translate (and so fetch) the program's first
        # block — the entry page's fault stays the program's own, as on Linux.
        landing = stub_vaddr + 0x10
        if self.arch is Arch.X86_64:
            stub = b"\x48\xcf"        # iretq
            frame = b"".join(v.to_bytes(8, "little")
                             for v in (landing, USER_CS_64, 0x202, sp, USER_DS))
        else:
            self.set_reg(x86.UC_X86_REG_CS, GDT_KERNEL32_CS << 3)
            self.set_reg(x86.UC_X86_REG_SS, GDT_KERNEL_DS << 3)
            for seg in (x86.UC_X86_REG_DS, x86.UC_X86_REG_ES):
                self.set_reg(seg, USER_DS)
            stub = b"\xcf"            # iret
            frame = b"".join(v.to_bytes(4, "little")
                             for v in (landing, USER_CS_32, 0x202, sp, USER_DS))
        # Compare Linux's fpstate_init: x87 control word 0x37f (extended precision, all
        # exceptions masked) and MXCSR 0x1f80; Unicorn starts with both zero.
        self.set_reg(x86.UC_X86_REG_FPCW, 0x37F)
        self.set_reg(x86.UC_X86_REG_MXCSR, 0x1F80)
        self.phys.write(stub_paddr, stub)
        self.phys.write(stub_paddr + frame_off, frame)
        self.sp = stub_vaddr + frame_off
        self.phys.write(stub_paddr + 0x10, b"\x90")
        self.set_exits([landing])
        try:
            self.start(stub_vaddr)
        finally:
            self.set_exits([])
        self.pc = pc
