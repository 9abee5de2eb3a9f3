"""Symbolic names for --strace: Linux's constants (x86), each table in the order strace's
src/xlat/*.in lists them, since strace prints flag names in that order."""
from __future__ import annotations

import errno as _errno
import os as _os
from typing import Dict, List, Tuple

Xlat = List[Tuple[str, int]]

# --- errno --------------------------------------------------------------------------------------
ERRNO_NAMES: Dict[int, str] = dict(_errno.errorcode)
ERRNO_NAMES.update({11: "EAGAIN", 35: "EDEADLK", 95: "EOPNOTSUPP"})
ERRNO_NAMES.update({512: "ERESTARTSYS", 513: "ERESTARTNOINTR", 514: "ERESTARTNOHAND",
                    515: "ENOIOCTLCMD", 516: "ERESTART_RESTARTBLOCK", 517: "EPROBE_DEFER",
                    518: "EOPENSTALE", 519: "ENOPARAM", 521: "EBADHANDLE", 522: "ENOTSYNC",
                    523: "EBADCOOKIE", 524: "ENOTSUPP", 525: "ETOOSMALL",
                    526: "ESERVERFAULT", 527: "EBADTYPE", 528: "EJUKEBOX",
                    529: "EIOCBQUEUED", 530: "ERECALLCONFLICT"})
# How strace shows the kernel's restart codes (they never reach the program).
RESTART_TEXT = {
    512: "ERESTARTSYS (To be restarted if SA_RESTART is set)",
    513: "ERESTARTNOINTR (To be restarted)",
    514: "ERESTARTNOHAND (To be restarted if no handler)",
    516: "ERESTART_RESTARTBLOCK (Interrupted by signal)",
}


def strerror(code: int) -> str:
    return _os.strerror(code)


# --- signals ----------------------------------------------------------------------------------
SIGNAL_NAMES = ["0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS",
                "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM",
                "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN",
                "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH",
                "SIGIO", "SIGPWR", "SIGSYS", "SIGRTMIN"]
SIGRTMIN = 32

SI_CODES: Dict[int, str] = {0: "SI_USER", 0x80: "SI_KERNEL", -1: "SI_QUEUE", -2: "SI_TIMER",
                            -3: "SI_MESGQ", -4: "SI_ASYNCIO", -5: "SI_SIGIO", -6: "SI_TKILL",
                            -7: "SI_DETHREAD", -60: "SI_ASYNCNL"}
SIGNAL_CODES: Dict[int, Dict[int, str]] = {
    4: {1: "ILL_ILLOPC", 2: "ILL_ILLOPN", 3: "ILL_ILLADR", 4: "ILL_ILLTRP", 5: "ILL_PRVOPC",
        6: "ILL_PRVREG", 7: "ILL_COPROC", 8: "ILL_BADSTK", 9: "ILL_BADIADDR"},
    5: {1: "TRAP_BRKPT", 2: "TRAP_TRACE", 3: "TRAP_BRANCH", 4: "TRAP_HWBKPT",
        5: "TRAP_UNK", 6: "TRAP_PERF"},
    7: {1: "BUS_ADRALN", 2: "BUS_ADRERR", 3: "BUS_OBJERR", 4: "BUS_MCEERR_AR",
        5: "BUS_MCEERR_AO"},
    8: {1: "FPE_INTDIV", 2: "FPE_INTOVF", 3: "FPE_FLTDIV", 4: "FPE_FLTOVF", 5: "FPE_FLTUND",
        6: "FPE_FLTRES", 7: "FPE_FLTINV", 8: "FPE_FLTSUB", 14: "FPE_FLTUNK",
        15: "FPE_CONDTRAP"},
    11: {1: "SEGV_MAPERR", 2: "SEGV_ACCERR", 3: "SEGV_BNDERR", 4: "SEGV_PKUERR",
         5: "SEGV_ACCADI", 6: "SEGV_ADIDERR", 7: "SEGV_ADIPERR", 8: "SEGV_MTEAERR",
         9: "SEGV_MTESERR", 10: "SEGV_CPERR"},
    17: {1: "CLD_EXITED", 2: "CLD_KILLED", 3: "CLD_DUMPED", 4: "CLD_TRAPPED",
         5: "CLD_STOPPED", 6: "CLD_CONTINUED"},
    29: {1: "POLL_IN", 2: "POLL_OUT", 3: "POLL_MSG", 4: "POLL_ERR", 5: "POLL_PRI",
         6: "POLL_HUP"},
    31: {1: "SYS_SECCOMP", 2: "SYS_USER_DISPATCH"},
}

SIGACT_FLAGS: Xlat = [("SA_RESTORER", 0x04000000), ("SA_ONSTACK", 0x08000000),
                      ("SA_RESTART", 0x10000000), ("SA_INTERRUPT", 0x20000000),
                      ("SA_NODEFER", 0x40000000), ("SA_RESETHAND", 0x80000000),
                      ("SA_SIGINFO", 4), ("SA_NOCLDSTOP", 1), ("SA_NOCLDWAIT", 2)]
SIGPROCMASK_HOW: Xlat = [("SIG_BLOCK", 0), ("SIG_UNBLOCK", 1), ("SIG_SETMASK", 2)]
SA_HANDLERS = {0: "SIG_DFL", 1: "SIG_IGN", 0xFFFFFFFF: "SIG_ERR",
               0xFFFFFFFFFFFFFFFF: "SIG_ERR"}
SS_FLAGS: Xlat = [("SS_ONSTACK", 1), ("SS_DISABLE", 2), ("SS_AUTODISARM", 0x80000000)]
ITIMER_WHICH: Xlat = [("ITIMER_REAL", 0), ("ITIMER_VIRTUAL", 1), ("ITIMER_PROF", 2)]

# --- files ------------------------------------------------------------------------------------
O_ACCMODE = 3
OPEN_ACCESS: Xlat = [("O_RDONLY", 0), ("O_WRONLY", 1), ("O_RDWR", 2), ("O_ACCMODE", 3)]
OPEN_FLAGS: Xlat = [("O_CREAT", 0o100), ("O_EXCL", 0o200), ("O_NOCTTY", 0o400),
                    ("O_TRUNC", 0o1000), ("O_APPEND", 0o2000), ("O_NONBLOCK", 0o4000),
                    ("O_SYNC", 0o4010000), ("__O_SYNC", 0o4000000), ("O_DSYNC", 0o10000),
                    ("O_DIRECT", 0o40000), ("O_LARGEFILE", 0o100000),
                    ("O_NOFOLLOW", 0o400000), ("O_NOATIME", 0o1000000),
                    ("O_CLOEXEC", 0o2000000), ("O_PATH", 0o10000000),
                    ("O_TMPFILE", 0o20200000), ("__O_TMPFILE", 0o20000000),
                    ("O_DIRECTORY", 0o200000), ("FASYNC", 0o20000)]
O_CREAT, O_TMPFILE_BIT = 0o100, 0o20000000
AT_FDCWD = -100
AT_FLAGS: Xlat = [("AT_SYMLINK_NOFOLLOW", 0x100), ("AT_REMOVEDIR", 0x200),
                  ("AT_SYMLINK_FOLLOW", 0x400), ("AT_NO_AUTOMOUNT", 0x800),
                  ("AT_EMPTY_PATH", 0x1000), ("AT_RECURSIVE", 0x8000)]
AT_STATX_SYNC: Xlat = [("AT_STATX_SYNC_AS_STAT", 0), ("AT_STATX_FORCE_SYNC", 0x2000),
                       ("AT_STATX_DONT_SYNC", 0x4000)]
AT_STATX_SYNC_TYPE = 0x6000
STATX_MASKS: Xlat = [("STATX_ALL", 0xFFF), ("STATX_BASIC_STATS", 0x7FF),
                     ("STATX_TYPE", 1), ("STATX_MODE", 2), ("STATX_NLINK", 4),
                     ("STATX_UID", 8), ("STATX_GID", 0x10), ("STATX_ATIME", 0x20),
                     ("STATX_MTIME", 0x40), ("STATX_CTIME", 0x80), ("STATX_INO", 0x100),
                     ("STATX_SIZE", 0x200), ("STATX_BLOCKS", 0x400), ("STATX_BTIME", 0x800),
                     ("STATX_MNT_ID", 0x1000), ("STATX_DIOALIGN", 0x2000),
                     ("STATX_MNT_ID_UNIQUE", 0x4000), ("STATX_SUBVOL", 0x8000),
                     ("STATX_WRITE_ATOMIC", 0x10000)]
STATX_ATTRS: Xlat = [("STATX_ATTR_COMPRESSED", 0x4), ("STATX_ATTR_IMMUTABLE", 0x10),
                     ("STATX_ATTR_APPEND", 0x20), ("STATX_ATTR_NODUMP", 0x40),
                     ("STATX_ATTR_ENCRYPTED", 0x800), ("STATX_ATTR_AUTOMOUNT", 0x1000),
                     ("STATX_ATTR_MOUNT_ROOT", 0x2000), ("STATX_ATTR_VERITY", 0x100000),
                     ("STATX_ATTR_DAX", 0x200000)]
S_IFMT = 0o170000
FILE_TYPES = {0o140000: "S_IFSOCK", 0o120000: "S_IFLNK", 0o100000: "S_IFREG",
              0o060000: "S_IFBLK", 0o040000: "S_IFDIR", 0o020000: "S_IFCHR",
              0o010000: "S_IFIFO"}
MODE_SPECIAL: Xlat = [("S_ISUID", 0o4000), ("S_ISGID", 0o2000), ("S_ISVTX", 0o1000)]
ACCESS_MODES: Xlat = [("R_OK", 4), ("W_OK", 2), ("X_OK", 1)]
SEEK_WHENCE: Xlat = [("SEEK_SET", 0), ("SEEK_CUR", 1), ("SEEK_END", 2), ("SEEK_DATA", 3),
                     ("SEEK_HOLE", 4)]
FCNTL_CMDS: Xlat = [("F_DUPFD", 0), ("F_GETFD", 1), ("F_SETFD", 2), ("F_GETFL", 3),
                    ("F_SETFL", 4), ("F_GETLK", 5), ("F_SETLK", 6), ("F_SETLKW", 7),
                    ("F_SETOWN", 8), ("F_GETOWN", 9), ("F_SETSIG", 10), ("F_GETSIG", 11),
                    ("F_GETLK64", 12), ("F_SETLK64", 13), ("F_SETLKW64", 14),
                    ("F_SETOWN_EX", 15), ("F_GETOWN_EX", 16), ("F_GETOWNER_UIDS", 17),
                    ("F_OFD_GETLK", 36), ("F_OFD_SETLK", 37), ("F_OFD_SETLKW", 38),
                    ("F_SETLEASE", 1024), ("F_GETLEASE", 1025), ("F_NOTIFY", 1026),
                    ("F_DUPFD_CLOEXEC", 1030), ("F_SETPIPE_SZ", 1031),
                    ("F_GETPIPE_SZ", 1032), ("F_ADD_SEALS", 1033), ("F_GET_SEALS", 1034)]
FD_FLAGS: Xlat = [("FD_CLOEXEC", 1)]
RENAME_FLAGS: Xlat = [("RENAME_NOREPLACE", 1), ("RENAME_EXCHANGE", 2), ("RENAME_WHITEOUT", 4)]

# --- memory -----------------------------------------------------------------------------------
PROT_FLAGS: Xlat = [("PROT_READ", 1), ("PROT_WRITE", 2), ("PROT_EXEC", 4), ("PROT_SEM", 8),
                    ("PROT_GROWSDOWN", 0x01000000), ("PROT_GROWSUP", 0x02000000)]
MAP_TYPES: Xlat = [("MAP_SHARED", 1), ("MAP_PRIVATE", 2), ("MAP_SHARED_VALIDATE", 3),
                   ("MAP_DROPPABLE", 8)]
MAP_FLAGS: Xlat = [("MAP_FIXED", 0x10), ("MAP_ANONYMOUS", 0x20), ("MAP_32BIT", 0x40),
                   ("MAP_ABOVE4G", 0x80), ("MAP_NORESERVE", 0x4000),
                   ("MAP_POPULATE", 0x8000), ("MAP_NONBLOCK", 0x10000),
                   ("MAP_GROWSDOWN", 0x100), ("MAP_DENYWRITE", 0x800),
                   ("MAP_EXECUTABLE", 0x1000), ("MAP_LOCKED", 0x2000),
                   ("MAP_STACK", 0x20000), ("MAP_HUGETLB", 0x40000), ("MAP_SYNC", 0x80000),
                   ("MAP_UNINITIALIZED", 0x4000000), ("MAP_FIXED_NOREPLACE", 0x100000)]
MREMAP_FLAGS: Xlat = [("MREMAP_MAYMOVE", 1), ("MREMAP_FIXED", 2), ("MREMAP_DONTUNMAP", 4)]
MADVISE: Xlat = [("MADV_NORMAL", 0), ("MADV_RANDOM", 1), ("MADV_SEQUENTIAL", 2),
                 ("MADV_WILLNEED", 3), ("MADV_DONTNEED", 4), ("MADV_FREE", 8),
                 ("MADV_REMOVE", 9), ("MADV_DONTFORK", 10), ("MADV_DOFORK", 11),
                 ("MADV_MERGEABLE", 12), ("MADV_UNMERGEABLE", 13), ("MADV_HUGEPAGE", 14),
                 ("MADV_NOHUGEPAGE", 15), ("MADV_DONTDUMP", 16), ("MADV_DODUMP", 17),
                 ("MADV_WIPEONFORK", 18), ("MADV_KEEPONFORK", 19), ("MADV_COLD", 20),
                 ("MADV_PAGEOUT", 21), ("MADV_POPULATE_READ", 22),
                 ("MADV_POPULATE_WRITE", 23), ("MADV_DONTNEED_LOCKED", 24),
                 ("MADV_COLLAPSE", 25), ("MADV_HWPOISON", 100), ("MADV_SOFT_OFFLINE", 101)]
MSYNC_FLAGS: Xlat = [("MS_ASYNC", 1), ("MS_INVALIDATE", 2), ("MS_SYNC", 4)]

# --- processes ---------------------------------------------------------------------------------
CLONE_FLAGS: Xlat = [("CLONE_VM", 0x100), ("CLONE_FS", 0x200), ("CLONE_FILES", 0x400),
                     ("CLONE_SIGHAND", 0x800), ("CLONE_PIDFD", 0x1000),
                     ("CLONE_PTRACE", 0x2000), ("CLONE_VFORK", 0x4000),
                     ("CLONE_PARENT", 0x8000), ("CLONE_THREAD", 0x10000),
                     ("CLONE_NEWNS", 0x20000), ("CLONE_SYSVSEM", 0x40000),
                     ("CLONE_SETTLS", 0x80000), ("CLONE_PARENT_SETTID", 0x100000),
                     ("CLONE_CHILD_CLEARTID", 0x200000), ("CLONE_UNTRACED", 0x800000),
                     ("CLONE_CHILD_SETTID", 0x1000000), ("CLONE_NEWCGROUP", 0x2000000),
                     ("CLONE_NEWUTS", 0x4000000), ("CLONE_NEWIPC", 0x8000000),
                     ("CLONE_NEWUSER", 0x10000000), ("CLONE_NEWPID", 0x20000000),
                     ("CLONE_NEWNET", 0x40000000), ("CLONE_IO", 0x80000000)]
WAIT_OPTIONS: Xlat = [("WNOHANG", 1), ("WUNTRACED", 2), ("WEXITED", 4), ("WCONTINUED", 8),
                      ("WNOWAIT", 0x01000000), ("__WNOTHREAD", 0x20000000),
                      ("__WALL", 0x40000000), ("__WCLONE", 0x80000000)]
ARCH_PRCTL: Xlat = [("ARCH_SET_GS", 0x1001), ("ARCH_SET_FS", 0x1002), ("ARCH_GET_FS", 0x1003),
                    ("ARCH_GET_GS", 0x1004), ("ARCH_GET_CPUID", 0x1011),
                    ("ARCH_SET_CPUID", 0x1012)]
RLIMITS: Xlat = [("RLIMIT_CPU", 0), ("RLIMIT_FSIZE", 1), ("RLIMIT_DATA", 2),
                 ("RLIMIT_STACK", 3), ("RLIMIT_CORE", 4), ("RLIMIT_RSS", 5),
                 ("RLIMIT_NPROC", 6), ("RLIMIT_NOFILE", 7), ("RLIMIT_MEMLOCK", 8),
                 ("RLIMIT_AS", 9), ("RLIMIT_LOCKS", 10), ("RLIMIT_SIGPENDING", 11),
                 ("RLIMIT_MSGQUEUE", 12), ("RLIMIT_NICE", 13), ("RLIMIT_RTPRIO", 14),
                 ("RLIMIT_RTTIME", 15)]
RUSAGE_WHO: Xlat = [("RUSAGE_SELF", 0), ("RUSAGE_CHILDREN", -1), ("RUSAGE_THREAD", 1)]
PRCTL_OPTIONS: Xlat = [("PR_SET_PDEATHSIG", 1), ("PR_GET_PDEATHSIG", 2),
                       ("PR_GET_DUMPABLE", 3), ("PR_SET_DUMPABLE", 4),
                       ("PR_SET_NAME", 15), ("PR_GET_NAME", 16),
                       ("PR_SET_SECCOMP", 22), ("PR_GET_SECCOMP", 21),
                       ("PR_SET_NO_NEW_PRIVS", 38), ("PR_GET_NO_NEW_PRIVS", 39),
                       ("PR_SET_CHILD_SUBREAPER", 36), ("PR_GET_CHILD_SUBREAPER", 37),
                       ("PR_SET_VMA", 0x53564d41)]
GETRANDOM_FLAGS: Xlat = [("GRND_NONBLOCK", 1), ("GRND_RANDOM", 2), ("GRND_INSECURE", 4)]
FUTEX_OPS: Xlat = [("FUTEX_WAIT", 0), ("FUTEX_WAKE", 1), ("FUTEX_FD", 2),
                   ("FUTEX_REQUEUE", 3), ("FUTEX_CMP_REQUEUE", 4), ("FUTEX_WAKE_OP", 5),
                   ("FUTEX_LOCK_PI", 6), ("FUTEX_UNLOCK_PI", 7), ("FUTEX_TRYLOCK_PI", 8),
                   ("FUTEX_WAIT_BITSET", 9), ("FUTEX_WAKE_BITSET", 10),
                   ("FUTEX_WAIT_REQUEUE_PI", 11), ("FUTEX_CMP_REQUEUE_PI", 12),
                   ("FUTEX_LOCK_PI2", 13)]
FUTEX_PRIVATE, FUTEX_CLOCK_REALTIME = 128, 256

# --- time ---------------------------------------------------------------------------------------
CLOCKS: Xlat = [("CLOCK_REALTIME", 0), ("CLOCK_MONOTONIC", 1),
                ("CLOCK_PROCESS_CPUTIME_ID", 2), ("CLOCK_THREAD_CPUTIME_ID", 3),
                ("CLOCK_MONOTONIC_RAW", 4), ("CLOCK_REALTIME_COARSE", 5),
                ("CLOCK_MONOTONIC_COARSE", 6), ("CLOCK_BOOTTIME", 7),
                ("CLOCK_REALTIME_ALARM", 8), ("CLOCK_BOOTTIME_ALARM", 9),
                ("CLOCK_SGI_CYCLE", 10), ("CLOCK_TAI", 11)]
TIMER_FLAGS: Xlat = [("TIMER_ABSTIME", 1)]

# --- terminals (ioctl) ----------------------------------------------------------------------------
IOCTLS: Dict[int, str] = {
    0x5401: "TCGETS", 0x5402: "TCSETS", 0x5403: "TCSETSW", 0x5404: "TCSETSF",
    0x5405: "TCGETA", 0x5406: "TCSETA", 0x5407: "TCSETAW", 0x5408: "TCSETAF",
    0x5409: "TCSBRK", 0x540A: "TCXONC", 0x540B: "TCFLSH", 0x540C: "TIOCEXCL",
    0x540D: "TIOCNXCL", 0x540E: "TIOCSCTTY", 0x540F: "TIOCGPGRP", 0x5410: "TIOCSPGRP",
    0x5411: "TIOCOUTQ", 0x5412: "TIOCSTI", 0x5413: "TIOCGWINSZ", 0x5414: "TIOCSWINSZ",
    0x5415: "TIOCMGET", 0x5416: "TIOCMBIS", 0x5417: "TIOCMBIC", 0x5418: "TIOCMSET",
    0x541B: "FIONREAD", 0x541C: "TIOCLINUX", 0x541D: "TIOCCONS", 0x5421: "FIONBIO",
    0x5422: "TIOCNOTTY", 0x5429: "TIOCGSID", 0x5450: "FIONCLEX", 0x5451: "FIOCLEX",
    0x5452: "FIOASYNC", 0x80045430: "TIOCGPTN", 0x40045431: "TIOCSPTLCK",
    0x802C542A: "TCGETS2", 0x402C542B: "TCSETS2", 0x5460: "FIOQSIZE",
}
TERM_IFLAGS: Xlat = [("IGNBRK", 1), ("BRKINT", 2), ("IGNPAR", 4), ("PARMRK", 8),
                     ("INPCK", 0x10), ("ISTRIP", 0x20), ("INLCR", 0x40), ("IGNCR", 0x80),
                     ("ICRNL", 0x100), ("IUCLC", 0x200), ("IXON", 0x400), ("IXANY", 0x800),
                     ("IXOFF", 0x1000), ("IMAXBEL", 0x2000), ("IUTF8", 0x4000)]
TERM_OFLAGS: Xlat = [("OPOST", 1), ("OLCUC", 2), ("ONLCR", 4), ("OCRNL", 8), ("ONOCR", 0x10),
                     ("ONLRET", 0x20), ("OFILL", 0x40), ("OFDEL", 0x80)]
# Delay fields of c_oflag: (mask, [names by value]) printed before the flags.
TERM_ODELAYS: List[Tuple[int, Dict[int, str]]] = [
    (0x100, {0: "NL0", 0x100: "NL1"}),
    (0x600, {0: "CR0", 0x200: "CR1", 0x400: "CR2", 0x600: "CR3"}),
    (0x1800, {0: "TAB0", 0x800: "TAB1", 0x1000: "TAB2", 0x1800: "TAB3"}),
    (0x2000, {0: "BS0", 0x2000: "BS1"}),
    (0x4000, {0: "VT0", 0x4000: "VT1"}),
    (0x8000, {0: "FF0", 0x8000: "FF1"}),
]
BAUD_RATES = {0: "B0", 1: "B50", 2: "B75", 3: "B110", 4: "B134", 5: "B150", 6: "B200",
              7: "B300", 8: "B600", 9: "B1200", 10: "B1800", 11: "B2400", 12: "B4800",
              13: "B9600", 14: "B19200", 15: "B38400", 0o10001: "B57600",
              0o10002: "B115200", 0o10003: "B230400", 0o10004: "B460800",
              0o10005: "B500000", 0o10006: "B576000", 0o10007: "B921600",
              0o10010: "B1000000", 0o10011: "B1152000", 0o10012: "B1500000",
              0o10013: "B2000000", 0o10014: "B2500000", 0o10015: "B3000000",
              0o10016: "B3500000", 0o10017: "B4000000", 0o10000: "BOTHER"}
CBAUD = 0o10017
CSIZES = {0: "CS5", 0o20: "CS6", 0o40: "CS7", 0o60: "CS8"}
CSIZE = 0o60
TERM_CFLAGS: Xlat = [("CSTOPB", 0o100), ("CREAD", 0o200), ("PARENB", 0o400),
                     ("PARODD", 0o1000), ("HUPCL", 0o2000), ("CLOCAL", 0o4000),
                     ("CMSPAR", 0o10000000000), ("CRTSCTS", 0o20000000000)]
TERM_LFLAGS: Xlat = [("ISIG", 1), ("ICANON", 2), ("XCASE", 4), ("ECHO", 0o10),
                     ("ECHOE", 0o20), ("ECHOK", 0o40), ("ECHONL", 0o100),
                     ("NOFLSH", 0o200), ("IEXTEN", 0o100000), ("ECHOCTL", 0o1000),
                     ("ECHOPRT", 0o2000), ("ECHOKE", 0o4000), ("FLUSHO", 0o10000),
                     ("PENDIN", 0o40000), ("TOSTOP", 0o400), ("EXTPROC", 0o200000)]

# --- poll, sockets --------------------------------------------------------------------------------
POLL_EVENTS: Xlat = [("POLLIN", 1), ("POLLPRI", 2), ("POLLOUT", 4), ("POLLERR", 8),
                     ("POLLHUP", 0x10), ("POLLNVAL", 0x20), ("POLLRDNORM", 0x40),
                     ("POLLRDBAND", 0x80), ("POLLWRNORM", 0x100), ("POLLWRBAND", 0x200),
                     ("POLLMSG", 0x400), ("POLLREMOVE", 0x1000), ("POLLRDHUP", 0x2000)]
ADDRESS_FAMILIES: Xlat = [("AF_UNSPEC", 0), ("AF_UNIX", 1), ("AF_INET", 2), ("AF_INET6", 10),
                          ("AF_NETLINK", 16), ("AF_PACKET", 17)]
SOCK_TYPES: Xlat = [("SOCK_STREAM", 1), ("SOCK_DGRAM", 2), ("SOCK_RAW", 3), ("SOCK_RDM", 4),
                    ("SOCK_SEQPACKET", 5), ("SOCK_DCCP", 6), ("SOCK_PACKET", 10)]
SOCK_FLAGS: Xlat = [("SOCK_CLOEXEC", 0o2000000), ("SOCK_NONBLOCK", 0o4000)]
