/* Everything that differs between two runs natively: clocks, the TSC, random bytes (getrandom,
 * AT_RANDOM, /dev/urandom), pid/ppid/tid and uname. Under `pyexec --deterministic` two runs
 * print the same bytes (tests/emulator/test_determinism.py). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static void hex(const char *what, const unsigned char *p, size_t n)
{
    printf("%s=", what);
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\n");
}

int main(void)
{
    struct timespec rt, mono, res;
    struct timeval tv;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_getres(CLOCK_MONOTONIC, &res);
    gettimeofday(&tv, NULL);
    printf("realtime=%lld.%09ld\n", (long long)rt.tv_sec, rt.tv_nsec);
    printf("monotonic=%lld.%09ld\n", (long long)mono.tv_sec, mono.tv_nsec);
    printf("res=%lld.%09ld\n", (long long)res.tv_sec, res.tv_nsec);
    printf("gettimeofday=%lld.%06ld\n", (long long)tv.tv_sec, (long)tv.tv_usec);
    printf("time=%lld\n", (long long)time(NULL));
    struct tms t;
    clock_t ticks = times(&t);
    printf("times=%ld utime=%ld\n", (long)ticks, (long)t.tms_utime);

    unsigned aux = 99;
    uint64_t tsc1 = __builtin_ia32_rdtsc();
    uint64_t tsc2 = __builtin_ia32_rdtscp(&aux);
    printf("tsc_increases=%d tsc=%llu tscp=%llu aux=%u\n", tsc2 > tsc1,
           (unsigned long long)tsc1, (unsigned long long)tsc2, aux);

    unsigned char buf[16];
    if (getrandom(buf, sizeof buf, 0) == (ssize_t)sizeof buf)
        hex("getrandom", buf, sizeof buf);
    hex("at_random", (const unsigned char *)getauxval(AT_RANDOM), 16);
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd >= 0 && read(fd, buf, sizeof buf) == (ssize_t)sizeof buf)
        hex("urandom", buf, sizeof buf);
    if (fd >= 0)
        close(fd);

    printf("pid=%d ppid=%d tid=%ld\n", (int)getpid(), (int)getppid(), (long)syscall(SYS_gettid));
    struct utsname u;
    uname(&u);
    printf("uname=%s %s %s %s %s\n", u.sysname, u.nodename, u.release, u.version, u.machine);

    volatile uint64_t x = 0;          /* some work between two clock reads */
    for (int i = 0; i < 100000; i++)
        x += (uint64_t)i * i;
    struct timespec rt2;
    clock_gettime(CLOCK_REALTIME, &rt2);
    long long ns = (rt2.tv_sec - rt.tv_sec) * 1000000000LL + (rt2.tv_nsec - rt.tv_nsec);
    printf("elapsed_ns=%lld sum=%llu\n", ns, (unsigned long long)x);
    return 0;
}
