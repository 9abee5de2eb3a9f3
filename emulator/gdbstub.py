"""`pyexec -g PORT PROG [ARGS]`: a GDB remote serial protocol stub, like qemu-user's -g.

It waits on 127.0.0.1:PORT for one gdb, then serves the packets gdb needs for a Linux process
(target descriptions for i386:x86-64 and i386, auxv, exec-file, registers, memory, c/s/vCont,
Z0-Z4, QCatchSyscalls, signals, exit). Execution goes through emulator/inferior.py, the same
stepping engine as the --debug REPL. `monitor` (qRcmd) runs the REPL's paging views: maps, vma,
pte, pages, info faults, catch fault.

Memory reads do not fault pages in (a page not present reads as what a fault would bring in),
so gdb looking at the stack or the code does not change the paging the program shows.
"""
from __future__ import annotations

import dataclasses
import io
import logging
import os
import select
import socket
import struct
import sys
import threading
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from emulator.control import StopReason
from emulator.errors import InternalError
from emulator.inferior import DebugError, Event, Inferior, start_or_report
from emulator.process import Options
from emulator.registers import TDESC, EFLAGS_BITS, Reg, RegisterError, raw_value, write_raw
from loader.elf import Arch

log = logging.getLogger("pyexec.gdbstub")

PACKET_SIZE = 0x4000

# gdb's own signal numbers (include/gdb/signals.def) for Linux's.
GDB_SIGNAL = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 10, 8: 8, 9: 9, 10: 30, 11: 11, 12: 31,
              13: 13, 14: 14, 15: 15, 16: 143, 17: 20, 18: 19, 19: 17, 20: 18, 21: 21, 22: 22,
              23: 16, 24: 24, 25: 25, 26: 26, 27: 27, 28: 28, 29: 23, 30: 32, 31: 12}
LINUX_SIGNAL = {v: k for k, v in GDB_SIGNAL.items()}


def gdb_signal(signo: int) -> int:
    if signo in GDB_SIGNAL:
        return GDB_SIGNAL[signo]
    if signo == 32:
        return 77                       # GDB_SIGNAL_REALTIME_32
    if 33 <= signo <= 63:
        return 45 + signo - 33          # GDB_SIGNAL_REALTIME_33..63
    if signo == 64:
        return 78
    return 143                          # GDB_SIGNAL_UNKNOWN


def linux_signal(gdbsig: int) -> int:
    if gdbsig in LINUX_SIGNAL:
        return LINUX_SIGNAL[gdbsig]
    if gdbsig == 77:
        return 32
    if 45 <= gdbsig <= 75:
        return gdbsig - 45 + 33
    if gdbsig == 78:
        return 64
    return 0


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def escape(data: bytes) -> bytes:
    """Binary data in a packet: '#', '$', '}' and '*' become '}' then the byte xor 0x20."""
    out = bytearray()
    for b in data:
        if b in (0x23, 0x24, 0x7D, 0x2A):
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def unescape(data: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(data):
        if data[i] == 0x7D and i + 1 < len(data):
            out.append(data[i + 1] ^ 0x20)
            i += 2
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


# --- target descriptions ------------------------------------------------------------------------
_MXCSR_BITS = [(0, "IE"), (1, "DE"), (2, "ZE"), (3, "OE"), (4, "UE"), (5, "PE"), (6, "DAZ"),
               (7, "IM"), (8, "DM"), (9, "ZM"), (10, "OM"), (11, "UM"), (12, "PM"), (15, "FZ")]
_FEATURES = [("core", "org.gnu.gdb.i386.core"), ("sse", "org.gnu.gdb.i386.sse"),
             ("linux", "org.gnu.gdb.i386.linux"), ("segments", "org.gnu.gdb.i386.segments")]


def _flags(ident: str, bits: List[Tuple[int, str]]) -> List[str]:
    lines = [f'    <flags id="{ident}" size="4">']
    lines += [f'      <field name="{name}" start="{bit}" end="{bit}"/>' for bit, name in bits]
    lines.append("    </flags>")
    return lines


def target_xml(arch: Arch) -> str:
    """One self-contained target description; register numbers are the order of TDESC."""
    lines = ['<?xml version="1.0"?>', '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
             '<target version="1.0">',
             f"  <architecture>{'i386:x86-64' if arch is Arch.X86_64 else 'i386'}</architecture>",
             "  <osabi>GNU/Linux</osabi>"]
    regs = TDESC[arch]
    for key, name in _FEATURES:
        members = [(n, r) for n, r in enumerate(regs) if r.feature == key]
        if not members:
            continue
        lines.append(f'  <feature name="{name}">')
        if key == "core":
            lines += _flags("i386_eflags", EFLAGS_BITS)
        if key == "sse":
            for ident, typ, count in (("v8bf16", "bfloat16", 8), ("v4f", "ieee_single", 4),
                                      ("v2d", "ieee_double", 2), ("v16i8", "int8", 16),
                                      ("v8i16", "int16", 8), ("v4i32", "int32", 4),
                                      ("v2i64", "int64", 2)):
                if ident == "v8bf16":
                    continue
                lines.append(f'    <vector id="{ident}" type="{typ}" count="{count}"/>')
            lines.append('    <union id="vec128">')
            for field, typ in (("v4_float", "v4f"), ("v2_double", "v2d"), ("v16_int8", "v16i8"),
                               ("v8_int16", "v8i16"), ("v4_int32", "v4i32"),
                               ("v2_int64", "v2i64"), ("uint128", "uint128")):
                lines.append(f'      <field name="{field}" type="{typ}"/>')
            lines.append("    </union>")
            lines += _flags("i386_mxcsr", _MXCSR_BITS)
        for n, r in members:
            group = f' group="{r.group}"' if r.group else ""
            lines.append(f'    <reg name="{r.name}" bitsize="{r.bits}" type="{r.type}" '
                         f'regnum="{n}"{group}/>')
        lines.append("  </feature>")
    lines.append("</target>")
    return "\n".join(lines) + "\n"


class Disconnected(Exception):
    pass


class GdbStub:
    """One gdb connection serving one Inferior."""

    def __init__(self, inferior: Inferior, conn: socket.socket) -> None:
        self.inf = inferior
        self.conn = conn
        self.ack = True
        self.buf = b""
        self.gdb_features: Set[str] = set()
        self.points: Dict[Tuple[str, int, int], int] = {}     # (Z type, addr, kind) -> number
        self.hw_points: Set[int] = set()
        self.syscall_catch: Optional[int] = None
        self.last: Optional[Event] = None
        self.done = False
        self.result = 0
        self.detached = False
        self.handlers: List[Tuple[str, Callable[[str], Optional[str | bytes]]]] = [
            ("qSupported", self.q_supported), ("qXfer:features:read:", self.q_xfer_features),
            ("qXfer:auxv:read:", self.q_xfer_auxv), ("qXfer:exec-file:read:", self.q_xfer_exec),
            ("QStartNoAckMode", self.q_noack), ("qAttached", lambda a: "0"),
            ("qC", lambda a: f"QC{self.tid:x}"), ("qfThreadInfo", lambda a: f"m{self.tid:x}"),
            ("qsThreadInfo", lambda a: "l"), ("qTStatus", lambda a: ""),
            ("vMustReplyEmpty", lambda a: ""), ("qSymbol", lambda a: "OK"),
            ("QCatchSyscalls:", self.q_catch_syscalls), ("qRcmd,", self.q_rcmd),
            ("QPassSignals:", lambda a: "OK"), ("QProgramSignals:", lambda a: "OK"),
            ("qThreadExtraInfo,", lambda a: "70796578656320677565737420"),   # "pyexec guest "
            ("vCont?", lambda a: "vCont;c;C;s;S"), ("vCont;", self.v_cont),
            ("vKill", self.v_kill), ("H", lambda a: "OK"), ("T", lambda a: "OK"),
            ("?", self.stop_reason), ("g", self.read_registers), ("G", self.write_registers),
            ("p", self.read_register), ("P", self.write_register), ("m", self.read_memory),
            ("M", self.write_memory), ("X", self.write_binary), ("c", self.cont),
            ("C", self.cont_signal), ("s", self.step), ("S", self.step_signal),
            ("Z", self.insert_point), ("z", self.remove_point), ("k", self.kill),
            ("D", self.detach),
        ]

    @property
    def tid(self) -> int:
        proc = self.inf.proc
        return proc.pid if proc is not None else 1

    # --- the wire ---------------------------------------------------------------------------
    def _recv(self) -> bytes:
        try:
            data = self.conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            raise Disconnected()
        return data

    def read_packet(self) -> Optional[bytes]:
        """The next packet's payload (acked), or None for a bare ^C."""
        while True:
            while self.buf[:1] in (b"+", b"-"):
                self.buf = self.buf[1:]
            if self.buf[:1] == b"\x03":
                self.buf = self.buf[1:]
                return None
            start = self.buf.find(b"$")
            if start > 0:
                self.buf = self.buf[start:]
                continue
            if start == 0:
                end = self.buf.find(b"#")
                if end >= 0 and len(self.buf) >= end + 3:
                    payload = self.buf[1:end]
                    sent = self.buf[end + 1:end + 3]
                    self.buf = self.buf[end + 3:]
                    try:
                        good = int(sent, 16) == checksum(payload)
                    except ValueError:
                        good = False
                    if self.ack:
                        self.conn.sendall(b"+" if good else b"-")
                    if good or not self.ack:
                        return payload
                    continue
            elif self.buf:
                self.buf = b""
            self.buf += self._recv()

    def send(self, payload: str | bytes) -> None:
        data = payload.encode("latin-1") if isinstance(payload, str) else payload
        packet = b"$" + data + b"#" + f"{checksum(data):02x}".encode()
        log.debug("-> %r", packet[:200])
        for _ in range(5):
            self.conn.sendall(packet)
            if not self.ack:
                return
            while True:
                while not self.buf:
                    self.buf += self._recv()
                c, self.buf = self.buf[:1], self.buf[1:]
                if c == b"+":
                    return
                if c == b"-":
                    break
                if c == b"$":           # gdb sent a packet instead of an ack
                    self.buf = c + self.buf
                    return
        raise Disconnected()

    def console(self, text: str) -> None:
        """gdb prints an `O` packet's text on its console."""
        for i in range(0, len(text), 512):
            self.send("O" + text[i:i + 512].encode().hex())

    # --- the loop ---------------------------------------------------------------------------
    def serve(self) -> int:
        try:
            while not self.done:
                payload = self.read_packet()
                if payload is None:
                    continue            # ^C while stopped: nothing to interrupt
                text = payload.decode("latin-1")
                log.debug("<- %r", text[:200])
                reply = self.dispatch(text)
                if reply is not None:
                    self.send(reply)
        except Disconnected:
            log.debug("gdb disconnected")
        return self.result

    def dispatch(self, text: str) -> Optional[str | bytes]:
        if text.startswith(("vFile:", "qXfer:libraries", "qXfer:threads", "qOffsets",
                            "qGetTLSAddr", "qL", "qP", "vAttach", "vRun", "!", "qMemoryRegion",
                            "QDisableRandomization", "QEnvironment", "QSetWorkingDir",
                            "QStartupWithShell", "qTfV", "qTfP", "QNonStop", "qHostInfo")):
            return ""
        for prefix, fn in self.handlers:
            if text.startswith(prefix):
                try:
                    return fn(text[len(prefix):])
                except (DebugError, RegisterError) as exc:
                    log.debug("%s: %s", text[:40], exc)
                    return "E14"
                except (ValueError, IndexError) as exc:
                    log.debug("malformed packet %r: %s", text[:60], exc)
                    return "E01"
        return ""

    # --- queries ----------------------------------------------------------------------------
    def q_supported(self, arg: str) -> str:
        for feat in arg.lstrip(":").split(";"):
            if feat.endswith("+"):
                self.gdb_features.add(feat[:-1])
        return (f"PacketSize={PACKET_SIZE:x};qXfer:features:read+;qXfer:auxv:read+;"
                "qXfer:exec-file:read+;QCatchSyscalls+;swbreak+;hwbreak+;vContSupported+;"
                "QStartNoAckMode+;QPassSignals+;QProgramSignals+")

    def q_noack(self, arg: str) -> Optional[str]:
        self.send("OK")
        self.ack = False
        return None

    @staticmethod
    def _xfer(data: bytes, arg: str) -> str | bytes:
        annex, _, rng = arg.rpartition(":")
        off, length = (int(x, 16) for x in rng.split(","))
        chunk = data[off:off + length]
        return (b"l" if off + length >= len(data) else b"m") + escape(chunk)

    def q_xfer_features(self, arg: str) -> str | bytes:
        annex = arg.split(":", 1)[0]
        if annex != "target.xml":
            return "E00"
        return self._xfer(target_xml(self.inf.arch).encode(), arg)

    def q_xfer_auxv(self, arg: str) -> str | bytes:
        proc = self.inf.require()
        assert proc.stack is not None
        fmt = "<QQ" if proc.arch is Arch.X86_64 else "<II"
        data = b"".join(struct.pack(fmt, int(k), v) for k, v in proc.stack.auxv)
        return self._xfer(data, arg)

    def q_xfer_exec(self, arg: str) -> str | bytes:
        proc = self.inf.proc
        path = proc.image.host_path if proc is not None else os.path.abspath(self.inf.argv[0])
        return self._xfer(os.fsencode(path), arg)

    def q_catch_syscalls(self, arg: str) -> str:
        if self.syscall_catch is not None:
            if self.syscall_catch in self.inf.points:
                self.inf.delete(self.syscall_catch)
            self.syscall_catch = None
        parts = arg.split(";")
        if parts[0] == "1":
            nums = {int(x, 16) for x in parts[1:] if x}
            p = self.inf.add_catch_syscall(nums or None, "gdb")
            self.syscall_catch = p.number
        elif parts[0] != "0":
            return "E01"
        return "OK"

    def q_rcmd(self, arg: str) -> str:
        """monitor COMMAND: the REPL's paging views."""
        from emulator.debugger import Debugger
        line = bytes.fromhex(arg).decode(errors="replace").strip()
        word = line.split()[0] if line.split() else ""
        allowed = {"maps", "vma", "pte", "pages", "info", "catch", "help", "x"}
        out = io.StringIO()
        if word not in allowed:
            out.write("monitor commands: maps, vma ADDR, pte ADDR, pages [ADDR], info faults, "
                      "catch fault [RANGE] [read|write|exec], x/NFU ADDR\n")
        elif word == "catch" and line.split()[1:2] != ["fault"]:
            out.write("only `catch fault` is a monitor command (gdb has catch syscall/signal)\n")
        else:
            dbg = Debugger(self.inf, io.StringIO(), out, out, interactive=False)
            dbg.onecmd(line)
        text = out.getvalue()
        return text.encode().hex() if text else "OK"

    # --- registers --------------------------------------------------------------------------
    def _regs(self) -> List[Reg]:
        return TDESC[self.inf.arch]

    def read_registers(self, arg: str) -> str:
        proc = self.inf.require()
        return "".join(raw_value(proc, r).to_bytes(r.bits // 8, "little").hex()
                       for r in self._regs())

    def write_registers(self, arg: str) -> str:
        proc = self.inf.require()
        data = bytes.fromhex(arg)
        pos = 0
        for r in self._regs():
            n = r.bits // 8
            if pos + n > len(data):
                break
            value = int.from_bytes(data[pos:pos + n], "little")
            if raw_value(proc, r) != value:
                write_raw(proc, r, value)
            pos += n
        return "OK"

    def read_register(self, arg: str) -> str:
        proc = self.inf.require()
        n = int(arg, 16)
        regs = self._regs()
        if n >= len(regs):
            return "E45"
        r = regs[n]
        return raw_value(proc, r).to_bytes(r.bits // 8, "little").hex()

    def write_register(self, arg: str) -> str:
        proc = self.inf.require()
        num, _, hexval = arg.partition("=")
        n = int(num, 16)
        regs = self._regs()
        if n >= len(regs):
            return "E45"
        write_raw(proc, regs[n], int.from_bytes(bytes.fromhex(hexval), "little"))
        return "OK"

    # --- memory -----------------------------------------------------------------------------
    def read_memory(self, arg: str) -> str:
        addr, length = (int(x, 16) for x in arg.split(","))
        data = self.inf.read_memory(addr, min(length, PACKET_SIZE // 2), partial=True)
        return data.hex()

    def write_memory(self, arg: str) -> str:
        head, _, hexdata = arg.partition(":")
        addr, length = (int(x, 16) for x in head.split(","))
        if length:
            self.inf.write_memory(addr, bytes.fromhex(hexdata)[:length])
        return "OK"

    def write_binary(self, arg: str) -> str:
        raw = arg.encode("latin-1")
        head, _, data = raw.partition(b":")
        addr, length = (int(x, 16) for x in head.decode().split(","))
        if length:
            self.inf.write_memory(addr, unescape(data)[:length])
        return "OK"

    # --- breakpoints and watchpoints ----------------------------------------------------------
    def insert_point(self, arg: str) -> str:
        typ, addr_s, kind_s = (arg.split(";")[0].split(",") + ["0"])[:3]
        addr, kind = int(addr_s, 16), int(kind_s, 16)
        key = (typ, addr, kind)
        if key in self.points:
            return "OK"
        if typ in ("0", "1"):
            p = self.inf.add_breakpoint(f"*{addr:#x}")
            if typ == "1":
                self.hw_points.add(p.number)
        elif typ in ("2", "3", "4"):
            access = {"2": "write", "3": "read", "4": "access"}[typ]
            p = self.inf.add_watchpoint(addr, max(kind, 1), access)
        else:
            return ""
        self.points[key] = p.number
        return "OK"

    def remove_point(self, arg: str) -> str:
        typ, addr_s, kind_s = (arg.split(";")[0].split(",") + ["0"])[:3]
        key = (typ, int(addr_s, 16), int(kind_s, 16))
        n = self.points.pop(key, None)
        if n is not None and n in self.inf.points:
            self.inf.delete(n)
            self.hw_points.discard(n)
        return "OK"

    # --- running ----------------------------------------------------------------------------
    def stop_reason(self, arg: str) -> str:
        ev = self.last
        if ev is None:
            return f"T05thread:{self.tid:x};"
        return self.stop_reply(ev)

    def _resume(self, step: bool, signo: int, addr: Optional[int] = None) -> Optional[str]:
        inf = self.inf
        proc = inf.require()
        if addr is not None:
            proc.machine.pc = addr
        self._apply_signal(signo)
        watcher = _InterruptWatcher(self.conn, inf)
        watcher.start()
        try:
            ev = inf.step(1) if step else inf.cont()
        finally:
            self.buf += watcher.finish()
        self.last = ev
        if ev.did:
            self.console("".join(f"   MMU did: {line}\n" for line in ev.did))
        if ev.fault is not None:
            self.console(self._fault_text(ev))
        return self.stop_reply(ev)

    def _apply_signal(self, gdbsig: int) -> None:
        """Resuming from a signal stop with no signal discards it (as ptrace does); with a
        signal, that one is delivered."""
        inf = self.inf
        last = self.last
        pending = last.stop.signo if last is not None and \
            last.stop.reason is StopReason.SIGNAL else 0
        sig = linux_signal(gdbsig) if gdbsig else 0
        if pending and sig != pending:
            inf.discard_signal(pending)
        if sig and sig != pending:
            inf.send_signal(sig)

    def _fault_text(self, ev: Event) -> str:
        from emulator.debugger import Debugger
        out = io.StringIO()
        dbg = Debugger(self.inf, io.StringIO(), out, out, interactive=False)
        dbg.report(dataclasses.replace(ev, did=[]))       # sent before, on their own
        return out.getvalue().lstrip("\n")

    def stop_reply(self, ev: Event) -> str:
        stop = ev.stop
        r = stop.reason
        if r is StopReason.EXITED:
            self.result = stop.status
            return f"W{stop.status & 0xFF:02x}"
        if r is StopReason.SIGNALED:
            self.result = 128 + stop.signo
            return f"X{gdb_signal(stop.signo):02x}"
        thread = f"thread:{self.tid:x};"
        if r is StopReason.SIGNAL:
            return f"T{gdb_signal(stop.signo):02x}{thread}"
        if r is StopReason.REQUESTED:
            return f"T02{thread}"
        if r is StopReason.WATCHPOINT and ev.watch is not None:
            kind = {"write": "watch", "read": "rwatch", "access": "awatch"}[ev.watch.point.access]
            return f"T05{kind}:{ev.watch.vaddr:x};{thread}"
        if r is StopReason.BREAKPOINT and ev.point is not None:
            if ev.point.number in self.hw_points and "hwbreak" in self.gdb_features:
                return f"T05hwbreak:;{thread}"
            if "swbreak" in self.gdb_features:
                return f"T05swbreak:;{thread}"
        if r is StopReason.SYSCALL_ENTRY and stop.syscall is not None:
            return f"T05syscall_entry:{stop.syscall.nr:x};{thread}"
        if r is StopReason.SYSCALL_EXIT and stop.syscall is not None:
            return f"T05syscall_return:{stop.syscall.nr:x};{thread}"
        return f"T05{thread}"

    def v_cont(self, arg: str) -> Optional[str]:
        action = arg.split(";")[0].split(":")[0]
        kind = action[:1]
        sig = int(action[1:], 16) if kind in ("C", "S") and len(action) > 1 else 0
        if kind in ("c", "C"):
            return self._resume(False, sig)
        if kind in ("s", "S"):
            return self._resume(True, sig)
        return "E01"

    @staticmethod
    def _addr(arg: str) -> Optional[int]:
        return int(arg, 16) if arg else None

    def cont(self, arg: str) -> Optional[str]:
        return self._resume(False, 0, self._addr(arg))

    def cont_signal(self, arg: str) -> Optional[str]:
        sig, _, addr = arg.partition(";")
        return self._resume(False, int(sig, 16), self._addr(addr))

    def step(self, arg: str) -> Optional[str]:
        return self._resume(True, 0, self._addr(arg))

    def step_signal(self, arg: str) -> Optional[str]:
        sig, _, addr = arg.partition(";")
        return self._resume(True, int(sig, 16), self._addr(addr))

    def kill(self, arg: str) -> Optional[str]:
        self.done = True
        self.result = 137
        self.inf.kill()
        return None

    def v_kill(self, arg: str) -> str:
        self.kill(arg)
        return "OK"

    def detach(self, arg: str) -> str:
        self.done = True
        self.detached = True
        return "OK"


class _InterruptWatcher:
    """While the guest runs, a ^C from gdb (0x03) stops it; other bytes are kept for later."""

    def __init__(self, conn: socket.socket, inf: Inferior) -> None:
        self.conn = conn
        self.inf = inf
        self.pending = b""
        self._r, self._w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="pyexec-gdb-intr", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.conn.fileno(), self._r], [], [])
            except (OSError, ValueError):
                return
            if self._r in ready:
                return
            try:
                data = self.conn.recv(4096)
            except OSError:
                return
            if not data:
                self.inf.interrupt()            # gdb went away: stop, the loop then ends
                return
            if b"\x03" in data:
                self.inf.interrupt()
                data = data.replace(b"\x03", b"")
            self.pending += data

    def finish(self) -> bytes:
        os.write(self._w, b"x")
        self._thread.join(timeout=5)
        os.close(self._r)
        os.close(self._w)
        return self.pending


def serve(argv: Sequence[str], port: int, options: Optional[Options] = None,
          host: str = "127.0.0.1") -> int:
    """pyexec -g PORT: load the program, wait for gdb, serve it; the exit status is the
    program's (128+N when it died by signal N)."""
    inferior = Inferior(argv, options=options)
    failed = start_or_report(inferior, argv)
    if failed is not None:
        return failed
    inferior.set_signal_stops(set(range(1, 65)) - {9})     # gdb decides what to pass
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        sys.stderr.write(f"pyexec: cannot listen on {host}:{port}: {exc.strerror}\n")
        return 2
    listener.listen(1)
    actual = listener.getsockname()[1]
    sys.stderr.write(f"pyexec: waiting for gdb on {host}:{actual} "
                     f"(target remote :{actual})\n")
    sys.stderr.flush()
    try:
        conn, _ = listener.accept()
    except KeyboardInterrupt:
        return 130
    finally:
        listener.close()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stub = GdbStub(inferior, conn)
    try:
        status = stub.serve()
    except InternalError as exc:
        sys.stderr.write(f"pyexec: internal error: {exc}\n")
        return 70
    finally:
        conn.close()
    if stub.detached and inferior.alive:
        return _run_detached(inferior)
    return status


def _run_detached(inferior: Inferior) -> int:
    """After `detach`: no points, no catchpoints; the program runs to its end."""
    inferior.delete_all()
    inferior.set_signal_stops(set())
    while True:
        ev = inferior.cont()
        if ev.stop.reason is StopReason.EXITED:
            return ev.stop.status
        if ev.stop.reason is StopReason.SIGNALED:
            return 128 + ev.stop.signo
