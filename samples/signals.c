/* Signal behaviours, one line per check; argv[1] selects a fatal mode instead. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t hits, depth, maxdepth;
static volatile int last_code, last_signo, last_pid_ok;
static volatile uintptr_t last_addr;
static sigjmp_buf jb;
static char *altstack;
static volatile int on_alt;
static char *guard_page;
static int *volatile segv_target = (int *)0x1234;

static void plain(int sig) { hits++; last_signo = sig; }

static void info_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    hits++;
    last_signo = sig;
    last_code = si->si_code;
    last_pid_ok = si->si_pid == getpid();
}

static void jump_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    last_signo = sig;
    last_code = si->si_code;
    last_addr = (uintptr_t)si->si_addr;
    siglongjmp(jb, 1);
}

static void nested(int sig)
{
    depth++;
    if (depth > maxdepth)
        maxdepth = depth;
    if (depth < 3)
        raise(sig);
    depth--;
}

static void alt_handler(int sig)
{
    char local;
    (void)sig;
    on_alt = &local >= altstack && &local < altstack + SIGSTKSZ * 4;
}

static void fix_guard(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    last_addr = (uintptr_t)si->si_addr;
    last_code = si->si_code;
    mprotect(guard_page, 4096, PROT_READ | PROT_WRITE);
}

static void fp_handler(int sig)
{
    /* Clobber the FPU/SSE state: sigreturn must restore the interrupted computation's. */
    volatile double x = 1.0;
    for (int i = 0; i < 10; i++)
        x = x * 3.5 + 0.25;
    (void)sig;
    hits++;
}

static void set(int sig, void (*h)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void set_info(int sig, void (*h)(int, siginfo_t *, void *), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = h;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1) {
        printf("fatal mode %s\n", argv[1]);
        if (!strcmp(argv[1], "abort"))
            abort();
        if (!strcmp(argv[1], "term"))
            raise(SIGTERM);
        if (!strcmp(argv[1], "segv-blocked")) {
            sigset_t s;
            sigemptyset(&s);
            sigaddset(&s, SIGSEGV);
            sigprocmask(SIG_BLOCK, &s, NULL);
            int *volatile bad = (int *)8;
            *bad = 1;
        }
        if (!strcmp(argv[1], "resethand")) {
            set(SIGUSR1, plain, SA_RESETHAND);
            raise(SIGUSR1);
            printf("first caught %d\n", hits);
            raise(SIGUSR1);
        }
        if (!strcmp(argv[1], "ignored-fpe")) {
            volatile int z = 0;
            set(SIGFPE, SIG_IGN, 0);
            printf("%d\n", 1 / z);
        }
        printf("not reached\n");
        return 0;
    }

    /* 1. a handler runs, with raise (SI_TKILL) and kill (SI_USER) */
    set_info(SIGUSR1, info_handler, 0);
    raise(SIGUSR1);
    printf("raise: hits=%d signo=%d code=%d pid_ok=%d\n", hits, last_signo, last_code, last_pid_ok);
    kill(getpid(), SIGUSR1);
    printf("kill: hits=%d code=%d pid_ok=%d\n", hits, last_code, last_pid_ok);

    /* 2. a blocked signal stays pending until unblocked */
    sigset_t s, old, pend;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigprocmask(SIG_BLOCK, &s, &old);
    raise(SIGUSR1);
    sigpending(&pend);
    printf("blocked: hits=%d pending=%d\n", hits, sigismember(&pend, SIGUSR1));
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("unblocked: hits=%d\n", hits);

    /* 3. SA_NODEFER lets the handler nest; without it the signal waits */
    set(SIGUSR2, nested, SA_NODEFER);
    raise(SIGUSR2);
    printf("nodefer: maxdepth=%d\n", maxdepth);

    /* 4. SIGFPE from a division by zero, left with siglongjmp */
    set_info(SIGFPE, jump_handler, 0);
    volatile int zero = 0;
    if (!sigsetjmp(jb, 1))
        printf("%d\n", 10 / zero);
    printf("sigfpe: signo=%d code=%d\n", last_signo, last_code);

    /* 5. SIGSEGV with si_addr and SEGV_MAPERR, then SEGV_ACCERR */
    set_info(SIGSEGV, jump_handler, 0);
    if (!sigsetjmp(jb, 1))
        *(int *volatile)segv_target = 1;
    printf("segv: signo=%d code=%d addr=%#lx\n", last_signo, last_code, (unsigned long)last_addr);
    char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!sigsetjmp(jb, 1))
        ro[100] = 1;
    printf("segv accerr: code=%d offset=%ld\n", last_code, (long)(last_addr - (uintptr_t)ro));

    /* 6. SIGILL from ud2: si_addr is the instruction */
    set_info(SIGILL, jump_handler, 0);
    if (!sigsetjmp(jb, 1))
        __asm__ volatile("ud2");
    printf("sigill: signo=%d code=%d\n", last_signo, last_code);

    /* 7. a SIGSEGV handler that fixes the page: the instruction is re-executed */
    guard_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    set_info(SIGSEGV, fix_guard, 0);
    guard_page[7] = 42;
    printf("guard: value=%d code=%d\n", guard_page[7], last_code);

    /* 8. SIGTRAP from int3: the handler returns past it */
    set(SIGTRAP, plain, 0);
    int before = hits;
    __asm__ volatile("int3");
    printf("int3: caught=%d\n", hits - before);

    /* 9. sigaltstack and SA_ONSTACK */
    altstack = malloc(SIGSTKSZ * 4);
    stack_t ss = {.ss_sp = altstack, .ss_size = SIGSTKSZ * 4, .ss_flags = 0};
    printf("sigaltstack: %d\n", sigaltstack(&ss, NULL));
    set(SIGUSR2, alt_handler, SA_ONSTACK);
    raise(SIGUSR2);
    printf("on altstack: %d\n", on_alt);

    /* 10. the FPU state survives a handler that uses it */
    set(SIGUSR1, fp_handler, 0);
    double acc = 0.5;
    for (int i = 1; i <= 200; i++) {
        acc = acc * 1.0001 + 1.0 / i;
        if (i % 50 == 0)
            raise(SIGUSR1);
    }
    printf("fpu: %.12f\n", acc);

    /* 11. an interval timer and pause() */
    set(SIGALRM, plain, 0);
    before = hits;
    struct itimerval it = {.it_value = {0, 20000}};
    setitimer(ITIMER_REAL, &it, NULL);
    int r = pause();
    printf("pause: ret=%d caught=%d\n", r, hits - before);

    /* 12. sigsuspend with the signal blocked outside */
    sigprocmask(SIG_BLOCK, &s, &old);
    raise(SIGUSR1);
    sigset_t none;
    sigemptyset(&none);
    before = hits;
    r = sigsuspend(&none);
    sigprocmask(SIG_BLOCK, NULL, &pend);
    printf("sigsuspend: ret=%d caught=%d still_blocked=%d\n", r, hits - before,
           sigismember(&pend, SIGUSR1));
    sigprocmask(SIG_SETMASK, &old, NULL);

    /* 13. SIG_IGN discards; the old action is reported */
    struct sigaction prev;
    set(SIGUSR1, SIG_IGN, 0);
    raise(SIGUSR1);
    sigaction(SIGUSR1, NULL, &prev);
    printf("ignored: still here, handler_is_ign=%d\n", prev.sa_handler == SIG_IGN);
    return 0;
}
