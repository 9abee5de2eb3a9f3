"""syscalls/dispatch.py: the table lookup, -errno conversion and the one-time ENOSYS warning."""
from __future__ import annotations

import logging

import pytest

from emulator.errors import SyscallError
from syscalls import names
from syscalls.dispatch import Dispatcher, build_table
from syscalls.errno import Errno
from syscalls.table_i386 import SYSCALLS as I386
from syscalls.table_x86_64 import SYSCALLS as X86_64


def _ok(p: object, a: int, b: int) -> int:
    return a + b


def _fails(p: object) -> int:
    raise SyscallError(Errno.EBADF)


def test_handler_gets_only_its_arguments_and_errors_become_negative_errno() -> None:
    d = Dispatcher(build_table({1: ("ok", _ok), 2: ("fails", _fails)}), "x86_64")
    assert d.call(object(), 1, [3, 4, 99, 99, 99, 99]) == 7
    assert d.call(object(), 2, [0] * 6) == -Errno.EBADF
    assert d.count == 2


@pytest.mark.parametrize("abi,nr,name", [("x86_64", 206, "io_setup"), ("i386", 245, "io_setup")])
def test_unknown_syscall_warns_once_by_name(abi: str, nr: int, name: str,
                                            caplog: pytest.LogCaptureFixture) -> None:
    d = Dispatcher({}, abi)
    with caplog.at_level(logging.WARNING, logger="pyexec.syscalls"):
        assert d.call(object(), nr, [0] * 6) == -Errno.ENOSYS
        assert d.call(object(), nr, [0] * 6) == -Errno.ENOSYS
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and name in lines[0] and str(nr) in lines[0]


@pytest.mark.parametrize("table,known", [(X86_64, names.X86_64), (I386, names.I386)])
def test_table_names_are_the_kernels(table: dict, known: dict) -> None:
    # Every entry's name is the kernel's name for that number (uapi unistd headers).
    wrong = {nr: e.name for nr, e in table.items() if known.get(nr) != e.name}
    assert not wrong
