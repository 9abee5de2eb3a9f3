"""`pyexec -g PORT` (emulator/gdbstub.py): Debian's gdb in batch mode against the stub, both
architectures, checking gdb's own output; and the protocol itself from a small client
(checksums and acks, no-ack mode, the target description against `g`, memory errors, ^C).

Every stub listens on a port the kernel chose (-g 0, read back from its one stderr line); every
wait has a timeout, and a stub left running is killed.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120
GDB = shutil.which("gdb")
needs_gdb = pytest.mark.skipif(GDB is None, reason="gdb is not installed")


class Stub:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, out: Path, err: Path) -> None:
        self.proc = proc
        self.port = port
        self.out = out
        self.err = err

    def wait(self) -> int:
        return self.proc.wait(timeout=TIMEOUT)

    @property
    def stdout(self) -> str:
        return self.out.read_text()

    @property
    def stderr(self) -> str:
        return self.err.read_text()


@contextmanager
def stub(prog: Path, tmp_path: Path, *args: str) -> Iterator[Stub]:
    """pyexec -g 0 PROG ARGS, waiting on a port it reports on stderr."""
    out, err = tmp_path / "stub.out", tmp_path / "stub.err"
    with open(out, "wb") as fo, open(err, "wb") as fe:
        proc = subprocess.Popen([sys.executable, "-m", "emulator", "-g", "0", str(prog), *args],
                                cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe)
    try:
        deadline = time.monotonic() + 30
        port = 0
        while time.monotonic() < deadline:
            m = re.search(r"waiting for gdb on 127\.0\.0\.1:(\d+)", err.read_text())
            if m:
                port = int(m[1])
                break
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        assert port, f"the stub did not report its port: {err.read_text()}"
        yield Stub(proc, port, out, err)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT)


def gdb(port: int, *commands: str, file: Path | None = None) -> str:
    """gdb -batch: `target remote :PORT`, then the commands; stdout and stderr together."""
    assert GDB is not None
    argv = [GDB, "-nx", "-batch", "-ex", "set confirm off", "-ex", "set pagination off"]
    if file is not None:
        argv += ["-ex", f"file {file}"]
    argv += ["-ex", f"target remote :{port}"]
    for c in commands:
        argv += ["-ex", c]
    proc = subprocess.run(argv, capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    return proc.stdout.decode() + proc.stderr.decode()


@needs_gdb
@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_gdb_session(arch: str, sample: Callable[[str, str], Path], tmp_path: Path) -> None:
    prog = sample("hello", arch)
    pc = "rip" if arch == "x86_64" else "eip"
    nr = 1 if arch == "x86_64" else 4
    with stub(prog, tmp_path) as s:
        text = gdb(s.port, "break main", "continue", f"info registers {pc}", "stepi", "x/i $pc",
                   "catch syscall write", "continue", "continue", "info registers eflags cs",
                   "continue", "continue", "continue")
        status = s.wait()
    width = 16 if arch == "x86_64" else 8
    assert re.search(rf"^0x[0-9a-f]{{{width}}} in _start \(\)$", text, re.M), text
    bp = re.search(r"^Breakpoint 1 at (0x[0-9a-f]+)$", text, re.M)
    assert bp, text
    main = int(bp[1], 16)
    assert re.search(rf"^Breakpoint 1, 0x{main:0{width}x} in main \(\)$", text, re.M), text
    assert re.search(rf"^{pc} +0x{main:x} +0x{main:x} <main(\+\d+)?>$", text, re.M), text
    assert re.search(r"^=> 0x[0-9a-f]+ <[\w.]+(\+\d+)?>:\t\w+", text, re.M), text
    assert f"Catchpoint 2 (syscall 'write' [{nr}])" in text
    assert len(re.findall(r"^Catchpoint 2 \(call to syscall write\), 0x[0-9a-f]+ in \S+ \(\)$",
                          text, re.M)) == 2, text
    assert len(re.findall(r"^Catchpoint 2 \(returned from syscall write\), ", text, re.M)) == 2
    assert re.search(r"^eflags +0x[0-9a-f]+ +\[ .*\]$", text, re.M), text
    assert re.search(rf"^cs +0x{0x33 if arch == 'x86_64' else 0x23:x} ", text, re.M), text
    assert "[Inferior 1 (Remote target) exited normally]" in text, text
    assert status == 0
    assert s.stdout == "hello, world\n"
    assert "hello, stderr" in s.stderr


@needs_gdb
@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_gdb_watchpoint(arch: str, sample: Callable[[str, str], Path], tmp_path: Path) -> None:
    with stub(sample("watch", arch), tmp_path) as s:
        text = gdb(s.port, "break main", "continue", "watch *(int *)&counter", "continue",
                   "continue", "continue", "delete", "continue")
        assert s.wait() == 0
    changes = re.findall(r"Hardware watchpoint 2: \*\(int \*\)&counter\n\nOld value = (\d+)\n"
                         r"New value = (\d+)\n0x[0-9a-f]+ in main \(\)", text)
    assert changes == [("0", "10"), ("10", "20"), ("20", "30")], text
    assert "exited normally" in text
    assert s.stdout == "counter=30\n"


@needs_gdb
@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_gdb_sigsegv(arch: str, sample: Callable[[str, str], Path], tmp_path: Path) -> None:
    with stub(sample("segv", arch), tmp_path) as s:
        text = gdb(s.port, "continue", "x/i $pc", "bt 1", "continue")
        status = s.wait()
    assert re.search(r"^Program received signal SIGSEGV, Segmentation fault\.\n"
                     r"0x[0-9a-f]+ in main \(\)$", text, re.M), text
    assert re.search(r"^=> 0x[0-9a-f]+ <main\+\d+>:\tmov", text, re.M), text
    assert "Program terminated with signal SIGSEGV, Segmentation fault." in text
    assert status == 128 + 11
    assert s.stdout == "about to fault\n"


@needs_gdb
def test_gdb_monitor_shows_paging_without_changing_it(sample: Callable[[str, str], Path],
                                                      tmp_path: Path) -> None:
    """gdb reads memory all the time (stack, code); those reads do not fault pages in."""
    prog = sample("hello", "x86_64")
    with stub(prog, tmp_path) as s:
        text = gdb(s.port, "x/4i $pc", "x/2gx $sp", "monitor pte $pc", "monitor info faults",
                   "monitor catch fault", "stepi", "stepi", "monitor pte $pc", "monitor maps",
                   "kill")
        s.wait()
    second = text
    assert re.search(r"pte 0x[0-9a-f]+ \(page 0x[0-9a-f]+\): not present", text), text
    assert re.search(r"^  file: +0$", text, re.M), text
    assert "Catchpoint 1 (fault)" in second
    assert re.search(r"Catchpoint 1 \(page fault: exec 0x[0-9a-f]+\), 0x[0-9a-f]+ in _start",
                     second), second
    assert "the MMU will: map file offset 0x1000" in second
    assert re.search(r"MMU did: exec 0x[0-9a-f]+: read file offset 0x1000 into page-cache", second)
    assert re.search(r"pte 0x[0-9a-f]+ \(page 0x[0-9a-f]+\): present", second), second
    assert "[stack]" in second


# --- the protocol from a small client -------------------------------------------------------------
class Remote:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""
        self.ack = True

    def _read(self) -> None:
        data = self.sock.recv(65536)
        assert data, "the stub closed the connection"
        self.buf += data

    def send(self, payload: str, checksum: int | None = None) -> None:
        data = payload.encode("latin-1")
        cs = sum(data) & 0xFF if checksum is None else checksum
        self.sock.sendall(b"$" + data + b"#" + f"{cs:02x}".encode())

    def ack_byte(self) -> bytes:
        while not self.buf:
            self._read()
        c, self.buf = self.buf[:1], self.buf[1:]
        return c

    def recv(self) -> str:
        while True:
            while self.buf[:1] == b"+":
                self.buf = self.buf[1:]
            m = re.match(rb"\$([^#]*)#([0-9a-f]{2})", self.buf, re.S)
            if m:
                self.buf = self.buf[m.end():]
                assert int(m[2], 16) == sum(m[1]) & 0xFF, "bad checksum from the stub"
                if self.ack:
                    self.sock.sendall(b"+")
                payload = m[1].decode("latin-1")
                if payload.startswith("O") and payload != "OK":
                    continue                         # console output
                return payload
            self._read()

    def cmd(self, payload: str) -> str:
        self.send(payload)
        if self.ack:
            assert self.ack_byte() == b"+"
        return self.recv()


def test_protocol(sample: Callable[[str, str], Path], tmp_path: Path) -> None:
    prog = sample("hello", "i386")
    with stub(prog, tmp_path) as s:
        r = Remote(s.port)
        # A bad checksum is nacked; the stub waits for the packet again.
        r.send("qSupported:swbreak+", checksum=0)
        assert r.ack_byte() == b"-"
        features = r.cmd("qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386").split(";")
        for f in ("qXfer:features:read+", "qXfer:auxv:read+", "qXfer:exec-file:read+",
                  "QCatchSyscalls+", "swbreak+", "hwbreak+", "vContSupported+"):
            assert f in features
        assert any(f.startswith("PacketSize=") for f in features)
        assert r.cmd("vMustReplyEmpty") == ""
        assert r.cmd("QStartNoAckMode") == "OK"
        r.ack = False
        # The target description, read in pieces, and `g` in its order.
        xml = ""
        while True:
            part = r.cmd(f"qXfer:features:read:target.xml:{len(xml):x},100")
            xml += part[1:]
            if part[0] == "l":
                break
        root = ET.fromstring(xml)
        assert root.findtext("architecture") == "i386"
        regs = [(reg.get("name"), int(reg.get("bitsize", "0"))) for reg in root.iter("reg")]
        names = [n for n, _ in regs]
        assert names[:10] == ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip",
                              "eflags"]
        assert {"st0", "fctrl", "xmm7", "mxcsr", "orig_eax"} <= set(names)
        features = {f.get("name") for f in root.iter("feature")}
        assert {"org.gnu.gdb.i386.core", "org.gnu.gdb.i386.sse",
                "org.gnu.gdb.i386.linux"} <= features
        g = r.cmd("g")
        assert len(g) == 2 * sum(b for _, b in regs) // 8
        eip_off = sum(b for _, b in regs[:8]) // 8
        eip = int.from_bytes(bytes.fromhex(g[2 * eip_off:2 * eip_off + 8]), "little")
        from loader.elf import read_elf
        assert eip == read_elf(str(prog)).e_entry
        assert r.cmd(f"p{names.index('eip'):x}") == g[2 * eip_off:2 * eip_off + 8]
        cs = g[2 * (eip_off + 8):2 * (eip_off + 12)]
        assert int.from_bytes(bytes.fromhex(cs), "little") == 0x23
        # auxv ends with AT_NULL; exec-file is the program.
        auxv = bytes.fromhex("")
        part = r.cmd("qXfer:auxv:read::0,1000")
        auxv = part[1:].encode("latin-1")
        assert part[0] == "l" and auxv[-8:] == bytes(8)
        assert r.cmd("qXfer:exec-file:read::0,1000") == "l" + str(prog)
        assert r.cmd("?").startswith("T05thread:")
        # Memory: unmapped is an error; a page not present reads as the file and stays absent.
        assert r.cmd("m10,4").startswith("E")
        code = r.cmd(f"m{eip:x},8")
        offset = 0x1000 + (eip & 0xFFF)
        assert bytes.fromhex(code) == prog.read_bytes()[offset:offset + 8]
        # One step, one instruction later.
        stop = r.cmd("vCont;s")
        assert stop.startswith("T05") and "thread:" in stop
        g2 = r.cmd("g")
        eip2 = int.from_bytes(bytes.fromhex(g2[2 * eip_off:2 * eip_off + 8]), "little")
        assert eip < eip2 < eip + 16
        # Syscall catching, then the exit.
        assert r.cmd("QCatchSyscalls:1;4") == "OK"
        assert r.cmd("vCont;c") == f"T05syscall_entry:4;thread:{s.proc.pid:x};"
        assert r.cmd("vCont;c") == f"T05syscall_return:4;thread:{s.proc.pid:x};"
        assert r.cmd("QCatchSyscalls:0") == "OK"
        assert r.cmd("vCont;c") == "W00"
        r.sock.close()
        assert s.wait() == 0


def test_interrupt_and_kill(sample: Callable[[str, str], Path], tmp_path: Path) -> None:
    """^C stops a running guest (T02, gdb's SIGINT); k ends the stub."""
    with stub(sample("cpu", "x86_64"), tmp_path, "100000") as s:
        r = Remote(s.port)
        r.cmd("QStartNoAckMode")
        r.ack = False
        r.send("vCont;c")
        time.sleep(1.0)
        r.sock.sendall(b"\x03")
        reply = r.recv()
        assert reply.startswith("T02thread:"), reply
        assert r.cmd("qC").startswith("QC")
        r.send("k")
        assert s.wait() != 0
