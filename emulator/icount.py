"""Exact counts of retired guest instructions, per translated block (`--stats`, `--icount-limit`).

The count is what `perf stat -e instructions:u` reports for the same run: every user instruction
that completed, the `syscall` / `int $0x80` instruction included, an instruction that faulted
excluded, a rep-prefixed string instruction once however often it repeats (as the CPU's
instructions-retired event counts it).

How: a UC_HOOK_BLOCK callback written in C (emulator/_icount.c, built by `make setup` into
emulator/_icount.so) adds each block's instruction count when the block is entered. A block is
decoded once, when the hook first sees its (address, size): in C with libcapstone (the library
the capstone wheel ships) and uc_vmem_read, or here when the C side declines (no libcapstone,
an instruction a tool watches). Instruction start addresses are decoded here only when needed:
a block left early — a fault, a stop request, a breakpoint — is settled when uc_emu_start
returns (Machine.run_listeners): the instructions from the stop address to the block's end did
not retire and are taken back off. Blocks above TASK_SIZE are pyexec's own ring-3 entry stub
and are not counted. When the shared library is missing (no C compiler at setup), the same
logic runs as a Python block hook, much slower, after a one-line warning.

`--icount-limit N`: a block that would take the count past N is not entered (the hook stops the
CPU before its first instruction); the remaining instructions of that block then run with a
Unicorn exit address placed right after the N-th one, so the guest stops after exactly N.
"""
from __future__ import annotations

import bisect
import ctypes
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from emulator.ucbind import UcError, uc_hook_h, uclib
from emulator.ucconst import UC_HOOK_BLOCK


if TYPE_CHECKING:
    from emulator.process import Process

log = logging.getLogger("pyexec.icount")

LIBRARY = Path(__file__).with_name("_icount.so")
REP_ONLY = 0x80000000
LAST_ZERO, LAST_SETTLED = 1, 2
NO_ADDR = (1 << 64) - 1
_STRING_OPS = ("movs", "stos", "lods", "cmps", "scas", "ins", "outs")
_REP_PREFIXES = ("rep", "repe", "repz", "repne", "repnz")

MISS_CFUNC = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_uint64, ctypes.c_uint32)


class IcountEntry(ctypes.Structure):
    """`struct entry` of _icount.c: one decoded block."""
    _fields_ = [("addr", ctypes.c_uint64), ("size", ctypes.c_uint32), ("value", ctypes.c_uint32)]


class IcountState(ctypes.Structure):
    """`struct icount` of _icount.c (same field order and types)."""
    _fields_ = [
        ("table", ctypes.c_void_p),
        ("mask", ctypes.c_uint64),
        ("total", ctypes.c_uint64),
        ("limit", ctypes.c_uint64),
        ("last", ctypes.c_size_t),            # tagged: LAST_ZERO, LAST_SETTLED
        ("limit_hit", ctypes.c_uint32),
        ("pad", ctypes.c_uint32),
        ("held", ctypes.POINTER(IcountEntry)),
        ("kernel_base", ctypes.c_uint64),
        ("bypass_addr", ctypes.c_uint64),
        ("misses", ctypes.c_uint64),
        ("miss", MISS_CFUNC),
        ("stop", ctypes.c_void_p),
        ("used", ctypes.c_uint64),
        ("cs_handle", ctypes.c_size_t),
        ("cs_disasm", ctypes.c_void_p),
        ("cs_free", ctypes.c_void_p),
        ("vmem_read", ctypes.c_void_p),
        ("watch_tsc", ctypes.c_uint32),
        ("c_decoded", ctypes.c_uint32),
    ]


_lib_cache: List[Optional[ctypes.CDLL]] = []


def load_library() -> Optional[ctypes.CDLL]:
    """emulator/_icount.so, or None (with the reason logged once) when it cannot be loaded."""
    if _lib_cache:
        return _lib_cache[0]
    lib: Optional[ctypes.CDLL] = None
    try:
        lib = ctypes.CDLL(str(LIBRARY))
        lib.icount_init.argtypes = [ctypes.POINTER(IcountState), ctypes.c_uint64]
        lib.icount_init.restype = ctypes.c_int
        lib.icount_clear.argtypes = [ctypes.POINTER(IcountState)]
        lib.icount_clear.restype = None
        lib.icount_free.argtypes = [ctypes.POINTER(IcountState)]
        lib.icount_free.restype = None
    except (OSError, AttributeError) as exc:
        log.warning("instruction counting: %s unavailable (%s; run `make setup`): "
                    "using the much slower Python block hook", LIBRARY.name,
                    getattr(exc, "strerror", None) or exc)
        lib = None
    _lib_cache.append(lib)
    return lib


def is_rep_string(mnemonic: str) -> bool:
    """`rep movsb`, `repne scasb`...: one instruction however many times it repeats."""
    parts = mnemonic.split()
    return len(parts) == 2 and parts[0] in _REP_PREFIXES and parts[1].startswith(_STRING_OPS)


class InstructionCounter:
    """One per run: the total survives execve (a new Machine and address space)."""

    def __init__(self, limit: int = 0, force_python: bool = False) -> None:
        self.state = IcountState()
        self.state.limit = limit
        self.state.bypass_addr = NO_ADDR
        self.limit = limit
        self.limit_reached = False
        self.stop_pc = 0
        self.on_limit: List[Callable[[], None]] = []
        # Instructions a tool must see before they run (--deterministic's rdtsc): called as
        # fn(insn_addr, insn_size, mnemonic) when a block holding one is first entered; True
        # means a hook was added, so the block is stopped before it runs and re-translated.
        self.watch: Dict[str, Callable[[int, int, str], bool]] = {}
        self._retranslate: List[Tuple[int, int]] = []
        self._lib = None if force_python else load_library()
        self._blocks: Dict[Tuple[int, int], Tuple[int, ...]] = {}   # insn start addresses
        self._py_table: Dict[Tuple[int, int], int] = {}
        self._partial: Optional[Tuple[int, int, int]] = None        # (block, size, exit addr)
        self._proc: Optional["Process"] = None
        self._decoder: Any = None
        self._py_last: Optional[Tuple[int, int]] = None
        self._py_held: Optional[Tuple[int, int]] = None
        self._py_counted = 0
        self._miss_cb = MISS_CFUNC(self._miss)
        self.state.miss = self._miss_cb
        self.state.stop = ctypes.cast(uclib.uc_emu_stop, ctypes.c_void_p).value
        self._c_hook: Any = None
        if self._lib is not None:
            if self._lib.icount_init(ctypes.byref(self.state), 1 << 14):
                raise MemoryError("icount: cannot allocate the block table")
            self._c_hook = ctypes.cast(self._lib.icount_block, ctypes.c_void_p)

    @property
    def native(self) -> bool:
        return self._lib is not None

    @property
    def total(self) -> int:
        return int(self.state.total)

    @property
    def blocks_decoded(self) -> int:
        return len(self._blocks)

    def __del__(self) -> None:
        lib = getattr(self, "_lib", None)
        if lib is not None:
            lib.icount_free(ctypes.byref(self.state))

    # --- one address space ----------------------------------------------------------------
    def attach(self, proc: "Process") -> None:
        """Hook a new Machine (at spawn and after each execve)."""
        from emulator.disasm import Decoder
        self._proc = proc
        self._blocks.clear()
        self._py_table.clear()
        self._retranslate.clear()
        if self._lib is not None:
            self._lib.icount_clear(ctypes.byref(self.state))
        st = self.state
        st.kernel_base = proc.mm.layout.task_size
        st.last = 0
        st.limit_hit = 0
        self._py_last = self._py_held = None
        self._py_counted = 0
        self._partial = None
        self._decoder = Decoder(proc.arch)
        # The C hook decodes new blocks itself (libcapstone, uc_vmem_read) when it can.
        native = self._decoder.native_handle()
        if native is not None and hasattr(uclib, "uc_vmem_read"):
            st.cs_handle, st.cs_disasm, st.cs_free = native
            st.vmem_read = ctypes.cast(uclib.uc_vmem_read, ctypes.c_void_p).value
        else:
            st.cs_disasm = st.cs_free = st.vmem_read = None
        st.watch_tsc = 1 if {"rdtsc", "rdtscp"} & set(self.watch) else 0
        m = proc.machine
        if self._lib is not None:
            handle = uc_hook_h()
            status = uclib.uc_hook_add(m._uch, ctypes.byref(handle), UC_HOOK_BLOCK, self._c_hook,
                                       ctypes.cast(ctypes.byref(st), ctypes.c_void_p),
                                       ctypes.c_uint64(1), ctypes.c_uint64(0))
            if status:
                raise UcError(status)
        else:
            m.uc.hook_add(UC_HOOK_BLOCK, self._py_block)
        m.run_listeners.append(self._on_return)

    # --- decoding (a block's first execution) ---------------------------------------------
    def decode(self, addr: int, size: int) -> Tuple[Tuple[int, ...], str]:
        """Start addresses of the instructions of the block [addr, addr+size), and the first
        instruction's mnemonic."""
        from emulator.errors import SyscallError
        from mmu.uaccess import copy_from_user
        assert self._proc is not None
        try:
            code = copy_from_user(self._proc.mm, addr, size)
        except SyscallError:
            log.debug("icount: block %#x+%d unreadable", addr, size)
            return (addr,), ""
        starts: List[int] = []
        first = ""
        end = addr
        for ins_addr, ins_size, mnemonic, _ops in self._decoder.disasm(code, addr):
            if not starts:
                first = mnemonic
            starts.append(ins_addr)
            end = ins_addr + ins_size
        if end < addr + size:
            # Bytes capstone cannot decode (the CPU raises #UD there, or capstone lags behind
            # QEMU): one instruction, which the settle after the fault takes back if it faulted.
            log.debug("icount: block %#x+%d: undecodable from %#x", addr, size, end)
            starts.append(end)
        return tuple(starts), first

    def starts(self, addr: int, size: int) -> Tuple[int, ...]:
        found = self._blocks.get((addr, size))
        if found is None:
            found = self._blocks[(addr, size)] = self.decode(addr, size)[0]
        return found

    def _value(self, addr: int, size: int) -> int:
        """A block entered for the first time: its instruction count (| REP_ONLY). The start
        addresses, needed only to settle a block left early, are decoded when needed."""
        from emulator.errors import SyscallError
        from mmu.uaccess import copy_from_user
        assert self._proc is not None
        try:
            code = copy_from_user(self._proc.mm, addr, size)
        except SyscallError:
            log.debug("icount: block %#x+%d unreadable", addr, size)
            return 1
        value, end, first, watched = self._decoder.scan(code, addr, self.watch)
        if end < addr + size:
            value += 1           # undecodable bytes: see decode()
        hooked = [self.watch[mn](a, n, mn) for a, n, mn, _ops in watched]
        if any(hooked):
            # Translated before the hook existed: stop before it runs, translate it again.
            self._retranslate.append((addr, size))
            assert self._proc is not None
            self._proc.machine.stop()
        if value == 1 and is_rep_string(first):
            value |= REP_ONLY
        return value

    def _miss(self, addr: int, size: int) -> int:
        try:
            return self._value(addr, size)
        except BaseException as exc:      # never let an exception vanish inside Unicorn
            proc = self._proc
            if proc is not None:
                proc.cpu.error = exc
                proc.machine.stop()
            return 1

    def _py_block(self, uc: Any, addr: int, size: int, data: Any) -> None:
        """The C hook's logic, for when _icount.so is missing."""
        st = self.state
        if addr >= st.kernel_base or size == 0:
            return
        value = self._py_table.get((addr, size))
        if value is None:
            value = self._py_table[(addr, size)] = self._miss(addr, size)
        n = value & ~REP_ONLY
        last = self._py_last
        if value & REP_ONLY and last is not None and last[0] + last[1] == addr + size:
            n = 0
        if st.limit and st.total + n > st.limit:
            if addr == st.bypass_addr:
                st.bypass_addr = NO_ADDR
            else:
                st.limit_hit = 1
                self._py_held = (addr, size)
                self._py_counted = 0
                uc.emu_stop()
                return
        st.total += n
        self._py_last = (addr, size)
        self._py_counted = n

    # --- the C or Python hook's view ----------------------------------------------------------
    def _last(self) -> Optional[Tuple[int, int, int]]:
        """(addr, size, instructions counted and not settled) of the block entered last."""
        if self._lib is None:
            if self._py_last is None:
                return None
            return self._py_last[0], self._py_last[1], self._py_counted
        raw = self.state.last
        if not raw:
            return None
        e = IcountEntry.from_address(raw & ~15)
        counted = 0 if raw & (LAST_ZERO | LAST_SETTLED) else e.value & ~REP_ONLY
        return e.addr, e.size, counted

    def _mark_settled(self, forget: bool) -> None:
        """Settled; with forget, the block did not complete (a rep instruction there counts
        again when it resumes)."""
        if self._lib is None:
            self._py_counted = 0
            if forget:
                self._py_last = None
        elif forget:
            self.state.last = 0
        elif self.state.last:
            self.state.last |= LAST_SETTLED

    def _held(self) -> Optional[Tuple[int, int]]:
        if self._lib is None:
            return self._py_held
        e = self.state.held
        return (e.contents.addr, e.contents.size) if e else None

    # --- stops ------------------------------------------------------------------------------
    def settle(self, pc: int) -> None:
        """The CPU stopped at pc: if that is inside the block entered last, the instructions
        from pc on did not retire (the one at pc faulted or was never started)."""
        last = self._last()
        if last is None or not last[2]:
            return
        addr, size, counted = last
        if not addr <= pc < addr + size:
            self._mark_settled(False)
            return
        retired = bisect.bisect_left(self.starts(addr, size), pc)
        if retired < counted:
            self.state.total -= counted - retired
            self._mark_settled(True)
        else:
            self._mark_settled(False)

    def retire(self, n: int = 1) -> None:
        """Instructions pyexec completed itself (an emulated rdtsc)."""
        self.state.total += n

    def _on_return(self) -> None:
        """uc_emu_start returned (Machine.run_listeners): settle, and drive --icount-limit."""
        proc = self._proc
        if proc is None:
            return
        pc = proc.machine.pc
        st = self.state
        if self._retranslate:
            for addr, size in self._retranslate:
                proc.machine.uc.ctl_remove_cache(addr, addr + size)
            self._retranslate.clear()
        self.settle(pc)
        if st.limit_hit:
            st.limit_hit = 0
            held = self._held()
            remaining = st.limit - st.total
            if proc.exit_status is not None or proc.term_signal is not None or held is None:
                pass
            elif remaining <= 0:
                self._reached(pc)
            elif pc == held[0]:
                starts = self.starts(*held)
                if remaining < len(starts):
                    self._arm_partial(held[0], held[1], starts[remaining])
            return
        if self._partial is not None:
            self._disarm_partial()
        if self.limit and st.total >= st.limit and not self.limit_reached \
                and proc.exit_status is None and proc.term_signal is None:
            self._reached(pc)

    def _arm_partial(self, addr: int, size: int, exit_addr: int) -> None:
        """Run the first instructions of the block at addr only: exit at exit_addr."""
        assert self._proc is not None
        uc = self._proc.machine.uc
        self._partial = (addr, size, exit_addr)
        uc.ctl_set_exits([exit_addr])
        uc.ctl_remove_cache(addr, addr + size)
        self.state.bypass_addr = addr

    def _disarm_partial(self) -> None:
        assert self._proc is not None and self._partial is not None
        addr, size, _ = self._partial
        self._partial = None
        uc = self._proc.machine.uc
        uc.ctl_set_exits([])
        uc.ctl_remove_cache(addr, addr + size)
        self.state.bypass_addr = NO_ADDR

    def _reached(self, pc: int) -> None:
        from emulator.control import Stop, StopReason
        proc = self._proc
        assert proc is not None
        self.limit_reached = True
        self.stop_pc = pc
        self.state.limit = 0        # no further stops (an API user may go on)
        proc.cpu.request_stop(Stop(StopReason.ICOUNT_LIMIT, pc))
        for fn in self.on_limit:
            fn()
