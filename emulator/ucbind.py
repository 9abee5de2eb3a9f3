"""The few libunicorn calls a run needs, through ctypes directly.

Importing Unicorn's Python binding costs ~40 ms (it loads the constants of every architecture),
a third of pyexec's start-up. A plain run needs only a handful of C functions, so they are bound
here; the binding itself (`Machine.uc`) is imported on first use — by the debugger, tracing,
snapshots and signal frames (x87/SSE registers) — and wraps the same engine handle.
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
from typing import Any, Optional, Sequence

from emulator import ucconst as uc

c_p = ctypes.c_void_p
uc_engine = ctypes.c_void_p
uc_hook_h = ctypes.c_size_t


class uc_tlb_entry(ctypes.Structure):
    _fields_ = (("paddr", ctypes.c_uint64), ("perms", ctypes.c_uint32))


class uc_x86_mmr(ctypes.Structure):
    """GDTR/IDTR/LDTR/TR (Unicorn's uc_x86_mmr)."""
    _fields_ = (("selector", ctypes.c_uint16), ("base", ctypes.c_uint64),
                ("limit", ctypes.c_uint32), ("flags", ctypes.c_uint32))


HOOK_TLB_FILL_CFUNC = ctypes.CFUNCTYPE(ctypes.c_bool, uc_engine, ctypes.c_uint64, ctypes.c_int,
                                       ctypes.POINTER(uc_tlb_entry), c_p)
HOOK_INSN_SYSCALL_CFUNC = ctypes.CFUNCTYPE(None, uc_engine, c_p)
HOOK_INTR_CFUNC = ctypes.CFUNCTYPE(None, uc_engine, ctypes.c_uint32, c_p)
HOOK_CODE_CFUNC = ctypes.CFUNCTYPE(None, uc_engine, ctypes.c_uint64, ctypes.c_uint32, c_p)
HOOK_INSN_IN_CFUNC = ctypes.CFUNCTYPE(ctypes.c_uint32, uc_engine, ctypes.c_uint32, ctypes.c_int,
                                      c_p)
HOOK_INSN_OUT_CFUNC = ctypes.CFUNCTYPE(None, uc_engine, ctypes.c_uint32, ctypes.c_int,
                                       ctypes.c_uint32, c_p)


def _package_dir() -> str:
    spec = importlib.util.find_spec("unicorn")     # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the unicorn package is not installed")
    return list(spec.submodule_search_locations)[0]


def _load() -> ctypes.CDLL:
    libdir = os.path.join(_package_dir(), "lib")
    for name in sorted(os.listdir(libdir)):
        if name.startswith("libunicorn.so"):
            lib = ctypes.CDLL(os.path.join(libdir, name))
            break
    else:
        raise ImportError(f"libunicorn not found in {libdir}")
    proto = {
        "uc_open": (ctypes.c_int, [ctypes.c_int, ctypes.c_int, ctypes.POINTER(uc_engine)]),
        "uc_close": (ctypes.c_int, [uc_engine]),
        "uc_strerror": (ctypes.c_char_p, [ctypes.c_int]),
        "uc_mem_map": (ctypes.c_int, [uc_engine, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint32]),
        "uc_mem_map_ptr": (ctypes.c_int, [uc_engine, ctypes.c_uint64, ctypes.c_uint64,
                                          ctypes.c_uint32, c_p]),
        "uc_mem_read": (ctypes.c_int, [uc_engine, ctypes.c_uint64, c_p, ctypes.c_uint64]),
        "uc_mem_write": (ctypes.c_int, [uc_engine, ctypes.c_uint64, c_p, ctypes.c_uint64]),
        "uc_reg_read": (ctypes.c_int, [uc_engine, ctypes.c_int, c_p]),
        "uc_reg_write": (ctypes.c_int, [uc_engine, ctypes.c_int, c_p]),
        "uc_reg_read_batch": (ctypes.c_int, [uc_engine, ctypes.POINTER(ctypes.c_int),
                                             ctypes.POINTER(c_p), ctypes.c_int]),
        "uc_reg_write_batch": (ctypes.c_int, [uc_engine, ctypes.POINTER(ctypes.c_int),
                                              ctypes.POINTER(c_p), ctypes.c_int]),
        "uc_emu_start": (ctypes.c_int, [uc_engine, ctypes.c_uint64, ctypes.c_uint64,
                                        ctypes.c_uint64, ctypes.c_size_t]),
        "uc_emu_stop": (ctypes.c_int, [uc_engine]),
        "uc_hook_del": (ctypes.c_int, [uc_engine, uc_hook_h]),
    }
    for name, (restype, argtypes) in proto.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    # Variadic: uc_ctl(uc, control, ...), uc_hook_add(uc, hh, type, cb, data, begin, end, ...).
    lib.uc_ctl.restype = ctypes.c_int
    lib.uc_hook_add.restype = ctypes.c_int
    return lib


uclib = _load()


class UcError(Exception):
    """A libunicorn error code (UC_ERR_*)."""

    def __init__(self, errno: int) -> None:
        super().__init__(uclib.uc_strerror(errno).decode("ascii", "replace"))
        self.errno = errno


def check(status: int) -> None:
    if status:
        raise UcError(status)


def uc_open(mode: int) -> ctypes.c_void_p:
    handle = uc_engine()
    check(uclib.uc_open(uc.UC_ARCH_X86, mode, ctypes.byref(handle)))
    return handle


def ctl(handle: Any, control: int, op: int, *args: Any) -> None:
    """uc_ctl with the binding's encoding: (op << 30) | (nargs << 26) | control."""
    check(uclib.uc_ctl(handle, ctypes.c_int((op << 30) | (len(args) << 26) | control), *args))


def ctl_write(handle: Any, control: int, *args: Any) -> None:
    ctl(handle, control, uc.UC_CTL_IO_WRITE, *args)


def set_exits(handle: Any, exits: Sequence[int]) -> None:
    arr = (ctypes.c_uint64 * len(exits))(*exits)
    ctl_write(handle, uc.UC_CTL_UC_EXITS, ctypes.cast(arr, c_p), ctypes.c_size_t(len(exits)))


def hook_add(handle: Any, htype: int, cfunc: Any, begin: int = 1, end: int = 0,
             *extra: Any) -> int:
    hh = uc_hook_h()
    check(uclib.uc_hook_add(handle, ctypes.byref(hh), ctypes.c_int(htype), cfunc, None,
                            ctypes.c_uint64(begin), ctypes.c_uint64(end), *extra))
    return int(hh.value)


def binding_for(handle: Any, mode: int) -> Any:
    """Unicorn's own Python object over an engine opened here (imports the binding now)."""
    from unicorn.unicorn_py3.arch.intel import UcIntel
    obj: Any = object.__new__(UcIntel)
    obj._arch, obj._mode = uc.UC_ARCH_X86, mode
    obj._uch = handle
    obj._callbacks = {}
    obj._mmio_callbacks = {}
    obj._hook_exception = None
    return obj


def close(handle: Optional[Any]) -> None:
    if handle:
        uclib.uc_close(handle)
