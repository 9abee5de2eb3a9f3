/* File I/O round trip in the directory argv[1] (default /tmp). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static void die(const char *what)
{
    printf("%s failed: %s\n", what, strerror(errno));
    exit(1);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char path[4096];
    char buf[256];
    struct stat st;

    snprintf(path, sizeof path, "%s/pyexec-files-XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0)
        die("mkstemp");

    const char msg[] = "The quick brown fox jumps over the lazy dog\n";
    ssize_t n = write(fd, msg, sizeof msg - 1);
    printf("write: %zd\n", n);

    off_t off = lseek(fd, 0, SEEK_CUR);
    printf("lseek cur: %ld\n", (long)off);
    off = lseek(fd, 4, SEEK_SET);
    printf("lseek set: %ld\n", (long)off);
    n = read(fd, buf, 5);
    printf("read: %zd \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);
    off = lseek(fd, -4, SEEK_END);
    n = read(fd, buf, sizeof buf);
    printf("read at end-4: %zd \"%.*s\"\n", n, (int)(n > 0 ? n - 1 : 0), buf);
    n = read(fd, buf, sizeof buf);
    printf("read at eof: %zd\n", n);

    if (fstat(fd, &st) < 0)
        die("fstat");
    printf("fstat size: %ld regular: %d\n", (long)st.st_size, S_ISREG(st.st_mode) ? 1 : 0);

    n = pread(fd, buf, 3, 10);
    printf("pread: %zd \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);
    printf("offset after pread: %ld\n", (long)lseek(fd, 0, SEEK_CUR));

    char a[] = "[iov-one]", b[] = "[iov-two]\n";
    struct iovec wv[2] = {{a, sizeof a - 1}, {b, sizeof b - 1}};
    n = writev(fd, wv, 2);
    printf("writev: %zd\n", n);

    char r1[10] = {0}, r2[32] = {0};
    struct iovec rv[2] = {{r1, sizeof r1 - 1}, {r2, sizeof r2 - 1}};
    lseek(fd, (off_t)(sizeof msg - 1), SEEK_SET);
    n = readv(fd, rv, 2);
    printf("readv: %zd \"%s\" \"%.*s\"\n", n, r1, (int)strcspn(r2, "\n"), r2);

    if (stat(path, &st) < 0)
        die("stat");
    printf("stat size: %ld\n", (long)st.st_size);

    if (close(fd) < 0)
        die("close");
    if (unlink(path) < 0)
        die("unlink");
    errno = 0;
    int rc = stat(path, &st);
    printf("stat after unlink: %d %s\n", rc, strerror(errno));

    errno = 0;
    fd = open("/nonexistent-pyexec-dir/missing-file", O_RDONLY);
    printf("open missing: %d %s\n", fd, strerror(errno));
    errno = 0;
    rc = close(12345);
    printf("close bad fd: %d %s\n", rc, strerror(errno));
    return 0;
}
