/* Syscall-heavy loop: argv[1] (default 200000) getppid() system calls. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    long ok = 0;
    for (long i = 0; i < n; i++)
        if (syscall(SYS_getppid) > 0)
            ok++;
    printf("syscalls: %ld of %ld\n", ok, n);
    return ok == n ? 0 : 1;
}
