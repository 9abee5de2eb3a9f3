/* Bad guest pointers and bad arguments: every call must fail as natively (EFAULT, EBADF, EINVAL, ENOSYS). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <fcntl.h>
#include <time.h>
int main(void) {
    long r;
    r = syscall(SYS_write, 1, (void*)8, 10); printf("write NULL: %ld %s\n", r, strerror(errno));
    r = syscall(SYS_read, 0, (void*)-4096L, 10); printf("read kernel addr: %ld %s\n", r, strerror(errno));
    r = syscall(SYS_openat, AT_FDCWD, (void*)16, O_RDONLY); printf("open bad path: %ld %s\n", r, strerror(errno));
    r = syscall(SYS_clock_gettime, 0, (void*)24); printf("clock_gettime bad: %ld %s\n", r, strerror(errno));
    struct iovec iov = {(void*)32, 5}; r = syscall(SYS_writev, 1, &iov, 1); printf("writev bad: %ld %s\n", r, strerror(errno));
    r = syscall(SYS_uname, (void*)40); printf("uname bad: %ld %s\n", r, strerror(errno));
    r = syscall(SYS_fstat, 1, (void*)48); printf("fstat bad: %ld %s\n", r, strerror(errno));
    r = syscall(SYS_write, 99, "x", 1); printf("write badfd: %ld %s\n", r, strerror(errno));
    r = syscall(SYS_mmap, 0, 0, 3, 0x22, -1, 0); printf("mmap len0: %ld %s\n", r, strerror(errno));
    r = syscall(99999); printf("nosys: %ld %s\n", r, strerror(errno));
    return 0;
}
