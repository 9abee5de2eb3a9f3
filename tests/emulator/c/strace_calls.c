/* Syscalls with structured arguments, for comparing `pyexec --strace` with strace(1)
 * (tests/emulator/test_strace.py). argv[1] is a scratch directory. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static void handler(int sig) { (void)sig; }

int main(int argc, char **argv)
{
    char path[512], path2[512], buf[300];
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    struct stat st;
    struct utsname u;
    int p[2];

    uname(&u);
    pipe2(p, O_CLOEXEC);
    write(p[1], "through the pipe\n", 17);
    read(p[0], buf, sizeof buf);
    close(p[0]);
    close(p[1]);
    int d = dup(1);
    dup2(1, 10);
    dup3(1, 11, O_CLOEXEC);
    fcntl(10, F_GETFD);
    fcntl(10, F_SETFD, FD_CLOEXEC);
    fcntl(10, F_GETFD);
    fcntl(1, F_DUPFD, 20);
    fcntl(1, F_DUPFD_CLOEXEC, 30);
    close(d);
    getcwd(buf, sizeof buf);
    access("/nonexistent-pyexec", F_OK);
    access(dir, R_OK | X_OK);
    stat(dir, &st);
    lstat("/nonexistent-pyexec", &st);
    snprintf(path, sizeof path, "%s/strace-file", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0640);
    write(fd, "a\0b\1c\377d\"e\\f\t\n\r\v\f0123456789", 24);
    char bin[40];
    for (int i = 0; i < 40; i++)
        bin[i] = (char)(i * 7);
    write(fd, bin, sizeof bin);
    write(fd, "\0017x", 3);
    fstat(fd, &st);
    char *volatile bad = (char *)16;
    write(fd, bad, 5);
    close(fd);
    fd = open(path, O_RDONLY);
    lseek(fd, 3, SEEK_SET);
    struct iovec iov[2] = {{buf, 5}, {buf + 5, 100}};
    readv(fd, iov, 2);
    pread(fd, buf, 4, 1);
    void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    munmap(m, 4096);
    close(fd);
    snprintf(path2, sizeof path2, "%s/strace-renamed", dir);
    rename(path, path2);
    unlink(path2);
    unlink(path2);
    snprintf(path, sizeof path, "%s/strace-dir", dir);
    mkdir(path, 0750);
    DIR *dp = opendir(path);
    readdir(dp);
    closedir(dp);
    rmdir(path);
    umask(027);
    umask(022);

    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigaddset(&s, SIGRTMIN + 3);
    sigaddset(&s, 64);
    sigprocmask(SIG_BLOCK, &s, NULL);
    sigfillset(&s);
    sigprocmask(SIG_BLOCK, &s, NULL);
    sigemptyset(&s);
    sigprocmask(SIG_SETMASK, &s, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigaddset(&sa.sa_mask, SIGINT);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    raise(SIGTERM);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGTERM, &sa, &sa);
    struct timespec req = {0, 1000};
    nanosleep(&req, NULL);

    m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
             -1, 0);
    mprotect(m, 4096, PROT_NONE);
    madvise(m, 4096, MADV_DONTNEED);
    munmap(m, 8192);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    setrlimit(RLIMIT_NOFILE, &rl);
    ioctl(1, TIOCGWINSZ, buf);
    struct pollfd pf = {1, POLLOUT, 0};
    poll(&pf, 1, 0);
    kill(getpid(), 0);
    getuid();
    getgid();
    readlink("/nonexistent-pyexec", buf, sizeof buf);
    close(12345);
    write(-1, "x", 1);
    return 3;
}
