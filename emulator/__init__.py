"""pyexec's emulator: Unicorn glue, the process, the CLI, the Python API.

    from emulator import Process
    p = Process.spawn("./prog", ["prog", "x"], capture=True)
    result = p.run()

Nothing is imported at package level until used, so `pyexec --help` and bad-input errors stay
fast (PEP 562 lazy attributes).
"""
from __future__ import annotations

from typing import Any

__all__ = ["Process", "Options", "StopReason", "MemoryAccessError", "HookError"]


def __getattr__(name: str) -> Any:
    if name in ("Process", "Options"):
        from emulator import process
        return getattr(process, name)
    if name == "StopReason":
        from emulator.control import StopReason
        return StopReason
    if name in ("MemoryAccessError", "HookError"):
        from emulator import api
        return getattr(api, name)
    raise AttributeError(f"module 'emulator' has no attribute {name!r}")
