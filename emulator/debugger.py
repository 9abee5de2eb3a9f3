"""`pyexec --debug PROG [ARGS]`: a gdb-like REPL that shows paging as it happens.

Commands have gdb's names and output shapes (run, continue, stepi, break, watch, catch, info
registers, x, disassemble, bt...) plus MMU views (maps, vma, pte, pages, info faults). A
`catch fault` stop explains the fault in one block: the instruction, the access, the VMA, the
page's state before and what the MMU will do; resuming shows what it did.

Commands come from a terminal (readline, prompt), from a non-tty stdin or from `--batch FILE`
(no prompt, no echo: output stays clean for scripts). All execution goes through
emulator/inferior.py, the stepping engine the gdb stub uses too.
"""
from __future__ import annotations

import cmd
import logging
import os
import re
import signal
import sys
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, TextIO, Tuple

from emulator.control import StopReason
from emulator.errors import ExecError, InternalError, PyexecError
from emulator.inferior import (DebugError, Event, FaultReport, Inferior, Point, describe_pte,
                               start_or_report,
                               parse_signal, predict_fault, signal_description, vma_brief)
from emulator.registers import (GENERAL, TDESC, RegisterError, canonical, eflags_text,
                                raw_value, width)
from emulator.signum import signal_name
from loader.elf import Arch
from mmu.constants import ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, PAGE_SHIFT, PAGE_SIZE, VM, \
    page_down
from mmu.fault import ACCESS_NAMES, prot_str

log = logging.getLogger("pyexec.debugger")

ACCESS_WORDS = {"read": ACCESS_READ, "write": ACCESS_WRITE, "exec": ACCESS_FETCH,
                "fetch": ACCESS_FETCH}
UNIT_BYTES = {"b": 1, "h": 2, "w": 4, "g": 8}
PER_LINE = {1: 8, 2: 8, 4: 4, 8: 2}
X_FORMATS = set("xduotcasi")
VM_FLAG_NAMES = [(VM.SHARED, "shared"), (VM.MAYREAD, "mayread"), (VM.MAYWRITE, "maywrite"),
                 (VM.MAYEXEC, "mayexec"), (VM.MAYSHARE, "mayshare"), (VM.GROWSDOWN, "growsdown"),
                 (VM.LOCKED, "locked"), (VM.ACCOUNT, "account"), (VM.NORESERVE, "noreserve")]
HELP = """\
Running:     run (r), start, starti, continue (c), stepi [N] (si), nexti [N] (ni), finish,
             until ADDR, advance ADDR, kill, quit (q)
Breakpoints: break ADDR|SYMBOL (b), tbreak, delete [N...] (d), disable/enable [N...],
             info breakpoints; watch/rwatch/awatch ADDR [LEN]
Catchpoints: catch fault [START-END|ADDR[,+LEN]] [read|write|exec]...,
             catch syscall [NAME|NUMBER]..., catch signal [SIGNAL]...
Data:        info registers [REG...] (i r), p[/FMT] EXPR, set $REG = EXPR,
             set {TYPE}ADDR = EXPR, x/NFU ADDR (F: x d u o t c a s i, U: b h w g),
             disassemble [ADDR[,+LEN]], bt, info symbol ADDR
Paging:      maps (info proc mappings), vma ADDR, pte ADDR, pages [ADDR], info faults
Scripts:     echo TEXT, # comment; a non-tty stdin or --batch FILE runs commands without prompts
"""


class Disassembler:
    """capstone, in gdb's default AT&T syntax (set disassembly-flavor intel to change)."""

    def __init__(self, arch: Arch) -> None:
        import capstone
        self.capstone = capstone
        self.md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64 if arch is Arch.X86_64
                              else capstone.CS_MODE_32)
        self.md.detail = True
        self.flavor = "att"
        self.md.syntax = capstone.CS_OPT_SYNTAX_ATT

    def set_flavor(self, flavor: str) -> None:
        cs = self.capstone
        self.md.syntax = cs.CS_OPT_SYNTAX_ATT if flavor == "att" else cs.CS_OPT_SYNTAX_INTEL
        self.flavor = flavor

    def one(self, code: bytes, addr: int) -> Optional[Any]:
        for insn in self.md.disasm(code, addr, 1):
            return insn
        return None

    def text(self, insn: Any, symbolize: Callable[[int], str]) -> str:
        ops = insn.op_str.replace(", ", ",") if self.flavor == "att" else insn.op_str
        out = f"{insn.mnemonic:<6} {ops}".rstrip()
        cs = self.capstone
        if insn.group(cs.CS_GRP_CALL) or insn.group(cs.CS_GRP_JUMP):
            for op in insn.operands:
                if op.type == cs.x86.X86_OP_IMM:
                    sym = symbolize(op.imm)
                    if sym:
                        out += f" {sym}"
        for op in insn.operands:
            if op.type == cs.x86.X86_OP_MEM and op.mem.base in (cs.x86.X86_REG_RIP,
                                                                cs.x86.X86_REG_EIP) \
                    and op.mem.index == 0:
                target = insn.address + insn.size + op.mem.disp
                sym = symbolize(target)
                out += f"        # {target:#x}" + (f" {sym}" if sym else "")
        return out

    @staticmethod
    def is_call(insn: Any) -> bool:
        import capstone
        return bool(insn.group(capstone.CS_GRP_CALL))


class Debugger(cmd.Cmd):
    """The REPL. `do_*` methods are cmd.Cmd's command table; aliases are assignments."""

    def __init__(self, inferior: Inferior, stdin: TextIO, stdout: TextIO, stderr: TextIO,
                 interactive: bool) -> None:
        super().__init__(stdin=stdin, stdout=stdout)
        self.inf = inferior
        self.err = stderr
        self.interactive = interactive
        self.use_rawinput = interactive
        self.prompt = "(pyexec) " if interactive else ""
        self.history: List[int] = []
        self.x_next: Optional[int] = None
        self.x_fmt = "x"
        self.x_unit = 4
        self.failed = False
        self.quitting = False
        self.dis: Optional[Disassembler] = None
        self.did_live = False       # "MMU did" lines are printed as they happen (print_did)
        self._dis_arch: Optional[Arch] = None
        self._flavor = "att"

    # --- plumbing ---------------------------------------------------------------------------
    def out(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def error(self, text: str) -> None:
        self.failed = True
        self.stdout.flush()
        self.err.write(text + "\n")
        self.err.flush()

    def onecmd(self, line: str) -> bool:
        self.failed = False
        line = line.strip()
        if not line or line.startswith("#"):
            return False
        try:
            return bool(super().onecmd(line))
        except DebugError as exc:
            self.error(str(exc))
        except RegisterError as exc:
            self.error(str(exc))
        except ExecError as exc:
            self.error(str(exc))
        except InternalError as exc:
            self.error(f"pyexec: internal error: {exc}")
            log.debug("internal error", exc_info=True)
        except PyexecError as exc:
            self.error(f"pyexec: {exc}")
        except Exception as exc:        # never a traceback for a command
            log.debug("command %r failed", line, exc_info=True)
            self.error(f"pyexec: internal error in `{line}': {type(exc).__name__}: {exc}")
        return self.quitting

    def emptyline(self) -> bool:
        if self.interactive and self.lastcmd:
            return self.onecmd(self.lastcmd)
        return False

    def default(self, line: str) -> None:
        word = line.split()[0] if line.split() else line
        self.error(f'Undefined command: "{word}".  Try "help".')

    def postcmd(self, stop: bool, line: str) -> bool:
        self.stdout.flush()
        return stop

    def disassembler(self) -> Disassembler:
        arch = self.inf.arch
        if self.dis is None or self._dis_arch is not arch:
            self.dis = Disassembler(arch)
            self.dis.set_flavor(self._flavor)
            self._dis_arch = arch
        return self.dis

    def value(self, text: str) -> int:
        from emulator.expr import evaluate
        return evaluate(text, self.inf, self.history)

    def numbers(self, arg: str) -> List[int]:
        out: List[int] = []
        for word in arg.split():
            m = re.fullmatch(r"(\d+)-(\d+)", word)
            if m:
                out.extend(range(int(m[1]), int(m[2]) + 1))
            elif word.isdigit():
                out.append(int(word))
            else:
                raise DebugError(f"Bad breakpoint number '{word}': args must be numbers.")
        return out

    def addr_text(self, addr: int) -> str:
        sym = self.inf.symbolize(addr)
        return f"{addr:#x} {sym}" if sym else f"{addr:#x}"

    # --- running ----------------------------------------------------------------------------
    def _go(self, action: Callable[[], Event]) -> Event:
        """Run the guest; in a terminal session ^C stops it (gdb's "Program received signal
        SIGINT"). The guest may be in a loop that never returns to Python, so a thread woken
        through signal.set_wakeup_fd stops the CPU (as emulator/hostsig.py does)."""
        self.stdout.flush()
        if not self.interactive:
            ev = action()
        else:
            ev = self._go_interruptible(action)
        self.x_next = None
        self.report(ev)
        return ev

    def _go_interruptible(self, action: Callable[[], Event]) -> Event:
        def handler(signum: int, frame: Any) -> None:
            self.inf.interrupt()
        old = signal.signal(signal.SIGINT, handler)
        r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        os.set_blocking(r, True)
        old_fd = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        watcher = threading.Thread(target=self._wake_on_signals, args=(r,),
                                   name="pyexec-debugger-signals", daemon=True)
        watcher.start()
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        try:
            return action()
        finally:
            current = signal.set_wakeup_fd(old_fd)
            if current != w:               # the guest's signal setup took the wakeup fd
                signal.set_wakeup_fd(current, warn_on_full_buffer=False)
            os.close(w)
            watcher.join(timeout=5)
            os.close(r)
            if signal.getsignal(signal.SIGINT) is handler:
                signal.signal(signal.SIGINT, old)

    def _wake_on_signals(self, fd: int) -> None:
        while True:
            try:
                data = os.read(fd, 64)
            except OSError:
                return
            if not data:
                return
            if signal.SIGINT in data:
                self.inf.interrupt()
            elif self.inf.proc is not None:
                self.inf.proc.machine.stop()     # a forwarded signal: let Python see it

    def report(self, ev: Event) -> None:
        inf = self.inf
        if not self.did_live:
            for line in ev.did:
                self.out(f"   MMU did: {line}")
        proc = inf.proc
        pid = proc.pid if proc is not None else 0
        for path in ev.execs:
            self.out(f"process {pid} is executing new program: {path}")
        stop = ev.stop
        r = stop.reason
        if r is StopReason.EXITED:
            if stop.status:
                self.out(f"[Inferior 1 (process {pid}) exited with code {stop.status:02o}]")
            else:
                self.out(f"[Inferior 1 (process {pid}) exited normally]")
            return
        if r is StopReason.SIGNALED:
            self.out(f"\nProgram terminated with signal {signal_name(stop.signo)}, "
                     f"{signal_description(stop.signo)}.\nThe program no longer exists.")
            return
        pc = inf.require().machine.pc
        where = inf.frame_line(pc)
        p = ev.point
        if r is StopReason.BREAKPOINT:
            if p is not None:
                what = "Temporary breakpoint" if p.temporary else "Breakpoint"
                self.out(f"\n{what} {p.number}, {where}")
            else:
                self.out(where)
        elif r is StopReason.WATCHPOINT and ev.watches:
            for hit, old, new in ev.watches:
                self.report_watch(hit.point, old, new)
            self.out(where)
        elif r in (StopReason.SYSCALL_ENTRY, StopReason.SYSCALL_EXIT) and stop.syscall is not None:
            sc = stop.syscall
            num = p.number if p is not None else 0
            if r is StopReason.SYSCALL_ENTRY:
                self.out(f"\nCatchpoint {num} (call to syscall {sc.name}), {where}")
                args = ", ".join(f"{a:#x}" if a > 9 else str(a) for a in sc.args[:_nargs(sc.name)])
                self.out(f"   {sc.name}({args})")
            else:
                self.out(f"\nCatchpoint {num} (returned from syscall {sc.name}), {where}")
                res = sc.result if sc.result is not None else 0
                self.out(f"   = {res}" + (f" ({_errno_name(sc.errno)})" if sc.errno else ""))
        elif r is StopReason.FAULT and ev.fault is not None:
            num = p.number if p is not None else 0
            f = ev.fault
            self.out(f"\nCatchpoint {num} (page fault: {ACCESS_NAMES[f.access]} {f.addr:#x}), "
                     f"{where}")
            self.fault_block(f)
        elif r is StopReason.SIGNAL:
            if p is not None:
                self.out(f"\nCatchpoint {p.number} (signal {signal_name(stop.signo)}), {where}")
            else:
                self.out(f"\nProgram received signal {signal_name(stop.signo)}, "
                         f"{signal_description(stop.signo)}.\n{where}")
            for e in ev.mmu if not ev.did else []:
                if e.kind in ("segv", "sigbus") and proc is not None:
                    addr = inf.exact_address(e.addr, e.access)
                    self.out(f"   MMU: {ACCESS_NAMES.get(e.access, '?')} at {addr:#x}, "
                             f"VMA {vma_brief(proc.mm, e.vma)}: "
                             f"{'SIGSEGV' if e.kind == 'segv' else 'SIGBUS'} {e.detail}")
        elif r is StopReason.REQUESTED:
            self.out(f"\nProgram received signal SIGINT, Interrupt.\n{where}")
        else:
            self.out(where)

    def report_watch(self, p: Point, old: bytes, new: bytes) -> None:
        name = {"write": "Hardware watchpoint", "read": "Hardware read watchpoint",
                "access": "Hardware access (read/write) watchpoint"}[p.access]
        self.out(f"\n{name} {p.number}: {p.spec}\n")
        if p.access == "read" or old == new:
            self.out(f"Value = {_show_value(new)}")
        else:
            self.out(f"Old value = {_show_value(old)}\nNew value = {_show_value(new)}")

    def fault_block(self, f: FaultReport) -> None:
        """The explanation of a `catch fault` stop: one block, before the MMU acts."""
        self.out(self.insn_line(f.pc))
        self.out(f"   access:  {ACCESS_NAMES[f.access]} at {f.addr:#x} (page {f.page:#x})")
        self.out(f"   VMA:     {f.vma}")
        self.out(f"   before:  {f.before}")
        self.out(f"   the MMU will: {f.prediction}")

    def insn_line(self, addr: int) -> str:
        """`=> 0x401570 <_start>:\tinsn` (the marker when addr is the pc), as gdb's x/i."""
        inf = self.inf
        pc = inf.require().machine.pc
        sym = inf.symbolize(addr)
        head = ("=> " if addr == pc else "   ") + f"{addr:#x}" + (f" {sym}" if sym else "") + ":\t"
        code = inf.read_memory_or_empty(addr, 16)
        insn = self.disassembler().one(code, addr) if code else None
        if insn is None:
            return head + ("(bad)" if code else "Cannot access memory")
        return head + self.disassembler().text(insn, inf.symbolize)

    def print_did(self, text: str) -> None:
        self.out(f"   MMU did: {text}")
        self.stdout.flush()

    def _need_process(self) -> None:
        self.inf.require()

    # --- starting and stopping ---------------------------------------------------------------
    def _restart(self) -> None:
        self.inf.kill()
        self.inf.start()

    def do_run(self, arg: str) -> None:
        """run: start the program (again, from the beginning, if it already ran)."""
        inf = self.inf
        if arg.strip():
            import shlex
            inf.argv = inf.argv[:1] + shlex.split(arg)
        if inf.started or not inf.alive or arg.strip():
            self._restart()
        self.out(f"Starting program: {' '.join(inf.argv)}")
        self._go(inf.cont)

    do_r = do_run

    def do_start(self, arg: str) -> None:
        """start: a temporary breakpoint at main, then run."""
        if self.inf.symbols is None or self.inf.symbols.address("main") is None:
            raise DebugError('No symbol table loaded.  Use the "file" command.')
        if self.inf.started or not self.inf.alive:
            self._restart()
        p = self.inf.add_breakpoint("main", temporary=True)
        self.out(f"Temporary breakpoint {p.number} at {p.addr:#x}")
        self.do_run(arg)

    def do_starti(self, arg: str) -> None:
        """starti: start the program and stop before its first instruction."""
        self._restart()
        self.out(f"Starting program: {' '.join(self.inf.argv)}\n\nProgram stopped.")
        self.out(self.inf.frame_line(self.inf.require().machine.pc))

    def do_continue(self, arg: str) -> None:
        """continue: resume the program."""
        self._need_process()
        self.out("Continuing.")
        self._go(self.inf.cont)

    do_c = do_cont = do_fg = do_continue

    def do_signal(self, arg: str) -> None:
        """signal SIG|0: resume delivering SIG instead of the signal the program stopped for
        (0: none; a fault then happens again)."""
        inf = self.inf
        inf.require()
        if not arg.strip():
            raise DebugError("Argument required (signal number).")
        sig = 0 if arg.strip() == "0" else parse_signal(arg)
        last = inf.last_event
        pending = last.stop.signo if last is not None and \
            last.stop.reason is StopReason.SIGNAL else 0
        if pending and pending != sig:
            inf.discard_signal(pending)
        if sig and sig != pending:
            inf.send_signal(sig)
        self.out(f"Continuing with signal {signal_name(sig)}." if sig else
                 "Continuing with no signal.")
        self._go(inf.cont)

    def do_stepi(self, arg: str) -> None:
        """stepi [N]: execute N instructions (a syscall is one)."""
        self._need_process()
        n = self.value(arg) if arg.strip() else 1
        self._go(lambda: self.inf.step(n))

    do_si = do_stepi

    def do_nexti(self, arg: str) -> None:
        """nexti [N]: like stepi, but a call runs to its return."""
        self._need_process()
        n = self.value(arg) if arg.strip() else 1
        self._go(lambda: self._nexti(n))

    do_ni = do_nexti

    def _nexti(self, n: int) -> Event:
        ev = self._next_one()
        for _ in range(max(n, 1) - 1):
            internal = ev.stop.reason is StopReason.BREAKPOINT and ev.point is None
            if ev.stop.reason is not StopReason.STEP and not internal:
                break
            ev = self._next_one()
        return ev

    def _next_one(self) -> Event:
        inf = self.inf
        proc = inf.require()
        pc = proc.machine.pc
        code = inf.read_memory_or_empty(pc, 16)
        insn = self.disassembler().one(code, pc) if code else None
        if insn is not None and Disassembler.is_call(insn):
            sp = proc.machine.sp
            return inf.run_until([pc + insn.size], sp_above=sp - 1)
        return inf.step(1)

    def do_finish(self, arg: str) -> None:
        """finish: run until the current function returns (return address from the frame
        pointer or the stack: best effort without debug information)."""
        inf = self.inf
        proc = inf.require()
        frames = self.frames(2)
        if len(frames) < 2:
            raise DebugError('"finish" not meaningful in the outermost frame.')
        self.out(f"Run till exit from #0  {inf.frame_line(proc.machine.pc)}")
        ret, caller_sp = frames[1][0], frames[1][1]
        self._go(lambda: inf.run_until([ret], sp_above=caller_sp - 1))

    do_fin = do_finish

    def do_until(self, arg: str) -> None:
        """until ADDR / advance ADDR: run until ADDR (or until the current function returns)."""
        inf = self.inf
        inf.require()
        if not arg.strip():
            self.do_nexti("")
            return
        addr = inf.resolve(arg)
        targets = [addr]
        frames = self.frames(2)
        sp_limit = None
        if len(frames) >= 2:
            targets.append(frames[1][0])
        self._go(lambda: inf.run_until(targets, sp_limit))

    do_u = do_advance = do_until

    def do_kill(self, arg: str) -> None:
        """kill: end the program (run starts it again)."""
        inf = self.inf
        proc = inf.require()
        inf.kill()
        inf.exited = None
        self.out(f"[Inferior 1 (process {proc.pid}) killed]")

    do_k = do_kill

    def do_quit(self, arg: str) -> bool:
        """quit: leave (the program is killed)."""
        self.quitting = True
        return True

    do_q = do_exit = do_quit

    def do_EOF(self, arg: str) -> bool:
        if self.interactive:
            self.out("quit")
        return True

    def do_step(self, arg: str) -> None:
        """step/next: source-line stepping needs debug information; use stepi/nexti."""
        raise DebugError("Cannot step by source lines without line number information: "
                         "use stepi or nexti.")

    do_s = do_next = do_n = do_step

    # --- breakpoints, watchpoints, catchpoints ------------------------------------------------
    def do_break(self, arg: str) -> None:
        """break ADDR|SYMBOL|*ADDR: stop when the instruction at that address is reached."""
        self._break(arg, temporary=False)

    do_b = do_br = do_brea = do_break

    def do_tbreak(self, arg: str) -> None:
        """tbreak LOCATION: a breakpoint deleted when it is hit."""
        self._break(arg, temporary=True)

    do_tb = do_tbreak

    def _break(self, arg: str, temporary: bool) -> None:
        inf = self.inf
        spec = arg.strip()
        if not spec:
            spec = f"*{inf.require().machine.pc:#x}"
        p = inf.add_breakpoint(spec, temporary)
        what = "Temporary breakpoint" if temporary else "Breakpoint"
        self.out(f"{what} {p.number} at {p.addr:#x}")

    def do_delete(self, arg: str) -> None:
        """delete [N...]: delete breakpoints, watchpoints and catchpoints (all without N)."""
        words = arg.split()
        if words and words[0] in ("breakpoints", "br", "b"):
            words = words[1:]
        if not words:
            self.inf.delete_all()
            return
        for n in self.numbers(" ".join(words)):
            self.inf.delete(n)

    do_d = do_delete

    def do_disable(self, arg: str) -> None:
        """disable [N...]"""
        for n in self.numbers(arg) if arg.split() else list(self.inf.points):
            self.inf.set_enabled(n, False)

    do_dis = do_disable

    def do_enable(self, arg: str) -> None:
        """enable [N...]"""
        for n in self.numbers(arg) if arg.split() else list(self.inf.points):
            self.inf.set_enabled(n, True)

    do_en = do_enable

    def _watch(self, arg: str, access: str) -> None:
        inf = self.inf
        inf.require()
        words = arg.split()
        if not words:
            raise DebugError("Argument required (expression to compute).")
        expr = arg.strip()
        length: Optional[int] = None
        m = re.fullmatch(r"(.*\S)\s+(\d+|0x[0-9a-fA-F]+)", expr)
        if m and not re.search(r"[+\-*/%]\s*$", m[1]):
            expr, length = m[1], int(m[2], 0)
        from emulator.expr import type_size
        cast = re.fullmatch(r"\*\s*\(\s*([a-z_ 0-9]+?)\s*\*\s*\)\s*(.+)", expr)
        if cast and type_size(cast[1], inf.word) is not None:
            addr = self.value(cast[2])
            length = length or type_size(cast[1], inf.word)
        else:
            target = expr[1:] if expr.startswith("*") else expr
            addr = self.value(target)
            if length is None:
                sym = inf.symbols.symbol(target.strip()) if inf.symbols else None
                length = sym.size if sym is not None and 0 < sym.size <= 8 else 4
        assert length is not None
        p = inf.add_watchpoint(addr, length, access, spec=expr)
        name = {"write": "Hardware watchpoint", "read": "Hardware read watchpoint",
                "access": "Hardware access (read/write) watchpoint"}[access]
        self.out(f"{name} {p.number}: {expr}")

    def do_watch(self, arg: str) -> None:
        """watch ADDR|SYMBOL [LEN]: stop when the bytes change (default LEN: the symbol's size,
        or 4)."""
        self._watch(arg, "write")

    def do_rwatch(self, arg: str) -> None:
        """rwatch ADDR [LEN]: stop when the bytes are read."""
        self._watch(arg, "read")

    def do_awatch(self, arg: str) -> None:
        """awatch ADDR [LEN]: stop when the bytes are read or written."""
        self._watch(arg, "access")

    def do_catch(self, arg: str) -> None:
        """catch fault [RANGE] [read|write|exec]... | catch syscall [NAME|NR]... |
        catch signal [SIG]..."""
        words = arg.split()
        if not words:
            raise DebugError("Argument required: catch fault [RANGE] [read|write|exec], "
                             "catch syscall [NAME|NR]..., catch signal [SIG]...")
        sub, rest = words[0], words[1:]
        table: Dict[str, Callable[[List[str]], None]] = {
            "fault": self._catch_fault, "syscall": self._catch_syscall,
            "signal": self._catch_signal}
        fn = table.get(sub)
        if fn is None:
            raise DebugError(f'Undefined catch command: "{sub}".  Try "help catch".')
        fn(rest)

    def _catch_fault(self, words: List[str]) -> None:
        accesses: Set[int] = set()
        rng: List[str] = []
        for w in words:
            if w.lower() in ACCESS_WORDS:
                accesses.add(ACCESS_WORDS[w.lower()])
            else:
                rng.append(w)
        start, end = 0, 1 << 64
        spec = ""
        if rng:
            text = " ".join(rng)
            if "," in text:
                a, b = text.split(",", 1)
                start = self.value(a)
                b = b.strip()
                end = start + self.value(b[1:]) if b.startswith("+") else self.value(b)
            else:
                m = re.fullmatch(r"(\S+?)-(\S+)", text.replace(" ", ""))
                if m and not m[1].endswith(("+", "*", "/")):
                    start, end = self.value(m[1]), self.value(m[2])
                else:
                    start = page_down(self.value(text))
                    end = start + PAGE_SIZE
            if end <= start:
                raise DebugError(f"Empty address range {start:#x}-{end:#x}.")
            spec = f"{start:#x}-{end:#x}"
        acc = accesses or {ACCESS_READ, ACCESS_WRITE, ACCESS_FETCH}
        words_acc = " ".join(n for n, v in (("read", ACCESS_READ), ("write", ACCESS_WRITE),
                                            ("exec", ACCESS_FETCH)) if v in acc)
        full = " ".join(x for x in (spec, words_acc if accesses else "") if x)
        p = self.inf.add_catch_fault(start, end, acc, full)
        self.out(f"Catchpoint {p.number} (fault{' ' + full if full else ''})")

    def _syscall_table(self) -> Dict[int, str]:
        from syscalls import names
        return names.X86_64 if self.inf.arch is Arch.X86_64 else names.I386

    def _catch_syscall(self, words: List[str]) -> None:
        table = self._syscall_table()
        if not words:
            p = self.inf.add_catch_syscall(None, "")
            self.out(f"Catchpoint {p.number} (any syscall)")
            return
        by_name = {v: k for k, v in table.items()}
        nums: List[int] = []
        for w in words:
            if w.isdigit():
                nums.append(int(w))
            elif w in by_name:
                nums.append(by_name[w])
            else:
                raise DebugError(f"Unknown syscall name '{w}'.")
        desc = " ".join(f"'{table.get(n, str(n))}' [{n}]" for n in nums)
        p = self.inf.add_catch_syscall(set(nums), desc)
        self.out(f"Catchpoint {p.number} ({'syscalls' if len(nums) > 1 else 'syscall'} {desc})")

    def _catch_signal(self, words: List[str]) -> None:
        if not words:
            p = self.inf.add_catch_signal(None, "standard signals")
            self.out(f"Catchpoint {p.number} (standard signals)")
            return
        if words == ["all"]:
            p = self.inf.add_catch_signal(set(range(1, 65)), "any signal")
            self.out(f"Catchpoint {p.number} (any signal)")
            return
        sigs = [parse_signal(w) for w in words]
        desc = " ".join(signal_name(s) for s in sigs)
        p = self.inf.add_catch_signal(set(sigs), desc)
        self.out(f"Catchpoint {p.number} (signal{'s' if len(sigs) > 1 else ''} {desc})")

    # --- info ---------------------------------------------------------------------------------
    def do_info(self, arg: str) -> None:
        """info breakpoints|registers|all-registers|symbol|faults|proc mappings|signals"""
        words = arg.split(None, 1)
        if not words:
            raise DebugError('"info" must be followed by the name of an info command.')
        sub, rest = words[0], (words[1] if len(words) > 1 else "")
        table: List[Tuple[str, int, Callable[[str], None]]] = [
            ("breakpoints", 1, self.info_breakpoints), ("watchpoints", 3, self.info_breakpoints),
            ("registers", 1, self.info_registers), ("all-registers", 2, self.info_all_registers),
            ("symbol", 2, self.info_symbol), ("faults", 1, self.info_faults),
            ("proc", 2, self.info_proc), ("signals", 3, self.info_signals),
            ("inferiors", 3, self.info_inferiors)]
        for name, minlen, fn in table:
            if len(sub) >= minlen and name.startswith(sub):
                fn(rest)
                return
        raise DebugError(f'Undefined info command: "{sub}".  Try "help info".')

    do_i = do_info

    def info_breakpoints(self, arg: str) -> None:
        inf = self.inf
        if not inf.points:
            self.out("No breakpoints or watchpoints.")
            return
        wide = inf.proc is None or inf.arch is Arch.X86_64
        aw = 19 if wide else 11
        self.out(f"{'Num':<8}{'Type':<15}{'Disp':<5}{'Enb':<4}{'Address':<{aw}}What")
        for p in inf.points.values():
            disp = "del" if p.temporary else "keep"
            enb = "y" if p.enabled else "n"
            if p.kind == "breakpoint":
                addr = f"0x{p.addr:0{16 if wide else 8}x}"
                what = inf.symbolize(p.addr)
                typ, hit = "breakpoint", "breakpoint"
            elif p.kind == "watchpoint":
                addr, what = "", p.spec
                typ = {"write": "hw watchpoint", "read": "read watchpoint",
                       "access": "acc watchpoint"}[p.access]
                hit = "breakpoint"
            else:
                addr = ""
                typ, hit = "catchpoint", "catchpoint"
                any_call = 'syscall "<any syscall>"'
                what = {"catch-syscall": f"syscall {p.spec}" if p.spec else any_call,
                        "catch-fault": f"fault {p.spec}".strip(),
                        "catch-signal": p.spec}[p.kind]
            self.out(f"{p.number:<8}{typ:<15}{disp:<5}{enb:<4}{addr:<{aw}}{what}".rstrip())
            if p.hits:
                self.out(f"\t{hit} already hit {p.hits} time{'s' if p.hits != 1 else ''}")

    def reg_line(self, name: str) -> str:
        inf = self.inf
        arch = inf.arch
        name = canonical(arch, name)
        value = inf.reg(name)
        bits = width(arch, name)
        if name == "eflags":
            natural = eflags_text(value)
        elif name in ("rip", "eip"):
            natural = self.addr_text(value)
        elif name in ("rsp", "rbp", "esp", "ebp"):
            natural = f"{value:#x}"
        elif bits > 64:
            natural = f"{value:#x}"
        else:
            natural = str(_signed(value, bits))
        return f"{name:<15}{hex(value):<19} {natural}"

    def info_registers(self, arg: str) -> None:
        inf = self.inf
        inf.require()
        names = [w.lstrip("$") for w in arg.split()] or GENERAL[inf.arch]
        for name in names:
            try:
                self.out(self.reg_line(name))
            except RegisterError:
                raise DebugError(f"Invalid register `{name}'") from None

    def info_all_registers(self, arg: str) -> None:
        inf = self.inf
        proc = inf.require()
        for name in GENERAL[inf.arch]:
            self.out(self.reg_line(name))
        for reg in TDESC[inf.arch]:
            if reg.name in GENERAL[inf.arch] or reg.name.startswith("orig_"):
                continue
            value = raw_value(proc, reg)
            self.out(f"{reg.name:<15}{value:<#19x}{value}")

    def info_symbol(self, arg: str) -> None:
        inf = self.inf
        addr = self.value(arg)
        found = inf.symbols.lookup(addr) if inf.symbols else None
        if found is None:
            self.out(f"No symbol matches {arg.strip()}.")
            return
        name, off = found
        sec = inf.symbols.section_of(addr) if inf.symbols else None
        self.out(f"{name}{f' + {off}' if off else ''} in section {sec or '?'}")

    def info_faults(self, arg: str) -> None:
        mm = self.inf.require().mm
        st = mm.stats
        self.out(f"page faults:     {st.total}")
        for name, value in st.as_dict().items():
            self.out(f"  {name + ':':<15}{value}")
        self.out(f"resident pages:  {mm.rss}")
        self.out(f"page cache:      {len(mm.pagecache)} pages")

    def info_proc(self, arg: str) -> None:
        if arg.split()[:1] in (["mappings"], ["map"], ["mapping"]):
            self.do_maps("")
            return
        proc = self.inf.require()
        self.out(f"process {proc.pid}\ncmdline = '{' '.join(self.inf.argv)}'\n"
                 f"exe = '{proc.exe_path}'")

    def info_signals(self, arg: str) -> None:
        inf = self.inf
        stops = inf.default_signal_stops
        self.out("Signal        Stop\tDescription\n")
        for s in range(1, 32):
            stop = "Yes" if s in stops else "No"
            self.out(f"{signal_name(s):<14}{stop}\t{signal_description(s)}")

    def info_inferiors(self, arg: str) -> None:
        proc = self.inf.proc
        desc = f"process {proc.pid}" if proc is not None and self.inf.alive else "<null>"
        self.out(f"  Num  Description       Connection           Executable        \n"
                 f"* 1    {desc:<17} {'pyexec':<20} {self.inf.argv[0]} ")

    # --- data ---------------------------------------------------------------------------------
    def do_print(self, arg: str) -> None:
        """print[/FMT] EXPR: a value ($reg, symbol, number, *(type *)addr...)."""
        fmt, expr = _split_fmt(arg)
        expr = expr.strip()
        if not expr:
            if not self.history:
                raise DebugError("History is empty.")
            value = self.history[-1]
        elif "=" in expr and not re.search(r"[=!<>]=|==", expr):
            self.do_set("var " + expr)
            lhs = expr.split("=", 1)[0]
            value = self.value(lhs)
            expr = lhs
        else:
            value = self.value(expr)
        self.history.append(value)
        self.out(f"${len(self.history)} = {self.format_value(expr, value, fmt)}")

    do_p = do_inspect = do_call = do_print

    def format_value(self, expr: str, value: int, fmt: str) -> str:
        inf = self.inf
        name = expr[1:].lower() if re.fullmatch(r"\$[A-Za-z_]\w*", expr) else ""
        bits = 64
        if name:
            try:
                bits = width(inf.arch, name)
                name = canonical(inf.arch, name)
            except RegisterError:
                name = ""
        if fmt:
            return _fmt_int(value, fmt[-1], bits)
        if name in ("rip", "eip"):
            return f"(void (*)()) {self.addr_text(value)}"
        if name in ("rsp", "rbp", "esp", "ebp"):
            return f"(void *) {value:#x}"
        if name == "eflags":
            return eflags_text(value)
        if name:
            return str(_signed(value, bits))
        sym = inf.symbols.symbol(expr) if inf.symbols is not None and \
            re.fullmatch(r"[A-Za-z_.][\w.@]*", expr) else None
        if sym is not None:
            if sym.is_func:
                return f"{{<text variable, no debug info>}} {self.addr_text(value)}"
            return f"(<data variable, no debug info> *) {self.addr_text(value)}"
        return str(_signed(value, 64))

    def do_output(self, arg: str) -> None:
        """output EXPR: the value without $N = and newline."""
        self.stdout.write(str(_signed(self.value(arg), 64)))

    def do_echo(self, arg: str) -> None:
        """echo TEXT: print TEXT (C escapes: \\n, \\t)."""
        text = arg.replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")
        self.stdout.write(text)

    def do_set(self, arg: str) -> None:
        """set $REG = EXPR | set var ... | set {TYPE} ADDR = EXPR | set *(TYPE *) ADDR = EXPR |
        set disassembly-flavor att|intel"""
        text = arg.strip()
        words = text.split()
        if not words:
            raise DebugError("Argument required (expression to compute).")
        if words[0] == "disassembly-flavor" and len(words) == 2 and words[1] in ("att", "intel"):
            self._flavor = words[1]
            if self.dis is not None:
                self.dis.set_flavor(words[1])
            return
        if words[0] in ("confirm", "pagination", "width", "height", "verbose", "print",
                        "listsize", "logging", "style"):
            return                      # gdb settings with no meaning here
        if words[0] in ("var", "variable"):
            text = text.split(None, 1)[1] if len(words) > 1 else ""
        if "=" not in text:
            raise DebugError("A syntax error in expression, near `'.")
        lhs, rhs = (s.strip() for s in text.split("=", 1))
        value = self.value(rhs)
        inf = self.inf
        if re.fullmatch(r"\$[A-Za-z_]\w*", lhs):
            try:
                inf.set_reg(lhs[1:], value)
            except RegisterError:
                raise DebugError(f"Invalid register `{lhs[1:]}'") from None
            return
        from emulator.expr import type_size
        m = re.fullmatch(r"\{\s*([a-z_ 0-9]+?)\s*\}\s*(.+)", lhs) or \
            re.fullmatch(r"\*\s*\(\s*([a-z_ 0-9]+?)\s*\*\s*\)\s*(.+)", lhs)
        if m and type_size(m[1], inf.word) is not None:
            size = type_size(m[1], inf.word)
            assert size is not None
            addr = self.value(m[2])
        elif lhs.startswith("*"):
            size, addr = inf.word, self.value(lhs[1:])
        else:
            raise DebugError(f"Left operand of assignment is not an lvalue.")
        inf.write_memory(addr, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))

    def do_x(self, arg: str) -> None:
        """x/NFU ADDR: examine memory (F: x d u o t c a s i; U: b h w g). Pages not present
        are shown as the fault would bring them in, without faulting them in."""
        inf = self.inf
        inf.require()
        fmt, expr = _split_fmt(arg)
        m = re.fullmatch(r"(\d*)([a-z]*)", fmt or "")
        if m is None:
            raise DebugError(f"Invalid number \"{fmt}\".")
        count = int(m[1]) if m[1] else 1
        letters = m[2]
        f, unit = self.x_fmt, None
        for ch in letters:
            if ch in UNIT_BYTES:
                unit = UNIT_BYTES[ch]
            elif ch in X_FORMATS:
                f = ch
            else:
                raise DebugError(f"Undefined output format \"{ch}\".")
        if expr.strip():
            addr = self.value(expr)
        elif self.x_next is not None:
            addr = self.x_next
        else:
            raise DebugError("Argument required (starting display address).")
        addr &= (1 << (8 * inf.word)) - 1
        self.x_fmt = f
        if f == "i":
            self._x_insns(addr, count)
        elif f == "s":
            self._x_strings(addr, count)
        else:
            if unit is None:
                unit = inf.word if f == "a" else (1 if f == "c" else self.x_unit)
            if f not in ("a", "c"):
                self.x_unit = unit
            self._x_units(addr, count, f, unit)
        absent = inf.absent_pages(addr, max(1, (self.x_next or addr) - addr))
        if absent:
            pages = ", ".join(f"{a:#x}" for a in absent)
            many = len(absent) > 1
            self.out(f"(not present, not faulted in: page{'s' if many else ''} {pages} shown "
                     f"as the fault would fill {'them' if many else 'it'})")

    def _x_units(self, addr: int, count: int, f: str, unit: int) -> None:
        inf = self.inf
        per = PER_LINE[unit] if f not in ("a", "c") else (2 if f == "a" else 8)
        data = inf.read_memory(addr, unit * count, partial=True)
        i = 0
        while i < count:
            line_addr = addr + i * unit
            sym = inf.symbolize(line_addr)
            items = []
            for _ in range(min(per, count - i)):
                off = i * unit
                if off + unit > len(data):
                    break
                v = int.from_bytes(data[off:off + unit], "little")
                items.append(self._x_item(v, f, unit))
                i += 1
            if items:
                self.out(f"{line_addr:#x}{' ' + sym if sym else ''}:\t" + "\t".join(items))
            if len(data) < (i + 1) * unit and i < count:
                self.x_next = addr + i * unit
                raise DebugError(f"Cannot access memory at address {addr + len(data):#x}")
        self.x_next = addr + count * unit

    def _x_item(self, v: int, f: str, unit: int) -> str:
        if f == "x":
            return f"0x{v:0{2 * unit}x}"
        if f == "a":
            return self.addr_text(v)
        if f == "c":
            s = _signed(v, 8)
            return f"{s} {_c_char(v)}"
        return _fmt_int(v, f, unit * 8)

    def _x_strings(self, addr: int, count: int) -> None:
        inf = self.inf
        for _ in range(count):
            data = inf.read_memory(addr, 200, partial=True)
            nul = data.find(0)
            s = data if nul < 0 else data[:nul]
            sym = inf.symbolize(addr)
            text = "".join(_c_char(b)[1:-1] if b != 0x22 else '\\"' for b in s)
            more = "..." if nul < 0 and len(data) == 200 else ""
            self.out(f"{addr:#x}{' ' + sym if sym else ''}:\t\"{text}\"{more}")
            addr += len(s) + (1 if nul >= 0 else 0)
        self.x_next = addr

    def _x_insns(self, addr: int, count: int) -> None:
        inf = self.inf
        for _ in range(count):
            code = inf.read_memory(addr, 16, partial=True)
            insn = self.disassembler().one(code, addr)
            self.out(self.insn_line(addr))
            addr += insn.size if insn is not None else 1
        self.x_next = addr

    def do_disassemble(self, arg: str) -> None:
        """disassemble [ADDR | START,END | START,+LEN]: the function around ADDR (default pc)."""
        inf = self.inf
        proc = inf.require()
        text = re.sub(r"^(/\w+\s*)", "", arg.strip())
        dis = self.disassembler()
        pc = proc.machine.pc
        if "," in text:
            a, b = text.split(",", 1)
            start = self.value(a)
            b = b.strip()
            end = start + self.value(b[1:]) if b.startswith("+") else self.value(b)
            self.out(f"Dump of assembler code from {start:#x} to {end:#x}:")
            rel = False
        else:
            where = self.value(text) if text else pc
            sym = inf.symbols.containing(where) if inf.symbols else None
            if sym is None or not sym.size:
                raise DebugError("No function contains specified address.")
            start, end = sym.addr, sym.addr + sym.size
            self.out(f"Dump of assembler code for function {sym.name}:")
            rel = True
        code = inf.read_memory(start, end - start, partial=True)
        addr = start
        width_ = 16 if inf.arch is Arch.X86_64 else 8
        while addr < end:
            insn = dis.one(code[addr - start:addr - start + 16], addr)
            mark = "=> " if addr == pc else "   "
            if rel:
                found = inf.symbols.lookup(addr) if inf.symbols else None
                where_ = f"<+{found[1]}>" if found else ""
            else:
                where_ = inf.symbolize(addr) or ""
                if where_ and "+" not in where_:
                    where_ = where_[:-1] + "+0>"
            if insn is None:
                self.out(f"{mark}0x{addr:0{width_}x} {where_}:\t(bad)")
                addr += 1
                continue
            self.out(f"{mark}0x{addr:0{width_}x} {where_}:\t{dis.text(insn, inf.symbolize)}")
            addr += insn.size
        self.out("End of assembler dump.")

    do_disas = do_disassemble

    # --- frames -------------------------------------------------------------------------------
    def frames(self, limit: int = 64) -> List[Tuple[int, int]]:
        """(pc, sp) of each frame: frame pointers where the function keeps one, else the
        first word on the stack that is a return address (best effort)."""
        inf = self.inf
        proc = inf.require()
        arch = inf.arch
        w = inf.word
        pc, sp = proc.machine.pc, proc.machine.sp
        fp = inf.reg("rbp" if arch is Arch.X86_64 else "ebp")
        out = [(pc, sp)]
        while len(out) < limit:
            found = self._caller(pc, sp, fp, first=len(out) == 1)
            if found is None:
                break
            if found[1] <= sp:
                break
            if found[0] == pc and found[1] - sp <= 8 * w:
                # i386 main realigns its stack and copies the return address: one frame.
                sp, fp = found[1], found[2]
                out[-1] = (pc, sp)
                continue
            pc, sp, fp = found
            out.append((pc, sp))
            if inf.function_name(pc) in ("_start", "??"):
                break
        return out

    def _caller(self, pc: int, sp: int, fp: int, first: bool) -> Optional[Tuple[int, int, int]]:
        inf = self.inf
        w = inf.word
        sym = inf.symbols.containing(pc) if inf.symbols else None
        start = sym.addr if sym is not None else None
        prologue = self._fp_prologue(start) if start is not None else None
        # At the first instruction, or after a push %rbp: the return address is on top.
        if first and start is not None and pc == start:
            ret = inf.read_word(sp, w) if self._readable(sp) else 0
            if self._is_return_address(ret, start):
                return ret, sp + w, fp
        if prologue is not None and start is not None:
            push_at, mov_end = prologue
            if pc == push_at + 1 and first:
                ret = inf.read_word(sp + w, w)
                if self._is_return_address(ret, start):
                    return ret, sp + 2 * w, inf.read_word(sp, w)
            if pc >= mov_end and self._readable(fp) and fp >= sp:
                ret = inf.read_word(fp + w, w)
                if self._is_return_address(ret, start):
                    return ret, fp + 2 * w, inf.read_word(fp, w)
        # No frame pointer: the first word up the stack that is a return address into a call
        # of this function (or an indirect call).
        for i in range(1024):
            a = sp + i * w
            if not self._readable(a):
                break
            ret = inf.read_word(a, w)
            if self._is_return_address(ret, start):
                return ret, a + w, fp
        return None

    def _fp_prologue(self, start: int) -> Optional[Tuple[int, int]]:
        """(address of push %rbp, end of mov %rsp,%rbp) when the function sets up a frame
        pointer within its first instructions (after endbr64 or i386 main's realignment)."""
        code = self.inf.read_memory_or_empty(start, 32)
        dis = self.disassembler()
        addr, off = start, 0
        mov = b"\x48\x89\xe5" if self.inf.arch is Arch.X86_64 else b"\x89\xe5"
        for _ in range(6):
            insn = dis.one(code[off:], addr)
            if insn is None:
                return None
            if code[off:off + 1] == b"\x55" and code[off + 1:off + 1 + len(mov)] == mov:
                return addr, addr + 1 + len(mov)
            if Disassembler.is_call(insn) or insn.group(dis.capstone.CS_GRP_JUMP) or \
                    insn.group(dis.capstone.CS_GRP_RET):
                return None
            addr += insn.size
            off += insn.size
        return None

    def _readable(self, addr: int) -> bool:
        return bool(self.inf.read_memory_or_empty(addr, self.inf.word))

    def _is_return_address(self, ret: int, callee: Optional[int]) -> bool:
        """ret follows a call instruction in an executable VMA; a direct call must call
        `callee` (the function the frame is in), when that is known."""
        import capstone
        inf = self.inf
        proc = inf.require()
        vma = proc.mm.vmas.find(ret)
        if vma is None or not vma.prot & 4:
            return False
        code = inf.read_memory_or_empty(ret - 7, 7)
        if len(code) < 7:
            return False
        dis = self.disassembler()
        for n in (5, 2, 3, 6, 7, 4):
            insn = dis.one(code[7 - n:], ret - n)
            if insn is None or insn.size != n or not Disassembler.is_call(insn):
                continue
            ops = insn.operands
            if len(ops) == 1 and ops[0].type == capstone.x86.X86_OP_IMM:
                return callee is None or ops[0].imm == callee
            return True
        return False

    def do_backtrace(self, arg: str) -> None:
        """backtrace [N]: the call stack (frame pointers or stack scan: best effort)."""
        inf = self.inf
        limit = self.value(arg) if arg.strip() else 64
        for i, (pc, _) in enumerate(self.frames(limit)):
            self.out(f"#{i:<2} {inf.frame_line(pc)}")

    do_bt = do_where = do_backtrace

    # --- paging views -------------------------------------------------------------------------
    def do_maps(self, arg: str) -> None:
        """maps: the VMAs, in /proc/PID/maps format."""
        from mmu.maps import render_maps
        self.stdout.write(render_maps(self.inf.require().mm))

    def do_vma(self, arg: str) -> None:
        """vma ADDR: the VMA holding ADDR: range, rights, flags, backing, resident pages."""
        from mmu.maps import maps_line
        mm = self.inf.require().mm
        addr = self.value(arg)
        vma = mm.vmas.find(addr)
        if vma is None:
            nxt = mm.vmas.find_vma(addr)
            hint = ""
            if nxt is not None and nxt.flags & VM.GROWSDOWN:
                hint = f" (below the stack VMA at {nxt.start:#x}: an access may grow it)"
            self.out(f"{addr:#x} is not in any VMA{hint}")
            return
        self.out(maps_line(mm, vma))
        flags = [n for bit, n in VM_FLAG_NAMES if vma.flags & bit]
        npages = (vma.end - vma.start) >> PAGE_SHIFT
        self.out(f"  range:     {vma.start:#x}-{vma.end:#x} ({npages} pages)")
        self.out(f"  rights:    {prot_str(vma)}   flags: {' '.join(flags) or '-'}")
        if vma.file is not None:
            tail = f", file data ends at offset {vma.file_end:#x} (zeros after)" \
                if vma.file_end is not None else ""
            self.out(f"  backing:   {vma.file.path} from offset {vma.pgoff:#x}{tail}")
        else:
            self.out("  backing:   anonymous (zero-filled on first touch)")
        resident = sum(1 for v in range(vma.start >> PAGE_SHIFT, vma.end >> PAGE_SHIFT)
                       if v in mm.pt) if len(mm.pt) > (vma.end - vma.start) >> PAGE_SHIFT \
            else sum(1 for v in mm.pt if vma.start >> PAGE_SHIFT <= v < vma.end >> PAGE_SHIFT)
        self.out(f"  resident:  {resident} of {(vma.end - vma.start) >> PAGE_SHIFT} pages")

    def do_pte(self, arg: str) -> None:
        """pte ADDR: the page-table entry of ADDR's page: present, frame, rights, sharing, the
        file page behind it; for a page not present, what an access would do."""
        inf = self.inf
        mm = inf.require().mm
        addr = self.value(arg)
        page = page_down(addr)
        vma = mm.vmas.find(addr)
        pte = mm.pt.get(page >> PAGE_SHIFT)
        self.out(f"pte {addr:#x} (page {page:#x}): {'present' if pte else 'not present'}")
        self.out(f"  VMA:       {vma_brief(mm, vma)}")
        if pte is None:
            if vma is None and addr >= mm.layout.task_size:
                self.out("  above TASK_SIZE: no access from user mode")
                return
            for access in (ACCESS_READ, ACCESS_WRITE, ACCESS_FETCH):
                self.out(f"  {ACCESS_NAMES[access] + ':':<10} {predict_fault(mm, addr, access)}")
            return
        rc = mm.frames.refcount.get(pte.paddr, 0)
        from emulator.inferior import mappers, perms_str
        self.out(f"  frame:     {pte.paddr:#x} (refcount {rc}, "
                 f"mapped by {mappers(mm, pte.paddr)} PTE(s))")
        self.out(f"  TLB perms: {perms_str(pte.perms)}   kind: {pte.kind.name.lower()}   "
                 f"copy-on-write pending: {'yes' if pte.cow else 'no'}")
        self.out(f"  state:     {describe_pte(mm, addr, pte)}")
        if vma is not None and vma.file is not None:
            offset = vma.file_offset(page)
            cached = mm.pagecache.lookup(vma.file, offset)
            same = " (this frame)" if cached == pte.paddr else ""
            cache = f"page cache frame {cached:#x}{same}" if cached is not None else \
                "not in the page cache"
            self.out(f"  file page: {vma.file.path} offset {offset:#x}; {cache}")
        if pte.cow:
            self.out(f"  on write:  {predict_fault(mm, addr, ACCESS_WRITE)}")

    def do_pages(self, arg: str) -> None:
        """pages [ADDR]: the resident pages of ADDR's VMA (of every VMA without ADDR)."""
        inf = self.inf
        mm = inf.require().mm
        if arg.strip():
            addr = self.value(arg)
            vma = mm.vmas.find(addr)
            if vma is None:
                raise DebugError(f"{addr:#x} is not in any VMA")
            vmas = [vma]
        else:
            vmas = list(mm.vmas)
        from emulator.inferior import perms_str
        for vma in vmas:
            lo, hi = vma.start >> PAGE_SHIFT, vma.end >> PAGE_SHIFT
            vpns = sorted(v for v in mm.pt if lo <= v < hi)
            self.out(f"{vma_brief(mm, vma)}: {len(vpns)} of {hi - lo} pages resident")
            for v in vpns:
                pte = mm.pt[v]
                extra = ""
                if vma.file is not None:
                    extra = f"  file offset {vma.file_offset(v << PAGE_SHIFT):#x}"
                rc = mm.frames.refcount.get(pte.paddr, 0)
                self.out(f"  {v << PAGE_SHIFT:#x}  frame {pte.paddr:#x}  {perms_str(pte.perms)}  "
                         f"{pte.kind.name.lower():<12} refcount {rc}"
                         f"{'  cow' if pte.cow else ''}{extra}")

    def do_help(self, arg: str) -> None:
        """help [COMMAND]"""
        if arg.strip():
            super().do_help(arg)
            return
        self.stdout.write(HELP)


# --- formatting helpers -------------------------------------------------------------------------
def _split_fmt(arg: str) -> Tuple[str, str]:
    """'/4xw ADDR' -> ('4xw', 'ADDR')."""
    arg = arg.strip()
    if arg.startswith("/"):
        m = re.match(r"/(\w*)\s*(.*)", arg, re.S)
        assert m is not None
        return m[1], m[2]
    return "", arg


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _fmt_int(value: int, f: str, bits: int) -> str:
    value &= (1 << bits) - 1
    if f == "x":
        return f"{value:#x}"
    if f == "d":
        return str(_signed(value, bits))
    if f == "u":
        return str(value)
    if f == "o":
        return f"0{value:o}" if value else "0"
    if f == "t":
        return f"{value:b}"
    if f == "c":
        return f"{_signed(value, 8)} {_c_char(value & 0xFF)}"
    if f == "a":
        return f"{value:#x}"
    raise DebugError(f"Undefined output format \"{f}\".")


_ESCAPES = {0: "\\000", 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r",
            0x1B: "\\033", 0x27: "\\'", 0x5C: "\\\\"}


def _c_char(b: int) -> str:
    b &= 0xFF
    if b in _ESCAPES:
        return f"'{_ESCAPES[b]}'"
    if 0x20 <= b < 0x7F:
        return f"'{chr(b)}'"
    return f"'\\{b:03o}'"


def _show_value(data: bytes) -> str:
    if len(data) in (1, 2, 4, 8):
        return str(_signed(int.from_bytes(data, "little"), 8 * len(data)))
    if not data:
        return "<unreadable>"
    return "{" + ", ".join(f"{b:#x}" for b in data) + "}"


def _nargs(name: str) -> int:
    """How many arguments to show at a syscall entry (from the handler table when known)."""
    return _SYSCALL_NARGS.get(name, 6)


_SYSCALL_NARGS = {"exit": 1, "exit_group": 1, "write": 3, "read": 3, "close": 1, "brk": 1,
                  "mmap": 6, "mmap2": 6, "munmap": 2, "mprotect": 3, "openat": 4, "open": 3,
                  "fstat": 2, "fstat64": 2, "newfstatat": 4, "ioctl": 3, "writev": 3,
                  "arch_prctl": 2, "set_tid_address": 1, "set_thread_area": 1, "getpid": 0,
                  "gettid": 0, "uname": 1, "readlink": 3, "readlinkat": 4, "access": 2,
                  "rt_sigaction": 4, "rt_sigprocmask": 4, "getrandom": 3, "prlimit64": 4,
                  "set_robust_list": 2, "rseq": 4, "statx": 5, "lseek": 3, "_llseek": 5,
                  "kill": 2, "tgkill": 3, "getuid": 0, "geteuid": 0, "getgid": 0,
                  "getegid": 0, "getuid32": 0, "geteuid32": 0, "getgid32": 0, "getegid32": 0}


def _errno_name(errno: Optional[int]) -> str:
    if errno is None:
        return ""
    import errno as errmod
    return errmod.errorcode.get(errno, str(errno))


def run_debugger(argv: Sequence[str], batch: Optional[str] = None,
                 options: Any = None) -> int:
    """The REPL's main: the program stopped before its first instruction, then commands."""
    inferior = Inferior(argv, options=options)
    failed = start_or_report(inferior, argv)
    if failed is not None:
        return failed
    script: Optional[TextIO] = None
    if batch is not None:
        try:
            script = open(batch)
        except OSError as exc:
            sys.stderr.write(f"pyexec: {batch}: {exc.strerror}\n")
            return 2
    interactive = script is None and sys.stdin.isatty()
    dbg = Debugger(inferior, script or sys.stdin, sys.stdout, sys.stderr, interactive)
    inferior.on_did = dbg.print_did
    dbg.did_live = True
    if interactive:
        try:
            import readline  # noqa: F401  (line editing and history for cmd.Cmd)
        except ImportError:
            pass
        # At the prompt ^C abandons the line; while the guest runs it stops the guest.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    proc = inferior.require()
    dbg.out(f"Program stopped before its first instruction (nothing of {os.path.basename(argv[0])} "
            f"is resident yet).")
    dbg.out(inferior.frame_line(proc.machine.pc))
    try:
        if interactive:
            while True:
                try:
                    dbg.cmdloop()
                    break
                except KeyboardInterrupt:
                    dbg.stdout.write("\nQuit\n")
        else:
            dbg.cmdloop()
    finally:
        if script is not None:
            script.close()
        sys.stdout.flush()
    return 1 if dbg.failed and not interactive else 0


def debug_main(opts: Any) -> int:
    """pyexec --debug / --batch FILE / -g PORT (emulator/cli.py's CliOptions)."""
    from emulator.process import Options
    options = Options(random_seed=opts.seed)
    if opts.gdb_port is not None:
        from emulator.gdbstub import serve
        return serve(opts.argv, opts.gdb_port, options=options)
    return run_debugger(opts.argv, opts.batch, options=options)
