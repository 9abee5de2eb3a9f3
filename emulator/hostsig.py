"""Signals from outside the guest (Ctrl-C, kill from a parent, SIGCHLD of a child, alarm).

The host kernel delivers them to pyexec; where the guest has a handler, a Python handler queues
the guest signal. Python runs its handlers only between bytecodes, and the main thread may be
inside emu_start for a long time, so a watcher thread woken through signal.set_wakeup_fd stops
the CPU (uc_emu_stop is safe from another thread). Dispositions the guest leaves at SIG_DFL or
sets to SIG_IGN are mirrored on the host, so the kernel itself applies them (and pyexec dies
by the same signal, or ignores it across execve, exactly as the guest would).
"""
from __future__ import annotations

import os
import signal
import threading
from typing import TYPE_CHECKING, Optional, Set

from emulator.signals import SIG_DFL, SIG_IGN, SigInfo, sigbit

if TYPE_CHECKING:
    from emulator.process import Process

# Signals the host may send pyexec that the guest can catch (not the CPU's synchronous ones,
# nor SIGKILL/SIGSTOP).
FORWARDABLE = {signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
               signal.SIGPIPE, signal.SIGALRM, signal.SIGTERM, signal.SIGCHLD, signal.SIGCONT,
               signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGURG, signal.SIGXCPU,
               signal.SIGXFSZ, signal.SIGVTALRM, signal.SIGPROF, signal.SIGWINCH, signal.SIGIO,
               signal.SIGPWR}


class GuestInterrupt(Exception):
    """Raised out of a blocking host call when a signal with a guest handler arrives."""


class HostSignals:
    def __init__(self, proc: "Process") -> None:
        self.proc = proc
        self._installed: Set[int] = set()
        self._wake_r: Optional[int] = None
        self._thread: Optional[threading.Thread] = None

    def _ensure_watcher(self) -> None:
        if self._thread is not None:
            return
        r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        os.set_blocking(r, True)
        signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        self._wake_r = r
        # The watcher blocks every signal, so the host delivers them to the main thread.
        self._thread = threading.Thread(target=self._watch, name="pyexec-signals", daemon=True)
        old = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        self._thread.start()
        signal.pthread_sigmask(signal.SIG_SETMASK, old)

    def after_fork(self) -> None:
        """In a forked child (syscalls/process.py kernel_clone): the watcher thread did not
        survive fork and its wakeup pipe is the parent's; start one of this process's own."""
        if self._thread is None:
            return
        old_w = signal.set_wakeup_fd(-1)
        for fd in (old_w, self._wake_r):
            if fd is not None and fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._thread = None
        self._wake_r = None
        self._ensure_watcher()

    def _watch(self) -> None:
        assert self._wake_r is not None
        while True:
            try:
                data = os.read(self._wake_r, 64)
            except OSError:
                return
            if not data:
                return
            self.proc.machine.stop()

    def _handler(self, signum: int, frame: object) -> None:
        self.proc.signals.queue(SigInfo(signum, 0))
        self.proc.machine.stop()
        if self.proc.in_blocking_syscall:
            raise GuestInterrupt(signum)

    def sync_action(self, sig: int) -> None:
        """Mirror the guest's disposition of `sig` on the host."""
        if sig not in FORWARDABLE:
            return
        handler = self.proc.signals.action(sig).handler
        if handler == SIG_DFL:
            if sig in self._installed or sig in (signal.SIGINT, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_DFL)
                self._installed.discard(sig)
        elif handler == SIG_IGN:
            signal.signal(sig, signal.SIG_IGN)
            self._installed.discard(sig)
        else:
            self._ensure_watcher()
            signal.signal(sig, self._handler)
            self._installed.add(sig)

    def sync_mask(self) -> None:
        """Block on the host what the guest blocks, so external signals wait as they would."""
        blocked = self.proc.signals.blocked
        mask = {s for s in FORWARDABLE if blocked & sigbit(s)}
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def wait(self) -> None:
        """pause/sigsuspend: sleep until a forwarded signal arrives (raises GuestInterrupt)."""
        self._ensure_watcher()
        while True:
            signal.pause()
