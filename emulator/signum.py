"""Signal numbers and si_code values (x86 Linux: asm/signal.h, asm-generic/siginfo.h)."""
from __future__ import annotations

import enum


class Signal(enum.IntEnum):
    SIGHUP = 1
    SIGINT = 2
    SIGQUIT = 3
    SIGILL = 4
    SIGTRAP = 5
    SIGABRT = 6
    SIGBUS = 7
    SIGFPE = 8
    SIGKILL = 9
    SIGUSR1 = 10
    SIGSEGV = 11
    SIGUSR2 = 12
    SIGPIPE = 13
    SIGALRM = 14
    SIGTERM = 15
    SIGSTKFLT = 16
    SIGCHLD = 17
    SIGCONT = 18
    SIGSTOP = 19
    SIGTSTP = 20
    SIGTTIN = 21
    SIGTTOU = 22
    SIGURG = 23
    SIGXCPU = 24
    SIGXFSZ = 25
    SIGVTALRM = 26
    SIGPROF = 27
    SIGWINCH = 28
    SIGIO = 29
    SIGPWR = 30
    SIGSYS = 31


SI_KERNEL = 0x80
SEGV_MAPERR = 1
SEGV_ACCERR = 2
BUS_ADRERR = 2
ILL_ILLOPN = 2
FPE_INTDIV = 1
TRAP_BRKPT = 1


def signal_name(signo: int) -> str:
    try:
        return Signal(signo).name
    except ValueError:
        return f"SIG{signo}" if signo < 32 else f"SIGRT_{signo - 32}"
