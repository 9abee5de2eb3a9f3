/* Process, file and socket syscalls, each checked by what it returns: pyexec must print what the
 * native run prints (tests/native/test_process_syscalls.py). Output is made of values that do
 * not change between runs: results, errno names, relations between pids and times. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ename(int e)
{
    switch (e) {
    case 0: return "OK";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case ENOEXEC: return "ENOEXEC";
    case EBADF: return "EBADF";
    case ECHILD: return "ECHILD";
    case EAGAIN: return "EAGAIN";
    case EEXIST: return "EEXIST";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ELOOP: return "ELOOP";
    case EPIPE: return "EPIPE";
    case ENOSYS: return "ENOSYS";
    case ESRCH: return "ESRCH";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EPERM: return "EPERM";
    default: return "E?";
    }
}

#define SHOW(name, expr) do { errno = 0; long r_ = (long)(expr); \
    printf("%-28s %ld %s\n", name, r_ < 0 ? -1L : r_, ename(r_ < 0 ? errno : 0)); } while (0)
#define CHECK(name, cond) printf("%-28s %s\n", name, (cond) ? "yes" : "no")

static void test_fork_wait(void)
{
    int status;
    pid_t pid = fork();
    if (pid == 0) {
        if (getppid() == 1)
            _exit(99);
        _exit(42);
    }
    pid_t got = waitpid(pid, &status, 0);
    CHECK("fork:wait same pid", got == pid);
    printf("fork:status %#x exited=%d code=%d\n", status, WIFEXITED(status),
           WEXITSTATUS(status));

    pid = fork();
    if (pid == 0) {
        kill(getpid(), SIGTERM);
        pause();
        _exit(0);
    }
    struct rusage ru;
    got = wait4(pid, &status, 0, &ru);
    CHECK("wait4:same pid", got == pid);
    printf("wait4:signaled=%d sig=%d\n", WIFSIGNALED(status), WTERMSIG(status));
    SHOW("wait4:no children", waitpid(-1, &status, WNOHANG));

    int p[2];
    pipe(p);
    pid = fork();
    if (pid == 0) {
        char c;
        read(p[0], &c, 1);
        _exit(7);
    }
    siginfo_t si;
    memset(&si, 0x55, sizeof si);
    SHOW("waitid:WNOHANG none", waitid(P_PID, pid, &si, WEXITED | WNOHANG));
    printf("waitid:none si_pid=%d si_signo=%d\n", si.si_pid, si.si_signo);
    write(p[1], "x", 1);
    SHOW("waitid:exited", waitid(P_PID, pid, &si, WEXITED));
    printf("waitid:si_pid ok=%d signo=%d code=%d status=%d\n", si.si_pid == pid, si.si_signo,
           si.si_code, si.si_status);
    close(p[0]);
    close(p[1]);

    /* The child's pid is its own; its parent is us. */
    pipe(p);
    pid = fork();
    if (pid == 0) {
        pid_t me = getpid(), parent = getppid();
        write(p[1], &me, sizeof me);
        write(p[1], &parent, sizeof parent);
        _exit(0);
    }
    pid_t me, parent;
    read(p[0], &me, sizeof me);
    read(p[0], &parent, sizeof parent);
    waitpid(pid, NULL, 0);
    CHECK("child getpid == fork()", me == pid);
    CHECK("child getppid == getpid", parent == getpid());
    close(p[0]);
    close(p[1]);

    /* vfork: the parent waits until the child exits, and sees what it stored. */
    static volatile int vfork_shared;
    pid = vfork();
    if (pid == 0) {
        vfork_shared = 77;
        _exit(3);
    }
    waitpid(pid, &status, 0);
    printf("vfork:code=%d shared=%d\n", WEXITSTATUS(status), vfork_shared);

    /* posix_spawn (clone(CLONE_VM|CLONE_VFORK) on a stack of its own): its child reports a
     * failed exec through the shared memory. */
    extern char **environ;
    char *spawn_argv[] = {(char *)"true", NULL};
    int r = posix_spawn(&pid, "/nonexistent/prog", NULL, NULL, spawn_argv, environ);
    printf("posix_spawn missing %s\n", ename(r));
    if (r == 0)
        waitpid(pid, NULL, 0);

    /* Threads are refused cleanly (pyexec: ENOSYS; native: they work, so only ask natively
     * whether clone itself exists). */
    SHOW("kill(child gone)", kill(pid, 0));
}

static void test_exec_errors(const char *dir)
{
    char path[512];
    char *argv[] = {"x", NULL};
    char *envp[] = {NULL};
    SHOW("execve:missing", execve("/nonexistent/prog", argv, envp));
    SHOW("execve:directory", execve(dir, argv, envp));
    snprintf(path, sizeof path, "%s/plain.txt", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0755);
    write(fd, "just text\n", 10);
    close(fd);
    SHOW("execve:no magic", execve(path, argv, envp));
    snprintf(path, sizeof path, "%s/noexec.txt", dir);
    fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    close(fd);
    if (getuid() != 0)
        SHOW("execve:no x bit", execve(path, argv, envp));
    else
        printf("execve:no x bit skipped\n");
    snprintf(path, sizeof path, "%s/badinterp.sh", dir);
    fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0755);
    write(fd, "#!/nonexistent/interp\n", 22);
    close(fd);
    SHOW("execve:bad interpreter", execve(path, argv, envp));
}

static void test_exec_child(const char *self)
{
    /* exec ourselves in a child with a mode argument; the child prints its argv. */
    int status;
    int p[2];
    pipe2(p, O_CLOEXEC);
    int keep = dup(p[1]);          /* no FD_CLOEXEC: survives exec */
    pid_t pid = fork();
    if (pid == 0) {
        char fdarg[16], cloexecarg[16];
        snprintf(fdarg, sizeof fdarg, "%d", keep);
        snprintf(cloexecarg, sizeof cloexecarg, "%d", p[1]);
        char *argv[] = {(char *)"child-name", (char *)"--exec-child", fdarg,
                        (char *)"arg with spaces", cloexecarg, NULL};
        char *envp[] = {(char *)"ONLY=this", NULL};
        execve(self, argv, envp);
        _exit(127);
    }
    close(p[1]);
    close(keep);
    char buf[256] = {0};
    ssize_t n = 0, r;
    while ((r = read(p[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += r;
    waitpid(pid, &status, 0);
    printf("exec:child said %zd [%s] code=%d\n", n, buf, WEXITSTATUS(status));
    close(p[0]);
}

static int exec_child_main(int argc, char **argv)
{
    int fd = atoi(argv[2]);
    char comm[17] = {0};
    prctl(PR_GET_NAME, comm);
    dprintf(fd, "argc=%d argv0=%s argv3=%s env=%s comm=%s cloexec-closed=%d", argc, argv[0],
            argv[3], getenv("ONLY") ? getenv("ONLY") : "-", comm,
            fcntl(atoi(argv[4]), F_GETFD) < 0 && errno == EBADF);
    return 5;
}

static void test_fds(const char *dir)
{
    int p[2];
    SHOW("pipe2", pipe2(p, O_CLOEXEC | O_NONBLOCK));
    printf("pipe2:fd flags %d %d\n", fcntl(p[0], F_GETFD), fcntl(p[1], F_GETFD));
    printf("pipe2:nonblock %d\n", (fcntl(p[0], F_GETFL) & O_NONBLOCK) != 0);
    char c;
    SHOW("read empty nonblock", read(p[0], &c, 1));
    SHOW("pipe2 bad flags", pipe2(p, 0x1234000));
    int d = fcntl(p[0], F_DUPFD_CLOEXEC, 50);
    printf("F_DUPFD_CLOEXEC %d cloexec=%d\n", d, fcntl(d, F_GETFD));
    SHOW("dup3 same", dup3(d, d, 0));
    SHOW("dup3", dup3(p[0], 60, O_CLOEXEC));
    printf("dup3 cloexec=%d\n", fcntl(60, F_GETFD));
    SHOW("fcntl F_SETFL", fcntl(p[0], F_SETFL, 0));
    printf("F_GETFL nonblock=%d\n", (fcntl(p[0], F_GETFL) & O_NONBLOCK) != 0);
    SHOW("close bad", close(999));

    /* poll and select on a pipe */
    struct pollfd pf[3] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}, {-1, POLLIN, 0}};
    SHOW("poll", poll(pf, 3, 0));
    printf("poll revents %#x %#x %#x\n", pf[0].revents, pf[1].revents, pf[2].revents);
    write(p[1], "abc", 3);
    SHOW("poll readable", poll(pf, 1, 1000));
    printf("poll revents %#x\n", pf[0].revents);
    struct pollfd bad = {888, POLLIN, 0};
    SHOW("poll nval", poll(&bad, 1, 100));
    printf("poll nval revents %#x\n", bad.revents);
    fd_set rs, ws;
    FD_ZERO(&rs);
    FD_ZERO(&ws);
    FD_SET(p[0], &rs);
    FD_SET(p[1], &ws);
    struct timeval tv = {1, 0};
    SHOW("select", select(p[1] + 1, &rs, &ws, NULL, &tv));
    printf("select r=%d w=%d\n", FD_ISSET(p[0], &rs), FD_ISSET(p[1], &ws));
    char buf[8];
    read(p[0], buf, sizeof buf);
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    tv.tv_sec = 0;
    tv.tv_usec = 20000;
    SHOW("select timeout", select(p[0] + 1, &rs, NULL, NULL, &tv));
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    struct timespec ts = {0, 10000000};
    sigset_t mask;
    sigemptyset(&mask);
    SHOW("pselect timeout", pselect(p[0] + 1, &rs, NULL, NULL, &ts, &mask));
    FD_ZERO(&rs);
    FD_SET(500, &rs);
    tv.tv_sec = 0;
    SHOW("select ebadf", select(501, &rs, NULL, NULL, &tv));
    pf[0].events = POLLIN;
    SHOW("ppoll timeout", ppoll(pf, 1, &ts, &mask));
    close(p[1]);
    SHOW("poll hup", poll(pf, 1, 0));
    printf("poll hup revents %#x\n", pf[0].revents);
    close(p[0]);
    close(d);
    close(60);

    /* fcntl locks: the child sees the parent's lock */
    char path[512];
    snprintf(path, sizeof path, "%s/lockfile", dir);
    int fd = open(path, O_CREAT | O_RDWR, 0644);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 5};
    SHOW("F_SETLK", fcntl(fd, F_SETLK, &fl));
    pid_t pid = fork();
    if (pid == 0) {
        struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100};
        fcntl(fd, F_GETLK, &q);
        printf("child F_GETLK type=%d start=%ld len=%ld pid-is-parent=%d\n", q.l_type,
               (long)q.l_start, (long)q.l_len, q.l_pid == getppid());
        errno = 0;
        int r = fcntl(fd, F_SETLK, &q);
        printf("child F_SETLK %d %s\n", r, ename(r < 0 ? errno : 0));
        fflush(stdout);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    SHOW("flock", flock(fd, LOCK_EX | LOCK_NB));
    close(fd);
}

static void test_files(const char *dir)
{
    char cwd[1024];
    SHOW("chdir", chdir(dir));
    getcwd(cwd, sizeof cwd);
    CHECK("getcwd == dir", strcmp(cwd, dir) == 0);
    SHOW("getcwd small", (long)getcwd(cwd, 2) - (long)cwd == 0 ? 0 : -1);
    SHOW("mkdir", mkdir("sub", 0750));
    SHOW("mkdir again", mkdir("sub", 0750));
    int dfd = open("sub", O_RDONLY | O_DIRECTORY);
    SHOW("mkdirat", mkdirat(dfd, "inner", 0700));
    int fd = openat(dfd, "file", O_CREAT | O_WRONLY, 0640);
    write(fd, "0123456789", 10);
    SHOW("ftruncate", ftruncate(fd, 4));
    close(fd);
    SHOW("truncate", truncate("sub/file", 7));
    struct stat st;
    stat("sub/file", &st);
    printf("size after truncate %ld mode %o\n", (long)st.st_size, st.st_mode & 07777);
    SHOW("truncate negative", truncate("sub/file", -1));
    SHOW("linkat", linkat(dfd, "file", dfd, "hard", 0));
    SHOW("symlinkat", symlinkat("file", dfd, "soft"));
    char target[64] = {0};
    SHOW("readlinkat", readlinkat(dfd, "soft", target, sizeof target));
    printf("readlinkat target %s\n", target);
    SHOW("readlink not link", readlink("sub/file", target, sizeof target));
    stat("sub/file", &st);
    printf("nlink %ld\n", (long)st.st_nlink);
    SHOW("renameat", renameat(dfd, "hard", AT_FDCWD, "moved"));
    SHOW("rename missing", rename("nothing", "x"));
    SHOW("renameat2 noreplace", syscall(SYS_renameat2, AT_FDCWD, "moved", AT_FDCWD, "sub/file", 1));
    SHOW("faccessat R", faccessat(dfd, "file", R_OK, 0));
    SHOW("faccessat missing", faccessat(dfd, "nope", F_OK, 0));
    SHOW("access notdir", access("sub/file/x", F_OK));
    SHOW("fchmodat", fchmodat(dfd, "file", 0604, 0));
    SHOW("chmod", chmod("moved", 0600));
    fstatat(dfd, "file", &st, 0);
    printf("mode after fchmodat %o\n", st.st_mode & 07777);
    SHOW("fchownat same", fchownat(dfd, "file", getuid(), getgid(), 0));
    SHOW("lchown same", lchown("sub/soft", -1, -1));
    SHOW("chown missing", chown("nothing", 0, 0));
    struct timespec times[2] = {{1000, 0}, {0, UTIME_OMIT}};
    SHOW("utimensat", utimensat(dfd, "file", times, 0));
    fstatat(dfd, "file", &st, 0);
    printf("atime %ld\n", (long)st.st_atime);
    struct timespec t2[2] = {{0, UTIME_OMIT}, {123456789, 500}};
    SHOW("utimensat symlink", utimensat(dfd, "soft", t2, AT_SYMLINK_NOFOLLOW));
    fstatat(dfd, "soft", &st, AT_SYMLINK_NOFOLLOW);
    printf("symlink mtime %ld.%09ld\n", (long)st.st_mtime, (long)st.st_mtim.tv_nsec);
    struct timeval tv[2] = {{5, 0}, {6, 7}};
    SHOW("utimes", utimes("moved", tv));
    stat("moved", &st);
    printf("utimes mtime %ld.%09ld\n", (long)st.st_mtime, (long)st.st_mtim.tv_nsec);
    mode_t old = umask(027);
    printf("umask old %03o now %03o\n", old, umask(027));
    /* directory listing */
    DIR *d = opendir("sub");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n++;
    closedir(d);
    printf("readdir entries %d\n", n);
    SHOW("rmdir notempty", rmdir("sub"));
    SHOW("unlinkat dir", unlinkat(dfd, "inner", AT_REMOVEDIR));
    SHOW("unlinkat file", unlinkat(dfd, "file", 0));
    SHOW("unlink dir", unlink("sub"));
    SHOW("fchdir", fchdir(dfd));
    getcwd(cwd, sizeof cwd);
    printf("cwd ends with /sub %d\n", strlen(cwd) > 4 && !strcmp(cwd + strlen(cwd) - 4, "/sub"));
    chdir("..");
    close(dfd);
    struct statfs a, b;
    SHOW("statfs", statfs(dir, &a));
    fd = open(dir, O_RDONLY);
    SHOW("fstatfs", fstatfs(fd, &b));
    CHECK("statfs type and bsize agree", a.f_type == b.f_type && a.f_bsize == b.f_bsize &&
          a.f_namelen == b.f_namelen);
    close(fd);
    /* sendfile */
    fd = open("moved", O_RDWR);
    write(fd, "sendfile-data\n", 14);
    lseek(fd, 0, SEEK_SET);
    off_t off = 4;
    int p[2];
    pipe(p);
    SHOW("sendfile offset", sendfile(p[1], fd, &off, 100));
    printf("sendfile new offset %ld\n", (long)off);
    char buf[32] = {0};
    read(p[0], buf, sizeof buf);
    printf("sendfile got %s", buf);
    close(fd);
    close(p[0]);
    close(p[1]);
}

static void test_identity(void)
{
    char name[17] = {0};
    SHOW("prctl set name", prctl(PR_SET_NAME, "renamed-process-long"));
    prctl(PR_GET_NAME, name);
    printf("comm %s\n", name);
    SHOW("getpgid", getpgid(0) == getpgrp() ? 0 : -1);
    SHOW("getsid", getsid(0) > 0 ? 0 : -1);
    SHOW("getpgid missing", getpgid(0x7ffffff0));
    SHOW("setpgid self", setpgid(0, 0));
    CHECK("pgrp is pid", getpgrp() == getpid());
    int ng = getgroups(0, NULL);
    gid_t groups[256];
    CHECK("getgroups count", getgroups(256, groups) == ng);
    uid_t r, e, s;
    getresuid(&r, &e, &s);
    CHECK("getresuid", r == getuid() && e == geteuid());
    SHOW("setuid same", setuid(getuid()));
    SHOW("setgid same", setgid(getgid()));
    struct rusage ru;
    SHOW("getrusage", getrusage(RUSAGE_SELF, &ru));
    SHOW("getrusage bad", getrusage(5, &ru));
    struct tms tm;
    CHECK("times", times(&tm) != (clock_t)-1);
    struct utsname u;
    uname(&u);
    printf("uname %s %s\n", u.sysname, u.machine);
    cpu_set_t set;
    CHECK("sched_getaffinity", sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0);
    SHOW("sched_yield", sched_yield());
    SHOW("getpriority", getpriority(PRIO_PROCESS, 0));
}

static void test_sockets(const char *dir)
{
    int sv[2];
    SHOW("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    SHOW("send", send(sv[0], "ping", 4, 0));
    char buf[64] = {0};
    SHOW("recv", recv(sv[1], buf, sizeof buf, 0));
    printf("recv got %s\n", buf);
    int type = 0;
    socklen_t len = sizeof type;
    SHOW("getsockopt SO_TYPE", getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &len));
    printf("SO_TYPE %d len %d\n", type, (int)len);
    struct timeval tv = {3, 250000}, tv2;
    SHOW("setsockopt RCVTIMEO", setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    len = sizeof tv2;
    getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv2, &len);
    printf("RCVTIMEO %ld.%06ld len %d\n", (long)tv2.tv_sec, (long)tv2.tv_usec, (int)len);

    /* pass a descriptor with SCM_RIGHTS */
    int p[2];
    pipe(p);
    char cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = {(void *)"fd!", 3};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                         .msg_controllen = sizeof cbuf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &p[1], sizeof(int));
    SHOW("sendmsg", sendmsg(sv[0], &msg, 0));
    char data[8] = {0};
    char rbuf[CMSG_SPACE(sizeof(int))];
    struct iovec riov = {data, sizeof data};
    struct msghdr rmsg = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = rbuf,
                          .msg_controllen = sizeof rbuf};
    SHOW("recvmsg", recvmsg(sv[1], &rmsg, 0));
    struct cmsghdr *rc = CMSG_FIRSTHDR(&rmsg);
    int got = -1;
    if (rc && rc->cmsg_type == SCM_RIGHTS)
        memcpy(&got, CMSG_DATA(rc), sizeof got);
    printf("recvmsg data %s cmsg %d controllen ok %d\n", data, rc != NULL,
           rmsg.msg_controllen == CMSG_SPACE(sizeof(int)));
    write(got, "via-passed-fd", 13);
    close(got);
    close(p[1]);
    memset(buf, 0, sizeof buf);
    read(p[0], buf, sizeof buf);
    printf("passed fd wrote %s\n", buf);
    close(p[0]);
    shutdown(sv[0], SHUT_WR);
    SHOW("recv after shutdown", recv(sv[1], buf, sizeof buf, 0));
    close(sv[0]);
    close(sv[1]);

    /* AF_UNIX server and client */
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s/sock", dir);
    int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    printf("socket cloexec %d\n", fcntl(srv, F_GETFD));
    SHOW("bind", bind(srv, (struct sockaddr *)&addr, sizeof addr));
    SHOW("listen", listen(srv, 4));
    struct sockaddr_un name;
    len = sizeof name;
    SHOW("getsockname", getsockname(srv, (struct sockaddr *)&name, &len));
    CHECK("getsockname path", strcmp(name.sun_path, addr.sun_path) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        int c = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(c, (struct sockaddr *)&addr, sizeof addr) < 0)
            _exit(1);
        write(c, "hello server", 12);
        char r[32] = {0};
        read(c, r, sizeof r);
        _exit(strcmp(r, "hello client") == 0 ? 0 : 2);
    }
    struct sockaddr_un peer;
    len = sizeof peer;
    int conn = accept(srv, (struct sockaddr *)&peer, &len);
    CHECK("accept", conn >= 0);
    printf("accept peer family %d\n", peer.sun_family);
    memset(buf, 0, sizeof buf);
    read(conn, buf, sizeof buf);
    printf("server got %s\n", buf);
    write(conn, "hello client", 12);
    int status;
    waitpid(pid, &status, 0);
    printf("client code %d\n", WEXITSTATUS(status));
    close(conn);
    close(srv);
    int c = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un none = {.sun_family = AF_UNIX};
    snprintf(none.sun_path, sizeof none.sun_path, "%s/nobody", dir);
    SHOW("connect missing", connect(c, (struct sockaddr *)&none, sizeof none));
    close(c);
}

#ifdef __i386__
/* i386-only entry points glibc no longer uses: socketcall, the old select, _newselect,
 * waitpid, getdents, the 16-bit id calls. */
static void test_i386_legacy(const char *dir)
{
    int sv[2];
    unsigned long args[6] = {AF_UNIX, SOCK_STREAM, 0, (unsigned long)sv};
    SHOW("socketcall socketpair", syscall(SYS_socketcall, 8 /* SYS_SOCKETPAIR */, args));
    unsigned long sargs[4] = {sv[0], (unsigned long)"legacy", 6, 0};
    SHOW("socketcall send", syscall(SYS_socketcall, 9 /* SYS_SEND */, sargs));
    char buf[16] = {0};
    unsigned long rargs[4] = {sv[1], (unsigned long)buf, sizeof buf, 0};
    SHOW("socketcall recv", syscall(SYS_socketcall, 10 /* SYS_RECV */, rargs));
    printf("socketcall got %s\n", buf);
    SHOW("socketcall bad", syscall(SYS_socketcall, 99, args));
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(sv[0], &rs);
    struct timeval tv = {0, 1000};
    struct { unsigned long n; fd_set *in, *out, *ex; struct timeval *tv; } sel =
        {sv[0] + 1, &rs, NULL, NULL, &tv};
    SHOW("old select", syscall(SYS_select, &sel));
    FD_ZERO(&rs);
    FD_SET(sv[1], &rs);
    write(sv[0], "x", 1);
    tv.tv_usec = 1000;
    SHOW("_newselect", syscall(SYS__newselect, sv[1] + 1, &rs, NULL, NULL, &tv));
    close(sv[0]);
    close(sv[1]);
    pid_t pid = fork();
    if (pid == 0)
        _exit(9);
    int status = 0;
    SHOW("waitpid(7) same", syscall(SYS_waitpid, pid, &status, 0) == pid ? 0 : -1);
    printf("waitpid status %#x\n", status);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    char dents[4096];
    long n = syscall(SYS_getdents, fd, dents, sizeof dents);
    int count = 0;
    for (long pos = 0; pos < n; count++)
        pos += *(unsigned short *)(dents + pos + 8);
    printf("getdents entries %d\n", count);
    close(fd);
    CHECK("getuid16", syscall(SYS_getuid) == (long)(getuid() & 0xffff));
    SHOW("chown16 same", syscall(SYS_chown, dir, -1, -1));
}
#endif

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--exec-child") == 0)
        return exec_child_main(argc, argv);
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *dir = argv[1];
    test_fork_wait();
    test_exec_errors(dir);
    test_exec_child(argv[0]);
    test_fds(dir);
    test_files(dir);
    test_identity();
    test_sockets(dir);
#ifdef __i386__
    test_i386_legacy(dir);
#endif
    return 0;
}
