"""Static binaries pyexec's authors did not build: Debian's own, run natively and under pyexec."""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

FOREIGN = [
    # (binary, arguments): glibc static-pie from libc-bin, and busybox-static's ELF.
    ("/sbin/ldconfig", ["-p"]),
    ("/bin/busybox", ["sha256sum", "/etc/os-release"]),
    ("/bin/busybox", ["sort", "-r", "/etc/os-release"]),
]


@pytest.mark.parametrize("binary,args", FOREIGN, ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_foreign_static_binary_matches_native(binary: str, args: list[str],
                                              run_native: Callable[..., Any],
                                              run_pyexec: Callable[..., Any]) -> None:
    if not os.path.exists(binary):
        pytest.skip(f"{binary} is not installed here")
    native = run_native([binary, *args])
    emulated = run_pyexec([binary, *args])
    assert (emulated.stdout, emulated.returncode) == (native.stdout, native.returncode), \
        emulated.stderr.decode()
    assert native.stdout
