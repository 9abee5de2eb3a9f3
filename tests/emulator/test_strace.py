"""`--strace`: the same lines as strace(1) (`strace -f -o FILE`) on the samples, after
normalising what legitimately differs between two runs (pids, addresses, random bytes, temporary
names) and what differs because pyexec is not the kernel (listed in KNOWN_DIFFERENCES)."""
from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")

HERE = Path(__file__).resolve().parent

# Natively these go through the vDSO and never reach strace; pyexec has no vDSO.
VDSO_CALLS = {"clock_gettime", "clock_gettime64", "gettimeofday", "time", "clock_getres",
              "clock_getres_time64", "getcpu"}

# pyexec is not the kernel: (pattern, replacement) applied to both sides, each with its reason.
KNOWN_DIFFERENCES = [
    # rseq is not implemented (glibc copes with ENOSYS).
    (re.compile(r"^(rseq\(.*\)) = .*"), r"\1 = R"),
    # pyexec's statx fills the basic fields only.
    (re.compile(r"stx_mask=STATX_BASIC_STATS\|STATX_MNT_ID"), "stx_mask=STATX_BASIC_STATS"),
    # i386 glibc without a vDSO installs its own sa_restorer (natively the vDSO's is used).
    (re.compile(r"SA_RESTORER\|"), ""),
    (re.compile(r"sa_flags=SA_RESTORER, sa_restorer=0xADDR"), "sa_flags=0"),
    (re.compile(r", sa_restorer=0xADDR"), ""),
    # A host timer's SIGALRM reaches the guest through a Python handler: no si_code.
    (re.compile(r"--- SIGALRM \{.*\} ---"), "--- SIGALRM ---"),
]


def normalise(text: str, emulated: bool) -> list[str]:
    out = []
    for line in text.splitlines():
        line = re.sub(r"^(\d+ +|\[pid +\d+\] )", "", line)
        name = re.match(r"(\w+)\(", line)
        if emulated and name and name.group(1) in VDSO_CALLS:
            continue
        if name and name.group(1) == "getrandom":
            continue               # glibc asks for entropy where it lacks a vDSO clock, too
        line = re.sub(r"\) +=", ") =", line)
        line = re.sub(r"0x[0-9a-f]{5,}", "0xADDR", line)
        line = re.sub(r"pyexec-files-\w{6}", "pyexec-files-XXXXXX", line)
        line = re.sub(r"^(set_tid_address|getpid|gettid|getppid)\((.*)\) = \d+",
                      r"\1(\2) = PID", line)
        line = re.sub(r"^tgkill\(\d+, \d+, ", "tgkill(PID, PID, ", line)
        line = re.sub(r"^(kill|tkill)\(\d+, ", r"\1(PID, ", line)
        line = re.sub(r"si_pid=\d+", "si_pid=PID", line)
        line = re.sub(r"^(rt_sigreturn|sigreturn)\((.*)\) = \d{6,}$", r"\1(\2) = ADDR", line)
        for pattern, repl in KNOWN_DIFFERENCES:
            line = pattern.sub(repl, line)
        out.append(line)
    return out


def ignored_signal_lines(native: list[str]) -> set[int]:
    """Natively a traced process is sent even the signals it ignores, and strace shows them;
    pyexec, like the kernel for an untraced process, drops an ignored signal that is not
    blocked. Indices of the `--- SIG... ---` lines of ignored signals."""
    ignored: set[str] = set()
    drop = set()
    for i, line in enumerate(native):
        m = re.match(r"rt_sigaction\((SIG\w+), \{sa_handler=(\w+)", line)
        if m:
            (ignored.add if m.group(2) == "SIG_IGN" else ignored.discard)(m.group(1))
        m = re.match(r"--- (SIG\w+) ", line)
        if m and m.group(1) in ignored:
            drop.add(i)
    return drop


def compare(argv: list[str], tmp_path: Path, run_pyexec: Callable[..., Any]) -> None:
    import difflib
    native_file, emu_file = tmp_path / "native.strace", tmp_path / "pyexec.strace"
    nat = subprocess.run(["strace", "-f", "-o", str(native_file), *argv],
                         capture_output=True, timeout=120, check=False)
    emu = run_pyexec([f"--strace={emu_file}", *argv])
    assert emu.returncode == nat.returncode, emu.stderr
    native = normalise(native_file.read_text(), emulated=False)
    emulated = normalise(emu_file.read_text(), emulated=True)
    droppable = ignored_signal_lines(native)
    matcher = difflib.SequenceMatcher(None, native, emulated, autojunk=False)
    for op, i1, i2, _j1, _j2 in matcher.get_opcodes():
        if op == "equal" or op == "delete" and all(i in droppable for i in range(i1, i2)):
            continue
        diff = "\n".join(difflib.unified_diff(native, emulated, "strace", "pyexec --strace",
                                              lineterm="", n=1))
        pytest.fail(f"strace lines differ:\n{diff}")


CASES = [("hello", ()), ("files", ("{tmp}",)), ("heap", ()), ("segv", ()), ("args", ("a", "b c")),
         ("exitcode", ("3",)), ("touch", ("4",)), ("signals", ())]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_samples_match_strace(case: tuple[str, tuple[str, ...]], variant: str, tmp_path: Path,
                              sample: Callable[[str, str], Path],
                              run_pyexec: Callable[..., Any]) -> None:
    name, args = case
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    argv = [str(sample(name, variant)), *(a.replace("{tmp}", str(scratch)) for a in args)]
    compare(argv, tmp_path, run_pyexec)


@pytest.fixture(scope="module")
def calls_binaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("strace-calls")
    built = {}
    for arch, flags in (("x86_64", []), ("i386", ["-m32"])):
        exe = out / f"strace_calls-{arch}"
        subprocess.run(["gcc", *flags, "-O1", "-static", "-o", str(exe),
                        str(HERE / "c" / "strace_calls.c")], check=True, capture_output=True)
        built[arch] = exe
    return built


@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_structured_arguments_match_strace(arch: str, calls_binaries: dict[str, Path],
                                           tmp_path: Path,
                                           run_pyexec: Callable[..., Any]) -> None:
    """pipes, dup*, fcntl, stat, escaped binary data, iovecs, sigsets, sigaction, mmap,
    rlimits, ioctl, poll... (tests/emulator/c/strace_calls.c)."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    compare([str(calls_binaries[arch]), str(scratch)], tmp_path, run_pyexec)


def strace_lines(run_pyexec: Callable[..., Any], argv: list[str]) -> tuple[Any, list[str]]:
    res = run_pyexec(["--strace", *argv])
    return res, res.stderr.decode(errors="replace").splitlines()


def test_issue_examples(run_pyexec: Callable[..., Any], sample: Callable[[str, str], Path],
                        tmp_path: Path) -> None:
    res, lines = strace_lines(run_pyexec, [str(sample("files", "x86_64")), str(tmp_path)])
    assert res.returncode == 0
    assert ('openat(AT_FDCWD, "/nonexistent-pyexec-dir/missing-file", O_RDONLY) = -1 ENOENT '
            "(No such file or directory)") in lines
    assert any(re.fullmatch(r'openat\(AT_FDCWD, ".*/pyexec-files-\w+", '
                            r"O_RDWR\|O_CREAT\|O_EXCL, 0600\) += 3", ln) for ln in lines)
    assert 'read(3, "quick", 5)                     = 5' in lines
    assert 'write(3, "The quick brown fox jumps over t"..., 44) = 44' in lines
    assert lines[-2:] == ["exit_group(0)                           = ?", "+++ exited with 0 +++"]
    res, lines = strace_lines(run_pyexec, [str(sample("heap", "x86_64"))])
    assert any(re.fullmatch(r"mmap\(NULL, \d+, PROT_READ\|PROT_WRITE, MAP_PRIVATE\|"
                            r"MAP_ANONYMOUS, -1, 0\) = 0x[0-9a-f]+", ln) for ln in lines)


@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_fatal_signal(arch: str, run_pyexec: Callable[..., Any],
                      sample: Callable[[str, str], Path]) -> None:
    res, lines = strace_lines(run_pyexec, [str(sample("segv", arch))])
    assert res.returncode == -11
    assert lines[-3:-1] == ["--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10} ---",
                            "+++ killed by SIGSEGV +++"]


def test_i386_names(run_pyexec: Callable[..., Any], sample: Callable[[str, str], Path],
                    tmp_path: Path) -> None:
    _, lines = strace_lines(run_pyexec, [str(sample("files", "i386")), str(tmp_path)])
    assert "_llseek(3, -4, [40], SEEK_END)          = 0" in lines
    assert any(ln.startswith("set_thread_area({entry_number=-1, ") and
               ln.endswith(" = 0 (entry_number=12)") for ln in lines)
    _, lines = strace_lines(run_pyexec, [str(sample("touch", "i386")), "1"])
    assert any(ln.startswith("mmap2(NULL, ") for ln in lines)
    assert any(ln.startswith("ugetrlimit(RLIMIT_STACK, {rlim_cur=8192*1024, "
                             "rlim_max=RLIM_INFINITY})") for ln in lines)


def test_strace_to_file_and_asm(tmp_path: Path, run_pyexec: Callable[..., Any],
                                built_samples: Path) -> None:
    out = tmp_path / "trace.txt"
    prog = "samples/build/asm-fault-i386"
    res = run_pyexec([f"--strace={out}", prog])
    assert res.returncode == 7
    expected = [
        rf'execve\("{prog}", \["{prog}"\], 0x[0-9a-f]+ /\* \d+ vars \*/\) = 0',
        r"rt_sigaction\(SIGSEGV, \{sa_handler=0x[0-9a-f]+, sa_mask=\[\], "
        r"sa_flags=SA_RESTORER, sa_restorer=0x[0-9a-f]+\}, NULL, 8\) = 0",
        r"--- SIGSEGV \{si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=NULL\} ---",
        r"exit\(7\) += \?",
        r"\+\+\+ exited with 7 \+\+\+",
    ]
    lines = out.read_text().splitlines()
    assert len(lines) == len(expected), lines
    for line, pattern in zip(lines, expected):
        assert re.fullmatch(pattern, line), line


# --- the formatting itself ------------------------------------------------------------------------
def test_quote_like_strace() -> None:
    from syscalls.strace import quote
    # Both strings as strace 6.1 prints them (write(2) of these bytes).
    assert quote(b'a\0b\1c\377d"e\\f\t\n\r\v\f01234567') == \
        '"a\\0b\\1c\\377d\\"e\\\\f\\t\\n\\r\\v\\f01234567"'
    assert quote(b"\0017x") == '"\\0017x"'
    assert quote(b"abc", truncated=True) == '"abc"...'
    assert quote(b"\x62\xc7", force_hex=True) == '"\\x62\\xc7"'


def test_sigsets_like_strace() -> None:
    from syscalls.strace import sigset_text
    assert sigset_text(0) == "[]"
    assert sigset_text(1 << 9 | 1 << 33 | 1 << 36 | 1 << 63) == "[USR1 RT_2 RT_5 RT_32]"
    full = (1 << 64) - 1 & ~(1 << 31 | 1 << 32)       # glibc's sigfillset
    assert sigset_text(full) == "~[RTMIN RT_1]"


def test_flags_and_modes() -> None:
    from syscalls.strace import file_mode_text, flag_names, mode_text, open_flags_text
    from syscalls.strace_xlat import PROT_FLAGS
    assert open_flags_text(0o2200000 | 0o4000 | 0o100000) == \
        "O_RDONLY|O_NONBLOCK|O_LARGEFILE|O_CLOEXEC|O_DIRECTORY"
    assert flag_names(0, PROT_FLAGS, "PROT_NONE") == "PROT_NONE"
    assert flag_names(0x10000003, PROT_FLAGS) == "PROT_READ|PROT_WRITE|0x10000000"
    assert mode_text(0o644) == "0644" and mode_text(0) == "000" and mode_text(7) == "007"
    assert file_mode_text(0o41777) == "S_IFDIR|S_ISVTX|0777"


def test_errors_and_restarts() -> None:
    from syscalls.strace import Call, result_text, spec_for
    from loader.elf import Arch

    class P:
        arch = Arch.X86_64
    c = Call(P(), "openat", [], result=-2)  # type: ignore[arg-type]
    assert result_text(c, spec_for(Arch.X86_64, "openat")) == \
        "-1 ENOENT (No such file or directory)"
    c.result = -514
    assert result_text(c, spec_for(Arch.X86_64, "pause")) == \
        "? ERESTARTNOHAND (To be restarted if no handler)"
    c.result = -95
    assert result_text(c, None) == "-1 EOPNOTSUPP (Operation not supported)"
