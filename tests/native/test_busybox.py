"""Acceptance: Debian's static busybox, x86-64 and i386, runs under pyexec as natively.

Every case runs twice in the same fresh directory with the same fixed environment: once
natively, once under pyexec; stdout and the exit status must be the same (the expected output is
always the native run's, never written down here). Shell cases exercise fork, execve (busybox
re-executes itself through /proc/self/exe for most applets), pipes, redirections, wait and kill.

The x86-64 busybox is /bin/busybox (Debian's busybox-static); the i386 one is downloaded once
with apt into samples/build/busybox-i386 (tools/fetch_busybox.py, also `make busybox-i386`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = REPO_ROOT / "samples" / "build"
FETCH = REPO_ROOT / "tools" / "fetch_busybox.py"
TIMEOUT = 60
ARCHES = ("x86_64", "i386")
# pyexec from any working directory, without PYTHONPATH leaking into the guest's environment.
BOOT = (f"import sys; sys.path.insert(0, {str(REPO_ROOT)!r}); "
        "from emulator.cli import main; raise SystemExit(main())")


class Case(NamedTuple):
    id: str
    args: tuple[str, ...]
    stdin: bytes = b""


def sh(id: str, script: str, stdin: bytes = b"") -> Case:
    return Case(id, ("sh", "-c", script), stdin)


# {bb} in an argument is replaced by the busybox under test (absolute path).
CASES = [
    # --- the shell: control flow, arithmetic, expansions ------------------------------------
    sh("echo", "echo hello world"),
    sh("for-arith", "for i in 1 2 3 4 5; do echo $((i*i+1)); done"),
    sh("while-loop", "i=0; s=0; while [ $i -lt 300 ]; do i=$((i+1)); s=$((s+i)); done; echo $s"),
    sh("arith-ops", "echo $((17 % 5)) $((1 << 4)) $(( (3+4)*5 )) $((-7 / 2)) $((0x1f))"),
    sh("functions", 'f() { echo "args: $# $1 $2"; return 3; }; f a b; echo $?'),
    sh("case-test", 'case foo.c in *.h) echo h;; *.c) echo c;; esac; [ -d / ] && echo dir; '
                    'test 3 -gt 2 && echo gt; [ -z "" ] && echo empty'),
    sh("set-shift", 'set -- x y z; shift; echo "$@" $#'),
    sh("heredoc", "cat <<EOF\nline $((1+1))\n  indented\nEOF"),
    sh("params", 'v=hello.tar.gz; echo ${v%.gz} ${v#*.} ${#v} ${u:-default}'),
    # --- processes: pipelines, substitutions, subshells, exit codes, exec --------------------
    sh("pipeline", "echo abc | tr a-z A-Z | rev"),
    sh("pipeline-long", "seq 1 50 | grep 5 | sort -r | head -n 3 | tr '\\n' ' '; echo"),
    sh("cmd-subst", 'x=$(echo inner; echo second); echo "[$x]"; y=`expr 3 \\* 7`; echo $y'),
    sh("nested-subst", 'echo "$(( $(seq 1 10 | wc -l) * 2 ))"'),
    sh("subshell", "(cd /; pwd); (exit 3); echo $?; (echo in-sub; exit 0) && echo ok"),
    sh("exit-code", "exit 7"),
    Case("false", ("false",)),
    Case("true", ("true",)),
    sh("exit-status-chain", "false || echo after-false; true && echo after-true; ! false; echo $?"),
    sh("exec-builtin", "exec echo replaced; echo not-reached"),
    sh("exec-path", "busybox echo via-PATH; echo $?"),
    sh("not-found", "nonexistent-command-xyz 2>/dev/null; echo $?"),
    sh("shebang", 'printf "#!{bb} sh\\necho script \\$1 \\$#\\nexit 4\\n" > s.sh; chmod +x s.sh; '
                  "./s.sh arg1 arg2; echo rc=$?"),
    sh("nested-sh", 'printf "x y\\n" | sh -c "read a b; echo got \\$b \\$a"'),
    sh("kill-child", "sleep 5 & kill $!; wait $!; echo $?"),
    sh("kill-0", "kill -0 $$ && echo alive"),
    sh("wait-all", "sleep 0.2 & sleep 0.1 & wait; echo done"),
    sh("yes-sigpipe", "yes | head -n 3"),
    sh("trap-interrupts-open", 'mkfifo p; trap "echo got-usr1" USR1; '
                               "(sleep 0.5; kill -USR1 $$) & read x < p; echo rc=$?; wait"),
    Case("sleep", ("sleep", "0.1")),
    sh("timeout", "timeout 1 sleep 0.1; echo $?; timeout 0.3 sleep 2; echo $?"),
    # --- redirections -------------------------------------------------------------------------
    sh("redirections", 'printf "%s-%d-%x\\n" foo 42 255 > f; cat f; echo more >> f; cat f; '
                       "wc -l < f"),
    sh("stderr-redirect", "ls /nonexistent-dir 2>&1; echo rc=$?"),
    sh("stderr-to-file", "ls /nonexistent-dir 2> err; echo rc=$?; wc -l < err"),
    sh("dup-fds", "exec 3> f3; echo to-three >&3; exec 3>&-; cat f3; cat < f3 > g; cat g"),
    sh("tee", "echo hi | tee f | cat; cat f"),
    sh("dev-stdout", "echo via-dev-stdout > /dev/stdout; echo via-fd > /dev/fd/1"),
    # --- text tools ---------------------------------------------------------------------------
    Case("cat-stdin", ("cat",), b"line1\nline2\n"),
    Case("echo-n", ("echo", "-n", "no newline")),
    Case("printf", ("printf", "%05.2f|%-5s|%c|%o\\n", "3.14159", "ab", "xyz", "8")),
    sh("head-tail", "seq 1 20 | head -n 3; seq 1 20 | tail -n 2; seq 1 5 | tail -c 4"),
    sh("wc", "seq 1 1000 > n; wc n; wc -c < n; wc -w < n"),
    sh("sort-uniq", 'printf "b\\na\\nc\\na\\nb\\n" | sort | uniq -c'),
    sh("sort-keys", 'printf "3 c\\n1 a\\n2 b\\n10 j\\n" | sort -k1,1n; '
                    'printf "3 c\\n1 a\\n10 j\\n" | sort -r'),
    sh("cut", 'echo "a:b:c:d" | cut -d: -f2,4; echo hello | cut -c2-4'),
    sh("tr", 'echo "hello world" | tr -d o | tr " " "\\n"; echo aabbcc | tr -s ab'),
    sh("sed", 'seq 1 5 | sed -n "2,4p"; echo foo bar | sed "s/o/0/g"; seq 3 | sed "1d;s/$/!/"'),
    sh("awk", 'seq 1 10 | awk "{s+=\\$1} END {print s, NR}"; '
              'echo "a:b:c" | awk -F: "{print \\$3, \\$1; printf \\"%05.1f\\n\\", 3.14159}"'),
    sh("grep", 'printf "apple\\nbanana\\ncherry\\n" > f; grep -n an f; grep -c a f; '
               "grep -v a f; grep -q zzz f; echo $?; grep -E '^(a|c)' f"),
    sh("xargs", "seq 1 5 | xargs echo; seq 1 6 | xargs -n 2 echo"),
    sh("diff", "seq 1 5 > a; seq 1 6 | sed 3d > b; diff a b; echo $?"),
    sh("expr", "expr 6 \\* 7; expr length hello; expr 5 \\> 3; expr substr abcdef 2 3"),
    Case("seq", ("seq", "-s", ",", "2", "3", "20")),
    sh("basename", "basename /a/b/c.txt .txt; dirname /a/b/c.txt"),
    # --- files and directories ----------------------------------------------------------------
    sh("find", "mkdir -p d/e/f; touch d/1 d/e/2 d/e/f/3; find d | sort; "
               'find d -type f -name "[12]" | sort; find d -type d | wc -l'),
    sh("ls-ln", 'mkdir d; echo hi > d/a; echo longer > d/b; chmod 640 d/a; ln -s a d/l; '
                'touch -h -d "2020-01-02 03:04:05" d/a d/b d/l d; ls -ln d; ls -a d; ls -ld d'),
    sh("stat", 'echo hello > f; chmod 604 f; stat -c "%s %a %F %n %h" f; '
               'mkdir d; stat -c "%a %F" d'),
    sh("glob-rm", "for f in a b c; do echo $f > $f.txt; done; cat *.txt; rm *.txt; ls | wc -l"),
    sh("links", "echo a > f; ln -s f l; readlink l; cat l; ln f h; stat -c %h f; rm f; cat h"),
    sh("mv-cp", "echo data > f; mv f g; cp g h; cmp g h && echo same; rm g; ls; rmdir d 2>&1"),
    sh("umask-touch", "umask 027; touch f; mkdir d; stat -c %a f d; umask"),
    sh("truncate", "echo hello > f; truncate -s 100 f; stat -c %s f; truncate -s 2 f; cat f"),
    sh("touch-date", "touch -d @86400 f; stat -c %Y f; date -u -r f"),
    sh("mkfifo", "mkfifo p; (echo through-fifo > p &); cat p"),
    sh("test-access", "test -x {bb} && echo x; test -w . && echo w; test -r /nonexistent || "
                      "echo no-r"),
    sh("dd", "dd if=/dev/zero bs=512 count=4 2>/dev/null | wc -c; head -c 100 /dev/zero | wc -c"),
    sh("stat-f", 'stat -f -c "%T %S %l" .; df . >/dev/null && echo df-ok'),
    # --- checksums, encodings, archives -------------------------------------------------------
    sh("md5sum", "echo hello > f; md5sum f; seq 1 100 | md5sum"),
    sh("sha1sum", "echo hello > f; sha1sum f; seq 1 100 | sha1sum"),
    sh("sha256sum", "echo hello > f; sha256sum f; seq 1 100 | sha256sum"),
    sh("od", 'printf "AB\\001\\377" | od -An -tx1; echo hi | od -c'),
    sh("hexdump", 'printf "hello world\\n" | hexdump -C'),
    sh("gzip", "seq 1 2000 > f; gzip -c f > c.gz; gunzip -c c.gz | md5sum; gzip -9 f; ls; "
               "gunzip f.gz; wc -l f; gzip -t c.gz && echo ok"),
    sh("bzip2", "seq 1 2000 > f; bzip2 -c f > c.bz2; bunzip2 -c c.bz2 | md5sum; bzip2 f; ls; "
                "bunzip2 f.bz2; wc -l f"),
    sh("tar", "mkdir -p t/sub; echo a > t/a; echo b > t/sub/b; tar cf t.tar t; rm -r t; "
              "tar xf t.tar; cat t/a t/sub/b; tar tf t.tar | sort; tar cf - t | gzip > t.tgz; "
              "gunzip -c t.tgz | tar tf - | sort | wc -l"),
    # --- system information -------------------------------------------------------------------
    Case("date-epoch", ("date", "-u", "-d", "@0")),
    Case("uname-m", ("uname", "-m")),
    Case("id", ("id",)),
    sh("env", "env | sort"),
    sh("pwd", "pwd; cd d 2>/dev/null || mkdir d; cd d; pwd; cd ..; pwd"),
]


def _is_static_elf(path: Path, machine: int) -> bool:
    try:
        head = path.read_bytes()[:64]
    except OSError:
        return False
    return head[:4] == b"\x7fELF" and int.from_bytes(head[18:20], "little") == machine


@pytest.fixture(scope="session")
def busybox_path() -> dict[str, Path]:
    """arch -> busybox binary; fetched with apt once into samples/build when missing."""
    found: dict[str, Path] = {}
    for arch, deb_arch, machine, system in (("x86_64", "amd64", 62, Path("/bin/busybox")),
                                             ("i386", "i386", 3, None)):
        if system is not None and _is_static_elf(system, machine) and _static(system):
            found[arch] = system
            continue
        dest = BUILD_DIR / f"busybox-{arch}" / "bin" / "busybox"
        if not dest.is_file():
            subprocess.run([sys.executable, str(FETCH), deb_arch, str(dest)], check=False,
                           capture_output=True, stdin=subprocess.DEVNULL, timeout=600)
        if dest.is_file():
            found[arch] = dest
    return found


def _static(path: Path) -> bool:
    """No PT_INTERP program header (a statically linked executable)."""
    data = path.read_bytes()
    is64 = data[4] == 2
    phoff = int.from_bytes(data[32:40] if is64 else data[28:32], "little")
    phentsize = int.from_bytes(data[54:56] if is64 else data[42:44], "little")
    phnum = int.from_bytes(data[56:58] if is64 else data[44:46], "little")
    return all(int.from_bytes(data[phoff + i * phentsize:phoff + i * phentsize + 4], "little") != 3
               for i in range(phnum))


@pytest.fixture
def busybox(busybox_path: dict[str, Path], arch: str) -> Path:
    if arch not in busybox_path:
        why = subprocess.run([sys.executable, str(FETCH), "i386" if arch == "i386" else "amd64",
                              str(BUILD_DIR / f"busybox-{arch}" / "bin" / "busybox")],
                             capture_output=True, text=True, check=False,
                             stdin=subprocess.DEVNULL).stderr.strip()
        pytest.skip(f"no static busybox for {arch}: apt could not fetch busybox-static ({why})")
    return busybox_path[arch]


def _env(home: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "LC_ALL": "C", "TZ": "UTC",
            "USER": "tester", "TERM": "dumb"}


def _run(cmd: list[str], cwd: Path, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, cwd=cwd, env=_env(cwd), input=stdin, capture_output=True,
                          timeout=TIMEOUT, check=False)


def _fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir()
    return path


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_busybox_matches_native(case: Case, arch: str, busybox: Path, tmp_path: Path) -> None:
    bb = str(busybox)
    argv = [bb, *(a.replace("{bb}", bb) for a in case.args)]
    # Both runs in the same directory (paths in the output agree), emptied in between.
    work = tmp_path / "w"
    native = _run(argv, _fresh(work), case.stdin)
    emulated = _run([sys.executable, "-c", BOOT, *argv], _fresh(work), case.stdin)
    why = (f"native stderr:\n{native.stderr.decode(errors='replace')}\n"
           f"pyexec stderr:\n{emulated.stderr.decode(errors='replace')}")
    assert emulated.stdout == native.stdout, why
    assert emulated.returncode == native.returncode, why
    assert b"pyexec:" not in emulated.stderr, why


def test_enough_cases() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
