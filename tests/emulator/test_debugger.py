"""`pyexec --debug` / `--batch FILE` (emulator/debugger.py on emulator/inferior.py).

Scripted sessions, both architectures: the program stops before its first instruction with
nothing of the image resident, its first fault is the fetch of the entry page, the i386 boundary
page is one page-cache frame mapped twice until a write splits it, `write` syscalls are caught,
`break main` and `stepi N` land where capstone says, a watchpoint sees a global change, and a
SIGSEGV is explained. Bad input gives one line on stderr, never a traceback.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from loader.elf import PF_W, read_elf
from mmu.constants import page_down

ARCHES = ["x86_64", "i386"]
FRAME = re.compile(r"^0x([0-9a-f]+) in (\S+) \(\)$", re.M)


def session(run_pyexec: Callable[..., Any], tmp_path: Path, prog: Path, script: str,
            args: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run `script` with --batch; stdout/stderr as text."""
    cmds = tmp_path / "cmds.gdb"
    cmds.write_text(script)
    proc = run_pyexec(["--batch", cmds, prog, *args])
    out = subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(),
                                      proc.stderr.decode())
    assert "Traceback" not in out.stdout + out.stderr, out.stdout + out.stderr
    return out


def symbols(path: Path) -> dict[str, tuple[int, int]]:
    """name -> (address, size) from .symtab."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection
    out = {}
    with open(path, "rb") as f:
        for sec in ELFFile(f).iter_sections():
            if isinstance(sec, SymbolTableSection):
                for sym in sec.iter_symbols():
                    if sym.name and sym["st_value"]:
                        out.setdefault(sym.name, (sym["st_value"], sym["st_size"]))
    return out


def file_offset(path: Path, vaddr: int) -> int:
    for ph in read_elf(str(path)).loads:
        if ph.p_vaddr <= vaddr < ph.p_vaddr + ph.p_memsz:
            return page_down(ph.p_offset + (vaddr - ph.p_vaddr))
    raise AssertionError(f"{vaddr:#x} is in no PT_LOAD")


def pte_frame(text: str, addr: int) -> int | None:
    """The frame a `pte ADDR` block reports (None: not present)."""
    m = re.search(rf"^pte {addr:#x} \(page 0x[0-9a-f]+\): (present|not present)\n"
                  rf"(?:  .*\n)*?  frame:     (0x[0-9a-f]+)?", text, re.M)
    block = re.search(rf"^pte {addr:#x} \(page 0x[0-9a-f]+\): (present|not present)$", text, re.M)
    assert block, f"no pte block for {addr:#x}:\n{text}"
    if block[1] == "not present":
        return None
    assert m and m[2], text
    return int(m[2], 16)


@pytest.mark.parametrize("arch", ARCHES)
def test_first_fault_is_the_entry_page(arch: str, sample: Callable[[str, str], Path],
                                       run_pyexec: Callable[..., Any], tmp_path: Path) -> None:
    prog = sample("hello", arch)
    entry = read_elf(str(prog)).e_entry
    pc = "rip" if arch == "x86_64" else "eip"
    out = session(run_pyexec, tmp_path, prog,
                  f"info registers {pc}\npte $pc\ninfo faults\ncatch fault\ncontinue\n"
                  "continue\ninfo faults\n")
    text = out.stdout
    # Stopped before the first instruction, at e_entry, with the entry page not present.
    first = FRAME.search(text)
    assert first and int(first[1], 16) == entry and first[2] == "_start", text
    assert re.search(rf"^{pc} +0x{entry:x} +0x{entry:x} <_start>$", text, re.M), text
    assert pte_frame(text, entry) is None
    # Only execve has touched memory (argv, envp and auxv on the stack): no file page yet.
    assert re.search(r"^page faults: +1\n  file: +0\n  anon: +1$", text, re.M), text
    # The first catchpoint stop is the fetch of the entry page, before the MMU acts.
    offset = file_offset(prog, entry)
    stop = re.search(r"Catchpoint 1 \(page fault: (\w+) (0x[0-9a-f]+)\), 0x([0-9a-f]+) in (\S+)",
                     text)
    assert stop, text
    assert stop[1] == "exec" and int(stop[2], 16) == entry and int(stop[3], 16) == entry
    block = text[stop.end():]
    assert re.search(rf"=> {entry:#x} <_start>:\t\S", block), block
    assert f"access:  exec at {entry:#x} (page {page_down(entry):#x})" in block
    assert re.search(r"VMA: +[0-9a-f]+-[0-9a-f]+ r-xp .*hello-" + arch, block), block
    assert "before:  not present" in block
    assert f"the MMU will: map file offset {offset:#x}: a new page-cache frame, read from " \
           f"the file, r-x" in block
    # Continuing shows what the MMU did, then the next fault.
    assert re.search(rf"MMU did: exec {entry:#x}: read file offset {offset:#x} into page-cache "
                     r"frame 0x[0-9a-f]+ and mapped it", text), text
    assert re.search(r"^page faults: +2\n  file: +1\n", text, re.M), text
    assert out.returncode == 0, out.stderr


def boundary_page(path: Path) -> tuple[int, int, int]:
    """(file offset, vaddr in the read-only PT_LOAD, vaddr in the writable one) of the file page
    two PT_LOADs share."""
    loads = read_elf(str(path)).loads
    for a, b in zip(loads, loads[1:]):
        if a.p_filesz and b.p_filesz:
            last = page_down(a.p_offset + a.p_filesz - 1)
            if last == page_down(b.p_offset):
                assert not a.p_flags & PF_W and b.p_flags & PF_W
                ro = page_down(a.p_vaddr) + last - page_down(a.p_offset)
                return last, ro, page_down(b.p_vaddr)
    raise AssertionError(f"{path}: no file page shared by two PT_LOADs")


def test_boundary_page_shares_a_frame_until_written(sample: Callable[[str, str], Path],
                                                    run_pyexec: Callable[..., Any],
                                                    run_native: Callable[..., Any],
                                                    tmp_path: Path) -> None:
    prog = sample("boundary", "i386")
    offset, ro, rw = boundary_page(prog)
    native = run_native([prog])
    assert native.returncode == 0 and b"same bytes: yes" in native.stdout
    script = (f"pte {ro:#x}\npte {rw:#x}\n"
              f"catch fault {ro:#x} read\ncatch fault {rw:#x} write\nrun\n"
              # stop 1: the program reads the read-only view
              f"stepi\ndelete 1\npte {ro:#x}\npte {rw:#x}\n"
              # stop 2: its first write to the data view, before the MMU acts
              f"continue\npte {ro:#x}\npte {rw:#x}\nstepi\npte {ro:#x}\npte {rw:#x}\ncontinue\n")
    out = session(run_pyexec, tmp_path, prog, script)
    text = out.stdout
    parts = text.split("Catchpoint 2 (page fault: write")
    assert len(parts) == 2, text
    start, after_write = parts
    before_stop1 = start.split("Catchpoint 1 (page fault: read")[0]
    # Nothing of either view is resident at exec.
    assert pte_frame(before_stop1, ro) is None and pte_frame(before_stop1, rw) is None
    # After the read of the read-only view: both views map the one page-cache frame (the data
    # view was read during startup, for the TLS image).
    stop1 = start.split("Catchpoint 1 (page fault: read")[1]
    frame = pte_frame(stop1, ro)
    assert frame is not None and pte_frame(stop1, rw) == frame, stop1
    assert re.search(rf"file page: .*boundary-i386 offset {offset:#x}; page cache frame "
                     rf"{frame:#x} \(this frame\)", stop1), stop1
    # The write: present read-only, shared; the MMU will copy it.
    block, rest = after_write.split(f"pte {ro:#x}", 1)
    assert f"before:  present, frame {frame:#x} r--, page-cache page shared by 2 mapping(s)" \
        in block
    assert f"the MMU will: copy-on-write: copy frame {frame:#x}" in block
    rest = f"pte {ro:#x}" + rest
    first, second = rest.split("MMU did:", 1)
    assert pte_frame(first, ro) == frame and pte_frame(first, rw) == frame
    did = re.match(rf" write {rw:#x}: copy-on-write: copied frame {frame:#x} to new frame "
                   r"(0x[0-9a-f]+)", second)
    assert did, second
    new = int(did[1], 16)
    assert new != frame
    assert pte_frame(second, ro) == frame, "the read-only view keeps the page-cache frame"
    assert pte_frame(second, rw) == new, "the data view has its private copy"
    assert native.stdout.decode() in text, "the program's own output is unchanged"
    assert "exited normally" in text


@pytest.mark.parametrize("arch", ARCHES)
def test_catch_write_syscalls(arch: str, sample: Callable[[str, str], Path],
                              run_pyexec: Callable[..., Any], tmp_path: Path) -> None:
    prog = sample("hello", arch)
    nr = 1 if arch == "x86_64" else 4
    out = session(run_pyexec, tmp_path, prog,
                  "catch syscall write\ncatch syscall no_such_call\n" + "continue\n" * 5 +
                  "info breakpoints\n")
    text = out.stdout
    assert f"Catchpoint 1 (syscall 'write' [{nr}])" in text
    assert "Unknown syscall name 'no_such_call'." in out.stderr
    calls = re.findall(r"Catchpoint 1 \(call to syscall write\), 0x[0-9a-f]+ in \S+ \(\)\n"
                       r"   write\((\d+), 0x[0-9a-f]+, 0x([0-9a-f]+)\)", text)
    rets = re.findall(r"Catchpoint 1 \(returned from syscall write\), 0x[0-9a-f]+ in \S+ \(\)\n"
                      r"   = (\d+)", text)
    # hello writes "hello, world\n" to stdout and "hello, stderr\n" to stderr.
    assert sorted(calls) == [("1", "d"), ("2", "e")], text
    assert sorted(int(r) for r in rets) == [13, 14]
    assert "hello, world" in text
    assert re.search(r"\[Inferior 1 \(process \d+\) exited normally\]", text)
    assert re.search(r"^1 +catchpoint +keep y +syscall 'write' \[\d+\]\n\tcatchpoint already "
                     r"hit 2 times$", text, re.M), text


@pytest.mark.parametrize("arch", ARCHES)
def test_break_main_and_stepi(arch: str, sample: Callable[[str, str], Path],
                              run_pyexec: Callable[..., Any], tmp_path: Path) -> None:
    import capstone
    prog = sample("watch", arch)
    main, _ = symbols(prog)["main"]
    md = capstone.Cs(capstone.CS_ARCH_X86,
                     capstone.CS_MODE_64 if arch == "x86_64" else capstone.CS_MODE_32)
    data = prog.read_bytes()
    off = file_offset(prog, main) + (main - page_down(main))
    insns = list(md.disasm(data[off:off + 64], main))[:4]
    assert not any(i.mnemonic.startswith(("j", "call", "ret")) for i in insns[:3])
    after = [main + sum(i.size for i in insns[:n]) for n in (1, 3)]
    pc = "rip" if arch == "x86_64" else "eip"
    out = session(run_pyexec, tmp_path, prog,
                  f"break main\nrun\nx/2i $pc\nstepi\ninfo registers {pc}\nstepi 2\n"
                  f"p $pc\ninfo symbol $pc\nbt\ncontinue\n")
    text = out.stdout
    assert f"Breakpoint 1 at {main:#x}" in text
    width = 16 if arch == "x86_64" else 8
    assert f"\nBreakpoint 1, 0x{main:0{width}x} in main ()\n" in text, text
    assert re.search(rf"^=> {main:#x} <main>:\t\S", text, re.M), text
    assert re.search(rf"^   {main + insns[0].size:#x} <main\+{insns[0].size}>:\t", text, re.M)
    frames = [int(m[1], 16) for m in FRAME.finditer(text)]
    assert after[0] in frames and after[1] in frames, (text, [hex(a) for a in after])
    assert re.search(rf"^{pc} +{after[0]:#x} +{after[0]:#x} <main\+{after[0] - main}>$",
                     text, re.M), text
    assert f"$1 = (void (*)()) {after[1]:#x} <main+{after[1] - main}>" in text
    assert f"main + {after[1] - main} in section .text" in text
    assert re.search(r"^#0  0x[0-9a-f]+ in main \(\)\n#1  0x[0-9a-f]+ in \S+ \(\)", text, re.M)
    assert "counter=30" in text and "exited normally" in text


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("when", ["at-main", "at-start"])
def test_watch_a_variable(arch: str, when: str, sample: Callable[[str, str], Path],
                          run_pyexec: Callable[..., Any], tmp_path: Path) -> None:
    """At main the page is resident; at the first instruction it is not: the watchpoint
    follows the page when the MMU maps it."""
    prog = sample("watch", arch)
    counter, size = symbols(prog)["counter"]
    assert size == 4
    start = "break main\nrun\n" if when == "at-main" else ""
    out = session(run_pyexec, tmp_path, prog,
                  start + "watch counter\n" + "continue\n" * 4 + "info breakpoints\n")
    text = out.stdout
    n = 2 if when == "at-main" else 1
    changes = re.findall(rf"Hardware watchpoint {n}: counter\n\nOld value = (\d+)\n"
                         rf"New value = (\d+)\n0x([0-9a-f]+) in main \(\)", text)
    assert [(int(a), int(b)) for a, b, _ in changes] == [(0, 10), (10, 20), (20, 30)], text
    # The stop is after the storing instruction, in main.
    main, main_size = symbols(prog)["main"]
    assert all(main < int(pc, 16) < main + main_size for _, _, pc in changes)
    assert "counter=30" in text and "exited normally" in text
    assert re.search(rf"^{n} +hw watchpoint +keep y +counter\n\tbreakpoint already hit 3 times",
                     text, re.M), text


def test_read_and_write_watchpoints_together(sample: Callable[[str, str], Path],
                                             run_pyexec: Callable[..., Any],
                                             tmp_path: Path) -> None:
    prog = sample("watch", "x86_64")
    counter, _ = symbols(prog)["counter"]
    out = session(run_pyexec, tmp_path, prog,
                  f"break main\nrun\nrwatch *(int *){counter:#x}\nawatch counter 4\n"
                  "continue\ncontinue\ncontinue\n")
    text = out.stdout
    assert "Hardware read watchpoint 2: *(int *)" in text
    assert "Hardware access (read/write) watchpoint 3: counter" in text
    # main's first read of counter: both read-kind watchpoints report it.
    assert re.search(r"Hardware read watchpoint 2: .*\n\nValue = 0\n\n"
                     r"Hardware access \(read/write\) watchpoint 3: counter\n\nValue = 0\n", text)
    # Then the store of 10: only the access watchpoint, with the old and new values.
    assert re.search(r"Hardware access \(read/write\) watchpoint 3: counter\n\nOld value = 0\n"
                     r"New value = 10\n", text), text


@pytest.mark.parametrize("arch", ARCHES)
def test_sigsegv(arch: str, sample: Callable[[str, str], Path], run_pyexec: Callable[..., Any],
                 tmp_path: Path) -> None:
    prog = sample("segv", arch)
    out = session(run_pyexec, tmp_path, prog,
                  "catch fault 0x10 write\nrun\ncontinue\nx/i $pc\nbt\ncontinue\ninfo faults\n")
    text = out.stdout
    stop = text.split("Catchpoint 1 (page fault: write 0x10), ")[1]
    assert re.match(r"0x[0-9a-f]+ in main \(\)\n=> 0x[0-9a-f]+ <main\+\d+>:\tmov", stop), stop
    assert "access:  write at 0x10 (page 0x0)" in stop
    assert "VMA:     none" in stop and "before:  not present" in stop
    assert "the MMU will: SIGSEGV (SEGV_MAPERR): no VMA covers the address" in stop
    assert "MMU did: write 0x10: SIGSEGV SEGV_MAPERR" in text
    assert re.search(r"\nProgram received signal SIGSEGV, Segmentation fault\.\n"
                     r"0x[0-9a-f]+ in main \(\)\n", text), text
    assert re.search(r"^#0  0x[0-9a-f]+ in main \(\)$", text, re.M)
    assert "\nProgram terminated with signal SIGSEGV, Segmentation fault.\n" \
           "The program no longer exists.\n" in text
    assert "about to fault" in text
    assert "The program is not being run." in out.stderr


def test_signal_without_catchpoint_names_the_fault(sample: Callable[[str, str], Path],
                                                   run_pyexec: Callable[..., Any],
                                                   tmp_path: Path) -> None:
    out = session(run_pyexec, tmp_path, sample("segv", "x86_64"), "run\nsignal 0\ncontinue\n")
    text = out.stdout
    assert text.count("Program received signal SIGSEGV, Segmentation fault.") == 2, text
    assert "   MMU: write at 0x10, VMA none: SIGSEGV SEGV_MAPERR" in text
    assert "Continuing with no signal." in text
    assert "Program terminated with signal SIGSEGV" in text


def test_paging_views(sample: Callable[[str, str], Path], run_pyexec: Callable[..., Any],
                      tmp_path: Path) -> None:
    prog = sample("hello", "x86_64")
    entry = read_elf(str(prog)).e_entry
    out = session(run_pyexec, tmp_path, prog,
                  "maps\nvma $pc\npages $pc\nbreak main\nrun\npages $pc\npte $pc\n"
                  "x/s &_IO_stdin_used\ninfo faults\npte 0x10\nvma 0x10\n")
    text = out.stdout
    assert re.search(r"^7ff[0-9a-f]+-7ffffffff000 rw-p 00000000 00:00 0 +\[stack\]$", text, re.M)
    assert re.search(r"^  resident:  0 of \d+ pages$", text, re.M), text
    assert re.search(r"r-xp .*hello-x86_64: 0 of \d+ pages resident", text), text
    resident = re.findall(r"r-xp .*hello-x86_64: (\d+) of \d+ pages resident\n((?:  0x.*\n)+)",
                          text)
    assert resident and int(resident[0][0]) > 0
    assert f"  {page_down(entry):#x}  frame " in resident[0][1]
    assert re.search(r"pte 0x[0-9a-f]+ \(page 0x[0-9a-f]+\): present\n.*\n  frame:     0x[0-9a-f]+ "
                     r"\(refcount 2, mapped by 1 PTE\(s\)\)", text), text
    assert re.search(r"^page faults: +[1-9]\d*$", text, re.M)
    assert "pte 0x10 (page 0x0): not present" in text
    assert "0x10 is not in any VMA" in text
    assert out.returncode == 0


def test_x_does_not_fault_pages_in(sample: Callable[[str, str], Path],
                                   run_pyexec: Callable[..., Any], tmp_path: Path) -> None:
    """The debugger's reads show a page that is not present as the fault would fill it, and
    leave it not present."""
    prog = sample("watch", "x86_64")
    counter, _ = symbols(prog)["counter"]
    main, _ = symbols(prog)["main"]
    code = prog.read_bytes()[file_offset(prog, main) + (main - page_down(main)):][:4]
    out = session(run_pyexec, tmp_path, prog,
                  f"x/4xb {main:#x}\nx/wx {counter:#x}\npte {main:#x}\npte {counter:#x}\n"
                  "info faults\n")
    text = out.stdout
    line = re.search(rf"^{main:#x} <main>:\t(.*)$", text, re.M)
    assert line and line[1].split("\t") == [f"0x{b:02x}" for b in code]
    assert re.search(rf"^{counter:#x} <counter>:\t0x00000000$", text, re.M)
    assert "(not present, not faulted in: page" in text
    assert pte_frame(text, main) is None and pte_frame(text, counter) is None
    assert re.search(r"^page faults: +1\n  file: +0\n", text, re.M), text


def test_bad_input_is_one_line(sample: Callable[[str, str], Path],
                               run_pyexec: Callable[..., Any], tmp_path: Path) -> None:
    script = ("frobnicate\nx/4x 0x10\nbreak no_such_function\ninfo registers bogus\n"
              "p $nosuchreg\nx/4q $sp\ndelete 99\ncatch fault 0x2000-0x1000\ninfo nothing\n"
              "p 1 +\nstepi\nquit\n")
    out = session(run_pyexec, tmp_path, sample("hello", "x86_64"), script)
    errors = out.stderr.splitlines()
    assert errors == [
        'Undefined command: "frobnicate".  Try "help".',
        "Cannot access memory at address 0x10",
        'No symbol "no_such_function" in current context.',
        "Invalid register `bogus'",
        "Invalid register `nosuchreg'",
        'Undefined output format "q".',
        "No breakpoint number 99.",
        "Empty address range 0x2000-0x1000.",
        'Undefined info command: "nothing".  Try "help info".',
        "A syntax error in expression, near `'.",
    ], out.stderr
    # The session went on after every error: stepi ran.
    assert len(FRAME.findall(out.stdout)) == 2
    assert out.returncode == 0


def test_commands_from_a_pipe(sample: Callable[[str, str], Path],
                              run_pyexec: Callable[..., Any]) -> None:
    """A non-tty stdin is a script too: no prompt, no echo."""
    proc = run_pyexec(["--debug", sample("hello", "i386")],
                      input=b"break main\nrun\ninfo registers eip\nkill\nrun\ncontinue\n")
    out = proc.stdout.decode()
    assert "(pyexec)" not in out
    assert out.count("\nBreakpoint 1, 0x") == 2, "run after kill starts the program again"
    assert re.search(r"\[Inferior 1 \(process \d+\) killed\]", out)
    assert out.count("hello, world") == 1
    assert proc.returncode == 0


def test_usage_errors(run_pyexec: Callable[..., Any], sample: Callable[[str, str], Path],
                      tmp_path: Path) -> None:
    prog = sample("hello", "x86_64")
    proc = run_pyexec(["--batch"])
    assert proc.returncode == 2 and b"--batch needs a file" in proc.stderr
    for args, message in ((["--batch"], "no program given"),     # PROG was taken as FILE
                          (["--debug", "-g", "0"], "--debug and --gdb cannot be used together"),
                          (["-g", "x"], "-g: not a number"),
                          (["--gdb", "70000"], "--gdb: not a TCP port")):
        proc = run_pyexec([*args, prog])
        assert proc.returncode == 2 and message in proc.stderr.decode(), (args, proc.stderr)
    proc = run_pyexec(["--batch", tmp_path / "missing.gdb", prog])
    assert proc.returncode == 2 and b"missing.gdb" in proc.stderr
    proc = run_pyexec(["--debug", tmp_path / "no-such-program"], input=b"")
    assert proc.returncode == 127 and proc.stderr.count(b"\n") == 1


@pytest.mark.parametrize("arch", ARCHES)
def test_nexti_steps_over_a_call_and_finish_returns(arch: str, sample: Callable[[str, str], Path],
                                                    run_pyexec: Callable[..., Any],
                                                    tmp_path: Path) -> None:
    import capstone
    prog = sample("watch", arch)
    main, size = symbols(prog)["main"]
    md = capstone.Cs(capstone.CS_ARCH_X86,
                     capstone.CS_MODE_64 if arch == "x86_64" else capstone.CS_MODE_32)
    off = file_offset(prog, main) + (main - page_down(main))
    calls = [i for i in md.disasm(prog.read_bytes()[off:off + size], main)
             if i.mnemonic.startswith("call")]
    printf = calls[-1]                       # printf("counter=%d\n", counter)
    out = session(run_pyexec, tmp_path, prog,
                  f"advance *{printf.address:#x}\nnexti\nstepi\nfinish\nfinish\ncontinue\n")
    text = out.stdout
    frames = [(int(a, 16), f) for a, f in FRAME.findall(text)]
    assert (printf.address, "main") in frames, text
    after_call = printf.address + printf.size
    assert (after_call, "main") in frames, "nexti ran the call to its return"
    # stepi then finish: out of main into its caller (the return address on the stack).
    assert re.search(r"^Run till exit from #0  0x[0-9a-f]+ in main \(\)\n"
                     r"0x[0-9a-f]+ in __libc_start_call_main \(\)$", text, re.M), text
    assert "exited normally" in text


def test_catch_signal(sample: Callable[[str, str], Path], run_pyexec: Callable[..., Any],
                      tmp_path: Path) -> None:
    out = session(run_pyexec, tmp_path, sample("signals", "x86_64"),
                  "catch signal SIGUSR1\nrun\ncontinue\ninfo breakpoints\nkill\n")
    text = out.stdout
    assert "Catchpoint 1 (signal SIGUSR1)" in text
    stops = re.findall(r"^Catchpoint 1 \(signal SIGUSR1\), 0x[0-9a-f]+ in \S+ \(\)$", text, re.M)
    assert len(stops) == 2, text
    # Resuming delivers the signal: the program's handler ran between the two stops.
    assert text.index("raise: hits=1 signo=10") < text.rindex("Catchpoint 1 (signal SIGUSR1)")
    assert "\tcatchpoint already hit 2 times" in text
