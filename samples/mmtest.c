/* Linux memory-management semantics, one line per check: mmap/munmap/mprotect/mremap/madvise/
 * brk/msync/mincore, file mappings, /proc/self/{maps,smaps,status,statm,cmdline,exe,auxv}.
 *
 * Everything printed must be the same natively (under `setarch -R`) and under pyexec: return
 * values and errno names, contents read back, /proc/self/maps lines of the regions created here
 * (the temporary file's inode and path normalized), mincore vectors, RSS deltas of pages this
 * program touched.
 *
 * `mmtest MODE` runs one crash check instead: segv-maperr, segv-accerr, sigbus-past-eof,
 * stack-growth-ok, stack-overflow, write-only-read, guard-page.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef MAP_32BIT
#define MAP_32BIT 0x40
#endif
#ifndef MREMAP_FIXED
#define MREMAP_FIXED 2
#endif
#ifndef MADV_DONTFORK
#define MADV_DONTFORK 10
#endif

#define P 4096UL
#define BIG (sizeof(void *) == 8)

static char path[256];
static char buf[1 << 17];

static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static const char *ename(int e)
{
    switch (e) {
    case 0: return "0";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case EOVERFLOW: return "EOVERFLOW";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: return "E?";
    }
}

static const char *rc(long r)
{
    static char out[64];
    if (r == -1)
        return ename(errno);
    snprintf(out, sizeof out, "%ld", r);
    return out;
}

static const char *mres(void *p)
{
    return p == MAP_FAILED ? ename(errno) : "ok";
}

static char *map(unsigned long addr, unsigned long len, int prot, int flags, int fd, off_t off)
{
    errno = 0;
    return mmap((void *)addr, len, prot, flags, fd, off);
}

static char *anon(unsigned long addr, unsigned long len, int prot, int extra)
{
    return map(addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);
}

static size_t slurp(const char *name)
{
    int fd = open(name, O_RDONLY);
    size_t n = 0;
    ssize_t r;
    if (fd < 0)
        return 0;
    while (n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    buf[n] = 0;
    return n;
}

/* The maps lines overlapping [lo, hi): raw, except the temporary file's / shmem's inode and
 * path, which differ between runs (the name's column is printed instead). */
static void show_maps(const char *tag, unsigned long lo, unsigned long hi)
{
    char *line, *save = NULL;
    slurp("/proc/self/maps");
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        unsigned long s, e;
        if (sscanf(line, "%lx-%lx", &s, &e) != 2 || e <= lo || s >= hi)
            continue;
        char *name = strchr(line, '/');
        if (name && (strcmp(name, path) == 0 || strncmp(name, "/dev/zero", 9) == 0)) {
            char head[128];
            unsigned long ino;
            int col = (int)(name - line);
            char perms[8], dev[16];
            unsigned long off;
            sscanf(line, "%*s %7s %lx %15s %lu", perms, &off, dev, &ino);
            snprintf(head, sizeof head, "%08lx-%08lx %s %08lx %s", s, e, perms, off, dev);
            say("%s: %s <ino%s> %s@%d", tag, head, ino ? "" : "=0",
                strcmp(name, path) == 0 ? "<file>" : name, col);
        } else {
            say("%s: %s", tag, line);
        }
    }
}

static int count_maps(unsigned long lo, unsigned long hi)
{
    int n = 0;
    char *line, *save = NULL;
    slurp("/proc/self/maps");
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        unsigned long s, e;
        if (sscanf(line, "%lx-%lx", &s, &e) == 2 && e > lo && s < hi)
            n++;
    }
    return n;
}

static long rss(void)
{
    long size = 0, res = -1;
    slurp("/proc/self/statm");
    sscanf(buf, "%ld %ld", &size, &res);
    return res;
}

/* A "Name:   N kB" field of /proc/self/status, or -1. */
static long status_kb(const char *field)
{
    char key[64];
    slurp("/proc/self/status");
    snprintf(key, sizeof key, "\n%s:", field);
    char *p = strstr(buf, key);
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* Lines of the smaps entry of the VMA starting at `start` whose names are listed. */
static void show_smaps(const char *tag, unsigned long start, const char *const *fields)
{
    char *line, *save = NULL;
    int in = 0;
    slurp("/proc/self/smaps");
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        unsigned long s, e;
        char c = line[0];
        if (((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) &&
            sscanf(line, "%lx-%lx", &s, &e) == 2 && strchr(line, ' ') > strchr(line, '-')) {
            in = s == start;
            continue;
        }
        if (!in)
            continue;
        for (const char *const *f = fields; *f; f++)
            if (strncmp(line, *f, strlen(*f)) == 0)
                say("%s: %s", tag, line);
    }
}

static void fill(char *p, unsigned long len, char c)
{
    for (unsigned long i = 0; i < len; i += P)
        p[i] = c;
}

static void firsts(const char *tag, const char *p, int pages)
{
    char out[64];
    int i;
    for (i = 0; i < pages && i < 63; i++) {
        char c = p[(unsigned long)i * P];
        out[i] = c ? c : '0';
    }
    out[i] = 0;
    say("%s: %s", tag, out);
}

static unsigned long base(void)
{
    return BIG ? (unsigned long)0x200000000ULL : 0x20000000UL;
}

static int make_file(void)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/mmtest-%d.dat", dir && *dir ? dir : "/tmp", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    for (int i = 0; i < 6000; i++) {
        char c = (char)('a' + i % 26);
        if (write(fd, &c, 1) != 1)
            return -1;
    }
    return fd;
}

/* ------------------------------------------------------------------------------- checks */

static void check_mmap_errors(int fd)
{
    say("mmap len 0: %s", mres(anon(0, 0, PROT_READ, 0)));
    say("mmap no type: %s", mres(map(0, P, PROT_READ, MAP_ANONYMOUS, -1, 0)));
    say("mmap anon shared_validate: %s",
        mres(map(0, P, PROT_READ, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1, 0)));
    say("mmap fixed misaligned: %s", mres(anon(base() + 1, P, PROT_READ, MAP_FIXED)));
    say("mmap bad fd: %s", mres(map(0, P, PROT_READ, MAP_PRIVATE, 999, 0)));
    say("mmap offset misaligned: %s", mres(map(0, P, PROT_READ, MAP_PRIVATE, fd, 100)));
    int ro = open(path, O_RDONLY), wo = open(path, O_WRONLY), dir = open("/", O_RDONLY);
    say("mmap shared write of O_RDONLY: %s",
        mres(map(0, P, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0)));
    say("mmap private of O_WRONLY: %s", mres(map(0, P, PROT_READ, MAP_PRIVATE, wo, 0)));
    say("mmap directory: %s", mres(map(0, P, PROT_READ, MAP_PRIVATE, dir, 0)));
    say("mmap shared_validate|sync: %s",
        mres(map(0, P, PROT_READ, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0)));
    char *p = map(0, P, PROT_READ, MAP_SHARED | MAP_SYNC, fd, 0);
    say("mmap shared|sync (ext4 without DAX): %s", mres(p));
    if (p != MAP_FAILED)
        munmap(p, P);
    say("mmap file growsdown: %s", mres(map(0, P, PROT_READ, MAP_PRIVATE | MAP_GROWSDOWN, fd, 0)));
    char *s = map(0, P, PROT_READ, MAP_SHARED, ro, 0);
    say("mmap shared read-only fd: %s", mres(s));
    show_maps("shared ro", (unsigned long)s, (unsigned long)s + P);
    show_smaps("shared ro", (unsigned long)s, (const char *const[]){"VmFlags", NULL});
    errno = 0;
    say("mprotect write on shared ro: %s", rc(mprotect(s, P, PROT_READ | PROT_WRITE)));
    munmap(s, P);
    close(ro);
    close(wo);
    close(dir);
}

static void check_placement(void)
{
    unsigned long b = base();
    char *h = anon(b + 0x100000 + 123, P, PROT_READ, 0);
    say("hint free: %#lx", (unsigned long)h - b);
    char *h2 = anon(b + 0x100000, P, PROT_READ, 0);
    say("hint busy: moved=%d at %#lx", h2 != h, (unsigned long)h2);
    char *low = anon(0x1000, P, PROT_READ, 0);
    say("hint below mmap_min_addr: %#lx", (unsigned long)low);
    munmap(h, P);
    munmap(h2, P);
    munmap(low, P);

    char *a = anon(0, 3 * P, PROT_READ | PROT_WRITE, 0);
    char *c = anon(0, 2 * P, PROT_READ | PROT_WRITE, 0);
    say("topdown: a=%#lx c=%#lx c+2P==a: %d", (unsigned long)a, (unsigned long)c,
        c + 2 * P == a);
    show_maps("topdown", (unsigned long)c, (unsigned long)a + 3 * P);
    munmap(c, 5 * P);

    char *t = anon(0, P, PROT_READ, MAP_32BIT);
    char *t2 = anon(0, P, PROT_READ, MAP_32BIT);
    say("map_32bit: %#lx %#lx", (unsigned long)t, (unsigned long)t2);
    show_maps("map_32bit", (unsigned long)t, (unsigned long)t2 + P);
    munmap(t, P);
    munmap(t2, P);

    char *thp = anon(0, 4UL << 20, PROT_READ | PROT_WRITE, 0);
    char *odd = anon(0, (4UL << 20) + P, PROT_READ | PROT_WRITE, 0);
    say("4M at %#lx (2M aligned %d), 4M+4K at %#lx", (unsigned long)thp,
        ((unsigned long)thp & ((2UL << 20) - 1)) == 0, (unsigned long)odd);
    munmap(thp, 4UL << 20);
    munmap(odd, (4UL << 20) + P);

    char *g = anon(0, 4 * P, PROT_READ | PROT_WRITE, MAP_GROWSDOWN);
    say("growsdown: %s at %#lx", mres(g), (unsigned long)g);
    g[-1] = 1;                       /* a fault just below grows it (expand_stack) */
    show_maps("growsdown grown", (unsigned long)g - P, (unsigned long)g + 4 * P);
    char *below = anon(0, P, PROT_READ | PROT_WRITE, 0);
    say("growsdown gap to next mapping: %#lx", (unsigned long)(g - P) - (unsigned long)(below + P));
    show_smaps("growsdown", (unsigned long)g - P, (const char *const[]){"VmFlags", NULL});
    munmap(g - P, 5 * P);
    munmap(below, P);

    char *nr = anon(0, P, PROT_READ | PROT_WRITE, MAP_NORESERVE);
    show_maps("noreserve", (unsigned long)nr, (unsigned long)nr + P);
    show_smaps("noreserve", (unsigned long)nr, (const char *const[]){"VmFlags", NULL});
    munmap(nr, P);

    unsigned long huge = BIG ? 64UL << 30 : 1UL << 30;
    long r0 = rss(), v0 = status_kb("VmSize");
    char *res = anon(0, huge, PROT_NONE, MAP_NORESERVE);
    long r1 = rss(), v1 = status_kb("VmSize");
    say("huge PROT_NONE reservation: %s, rss %+ld, VmSize %+ld kB", mres(res), r1 - r0, v1 - v0);
    show_smaps("huge", (unsigned long)res, (const char *const[]){"Size", "Rss", "VmFlags", NULL});
    munmap(res, huge);

    char *f = anon(b, 4 * P, PROT_READ | PROT_WRITE, MAP_FIXED);
    fill(f, 4 * P, 'A');
    char *f2 = anon(b + P, 2 * P, PROT_READ | PROT_WRITE, MAP_FIXED);
    say("fixed replace: %d", f2 == f + P);
    firsts("fixed replace contents", f, 4);
    show_maps("fixed replace", b, b + 4 * P);
    char *nr1 = anon(b + 2 * P, P, PROT_READ, MAP_FIXED_NOREPLACE);
    say("fixed_noreplace busy: %s", mres(nr1));
    char *nr2 = anon(b + 8 * P, P, PROT_READ, MAP_FIXED_NOREPLACE);
    say("fixed_noreplace free: %s %d", mres(nr2), nr2 == (char *)(b + 8 * P));
    char *nr3 = anon(b + 2 * P, P, PROT_READ, MAP_FIXED_NOREPLACE | MAP_FIXED);
    say("fixed_noreplace|fixed busy: %s", mres(nr3));
    munmap(f, 16 * P);

    r0 = rss();
    char *pop = anon(0, 8 * P, PROT_READ | PROT_WRITE, MAP_POPULATE);
    r1 = rss();
    say("populate: %s, rss %+ld", mres(pop), r1 - r0);
    munmap(pop, 8 * P);
    r0 = rss();
    say("munmap populated: rss %+ld", rss() - r0);
}

static void check_files(int fd)
{
    char tmp[64];
    char *m = map(0, 3 * P, PROT_READ, MAP_PRIVATE, fd, 0);
    say("file map: %s", mres(m));
    show_maps("file", (unsigned long)m, (unsigned long)m + 3 * P);
    int zero = 1;
    for (unsigned long i = 6000; i < 2 * P; i++)
        zero &= m[i] == 0;
    say("file bytes: %c%c..%c, past EOF in last page zero: %d", m[0], m[1], m[5999], zero);
    unsigned char vec[4] = {9, 9, 9, 9};
    errno = 0;
    int r = mincore(m, 3 * P, vec);
    say("mincore file: %s %d%d%d", rc(r), vec[0], vec[1], vec[2]);
    munmap(m, 3 * P);

    char *pw = map(0, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    long r0 = rss();
    pw[0] = 'Z';
    long r1 = rss();
    if (pread(fd, tmp, 1, 0) != 1)
        tmp[0] = '?';
    say("private write: map=%c file=%c rss %+ld", pw[0], tmp[0], r1 - r0);
    errno = 0;
    r = madvise(pw, 2 * P, MADV_DONTNEED);
    say("madvise dontneed private file: %s, reread=%c", rc(r), pw[0]);
    show_maps("private file", (unsigned long)pw, (unsigned long)pw + 2 * P);
    munmap(pw, 2 * P);

    char *sh = map(0, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    say("shared map: %s", mres(sh));
    show_maps("shared", (unsigned long)sh, (unsigned long)sh + 2 * P);
    show_smaps("shared", (unsigned long)sh, (const char *const[]){"VmFlags", NULL});
    memcpy(sh + 10, "XYZ", 3);
    tmp[3] = 0;
    if (pread(fd, tmp, 3, 10) != 3)
        strcpy(tmp, "???");
    say("shared store seen by read(): %s", tmp);
    errno = 0;
    say("msync: %s", rc(msync(sh, 2 * P, MS_SYNC)));
    if (pwrite(fd, "pw", 2, 100) != 2)
        say("pwrite failed");
    say("pwrite seen through shared map: %c%c", sh[100], sh[101]);
    memcpy(sh + 20, "QQ", 2);
    munmap(sh, 2 * P);
    if (pread(fd, tmp, 2, 20) != 2)
        strcpy(tmp, "??");
    tmp[2] = 0;
    say("after munmap file has: %s", tmp);

    char *an = map(0, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    show_maps("shared anon", (unsigned long)an, (unsigned long)an + 2 * P);
    an[5] = 'S';
    errno = 0;
    r = madvise(an, 2 * P, MADV_DONTNEED);
    say("shared anon after dontneed: %s %c", rc(r), an[5] ? an[5] : '0');
    munmap(an, 2 * P);
}

static void check_munmap(void)
{
    unsigned long b = base() + 0x40 * P;
    errno = 0;
    say("munmap misaligned: %s", rc(munmap((void *)(b + 1), P)));
    errno = 0;
    say("munmap len 0: %s", rc(munmap((void *)b, 0)));
    char *m = anon(b, 5 * P, PROT_READ | PROT_WRITE, MAP_FIXED);
    fill(m, 5 * P, 'm');
    errno = 0;
    say("munmap middle: %s", rc(munmap(m + 2 * P, P)));
    show_maps("split", b, b + 5 * P);
    errno = 0;
    say("munmap hole: %s", rc(munmap(m + 2 * P, P)));
    errno = 0;
    say("munmap across: %s", rc(munmap(m + P, 3 * P)));
    show_maps("across", b, b + 5 * P);
    munmap(m, 5 * P);

    char *x = anon(b, 6 * P, PROT_READ | PROT_WRITE, MAP_FIXED);
    fill(x, 6 * P, 'x');
    mprotect(x, 2 * P, PROT_READ);
    mprotect(x + 4 * P, 2 * P, PROT_READ);
    say("three vmas: %d", count_maps(b, b + 6 * P));
    errno = 0;
    say("munmap spanning three: %s", rc(munmap(x + P, 4 * P)));
    show_maps("spanning", b, b + 6 * P);
    munmap(x, 6 * P);

    char *y = anon(0, 8 * P, PROT_READ | PROT_WRITE, 0);
    fill(y, 8 * P, 'y');
    long r0 = rss();
    munmap(y, 8 * P);
    say("munmap rss: %+ld", rss() - r0);
}

static void check_mprotect(void)
{
    unsigned long b = base() + 0x60 * P;
    errno = 0;
    say("mprotect misaligned: %s", rc(mprotect((void *)(b + 1), P, PROT_READ)));
    errno = 0;
    say("mprotect unmapped: %s", rc(mprotect((void *)b, P, PROT_READ)));
    errno = 0;
    say("mprotect bad prot: %s", rc(mprotect((void *)b, P, 0x100)));
    char *m = anon(b, 3 * P, PROT_READ | PROT_WRITE, MAP_FIXED);
    munmap(m + P, P);
    errno = 0;
    say("mprotect over hole: %s", rc(mprotect(m, 3 * P, PROT_READ)));
    show_maps("hole", b, b + 3 * P);
    munmap(m, 3 * P);

    char *s = anon(b, 4 * P, PROT_READ | PROT_WRITE, MAP_FIXED);
    fill(s, 4 * P, 's');
    mprotect(s + P, P, PROT_READ);
    show_maps("split", b, b + 4 * P);
    mprotect(s + P, P, PROT_READ | PROT_WRITE);
    show_maps("remerged", b, b + 4 * P);
    mprotect(s, 4 * P, PROT_NONE);
    mprotect(s, 4 * P, PROT_READ | PROT_WRITE);
    firsts("contents after none/rw", s, 4);
    munmap(s, 4 * P);

    char *u = anon(b, 3 * P, PROT_READ, MAP_FIXED);
    mprotect(u + P, P, PROT_READ | PROT_WRITE);
    show_smaps("account rw", b + P, (const char *const[]){"VmFlags", NULL});
    mprotect(u + P, P, PROT_READ);
    say("account untouched back to r: %d vmas", count_maps(b, b + 3 * P));
    mprotect(u + P, P, PROT_READ | PROT_WRITE);
    u[P] = 1;
    mprotect(u + P, P, PROT_READ);
    say("account touched back to r: %d vmas", count_maps(b, b + 3 * P));
    show_maps("account", b, b + 3 * P);
    munmap(u, 3 * P);

    char *t = anon(b, P, PROT_READ, MAP_FIXED);
    volatile char v = t[0];
    (void)v;
    mprotect(t, P, PROT_READ | PROT_WRITE);
    t[0] = 'w';
    say("write after mprotect rw (tlb): %c", t[0]);
    munmap(t, P);

    char *g = anon(b, 3 * P, PROT_READ | PROT_WRITE, MAP_FIXED);
    errno = 0;
    say("guard page: %s", rc(mprotect(g + P, P, PROT_NONE)));
    show_maps("guard", b, b + 3 * P);
    munmap(g, 3 * P);

    char *w = anon(0, P, PROT_WRITE, 0);
    w[0] = 'q';
    show_maps("write-only", (unsigned long)w, (unsigned long)w + P);
    say("write-only mapping reads back: %c", *(volatile char *)w);
    munmap(w, P);
}

static void check_mremap(void)
{
    unsigned long b = base() + 0x80 * P;
    errno = 0;
    say("mremap misaligned: %s", mres(mremap((void *)(b + 1), P, 2 * P, 0)));
    errno = 0;
    say("mremap fixed without maymove: %s",
        mres(mremap((void *)b, P, P, MREMAP_FIXED, (void *)(b + 0x10 * P))));
    errno = 0;
    say("mremap unmapped: %s", mres(mremap((void *)b, P, 2 * P, 0)));
    char *m = anon(b, 2 * P, PROT_READ | PROT_WRITE, MAP_FIXED);
    errno = 0;
    say("mremap new_len 0: %s", mres(mremap(m, 2 * P, 0, 0)));
    fill(m, 2 * P, 'g');
    m[1] = 'h';
    char *g = mremap(m, 2 * P, 4 * P, 0);
    say("mremap grow in place: %s same=%d", mres(g), g == m);
    firsts("grown contents", m, 4);
    show_maps("grown", b, b + 4 * P);
    char *sh = mremap(m, 4 * P, P, 0);
    say("mremap shrink: %s same=%d", mres(sh), sh == m);
    show_maps("shrunk", b, b + 4 * P);
    errno = 0;
    say("mremap beyond vma: %s", mres(mremap(m, 3 * P, 4 * P, MREMAP_MAYMOVE)));

    char *blk = anon(b + P, P, PROT_READ, MAP_FIXED);
    errno = 0;
    say("mremap grow blocked: %s", mres(mremap(m, P, 2 * P, 0)));
    long r0 = rss();
    char *mv = mremap(m, P, 3 * P, MREMAP_MAYMOVE);
    long r1 = rss();
    say("mremap maymove: %s moved=%d at %#lx, rss %+ld", mres(mv), mv != m, (unsigned long)mv,
        r1 - r0);
    say("moved contents: %c%c %c", mv[0], mv[1], mv[P] ? mv[P] : '0');
    show_maps("old place", b, b + 2 * P);
    show_maps("new place", (unsigned long)mv, (unsigned long)mv + 3 * P);
    char *fx = mremap(mv, 3 * P, 3 * P, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)(b + 0x20 * P));
    say("mremap fixed: %s at +%#lx contents %c%c", mres(fx), (unsigned long)fx - b, fx[0], fx[1]);
    errno = 0;
    say("mremap fixed overlapping: %s",
        mres(mremap(fx, 3 * P, 3 * P, MREMAP_MAYMOVE | MREMAP_FIXED, fx + P)));
    /* A moved, faulted VMA keeps its pgoff/anon_vma: it does not merge with a neighbour. */
    char *nb = anon(b + 0x30 * P, P, PROT_READ | PROT_WRITE, MAP_FIXED);
    nb[0] = 'n';
    char *fx2 = mremap(fx, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)(b + 0x31 * P));
    say("moved next to a neighbour: %s, %d vmas", mres(fx2), count_maps(b + 0x30 * P, b + 0x32 * P));
    show_maps("neighbour", b + 0x30 * P, b + 0x32 * P);
    munmap((void *)b, 0x40 * P);
    (void)blk;
}

static void check_madvise(void)
{
    char *m = anon(0, 4 * P, PROT_READ | PROT_WRITE, 0);
    fill(m, 4 * P, 'd');
    long r0 = rss();
    errno = 0;
    int r = madvise(m, 4 * P, MADV_DONTNEED);
    long r1 = rss();
    say("madvise dontneed anon: %s, rss %+ld", rc(r), r1 - r0);
    firsts("after dontneed", m, 4);
    errno = 0;
    say("madvise misaligned: %s", rc(madvise(m + 1, P, MADV_DONTNEED)));
    errno = 0;
    say("madvise bad advice: %s", rc(madvise(m, P, 999)));
    munmap(m + 2 * P, P);
    errno = 0;
    say("madvise over hole: %s", rc(madvise(m, 4 * P, MADV_NORMAL)));
    errno = 0;
    say("madvise dontfork: %s", rc(madvise(m + P, P, MADV_DONTFORK)));
    show_maps("dontfork", (unsigned long)m, (unsigned long)m + 4 * P);
    show_smaps("dontfork", (unsigned long)m + P, (const char *const[]){"VmFlags", NULL});
    munmap(m, 4 * P);
    errno = 0;
    say("madvise unmapped: %s", rc(madvise(m, 4 * P, MADV_DONTNEED)));
}

static void check_brk(void)
{
    unsigned long b0 = (unsigned long)syscall(SYS_brk, 0);
    unsigned long b1 = (unsigned long)syscall(SYS_brk, b0 + 3 * P);
    say("brk grow: %+ld", (long)(b1 - b0));
    ((volatile char *)b0)[0] = 1;
    ((volatile char *)b1)[-1] = 1;
    show_maps("heap", b0 + 3 * P - 1, b0 + 3 * P);
    unsigned long b2 = (unsigned long)syscall(SYS_brk, 1);
    say("brk below start returns current: %d", b2 == b1);
    unsigned long b3 = (unsigned long)syscall(SYS_brk, b0 + 100);
    say("brk shrink: %+ld", (long)(b3 - b0));
    unsigned long b4 = (unsigned long)syscall(SYS_brk, b0);
    say("brk back: %d, maps lines at old top: %d", b4 == b0, count_maps(b0 + 2 * P, b0 + 3 * P));
    unsigned long top = (unsigned long)(BIG ? 0x7ffffffff000ULL : 0xfffff000UL);
    unsigned long b5 = (unsigned long)syscall(SYS_brk, top);
    say("brk into the stack refused: %d", b5 == b0);
}

static void check_msync_mincore(void)
{
    char *m = anon(0, 4 * P, PROT_READ | PROT_WRITE, 0);
    errno = 0;
    say("msync anon: %s", rc(msync(m, 4 * P, MS_SYNC)));
    errno = 0;
    say("msync misaligned: %s", rc(msync(m + 1, P, MS_SYNC)));
    errno = 0;
    say("msync bad flags: %s", rc(msync(m, P, MS_SYNC | MS_ASYNC)));
    m[0] = 1;
    volatile char v = m[2 * P];
    (void)v;
    unsigned char vec[4] = {9, 9, 9, 9};
    errno = 0;
    int r = mincore(m, 4 * P, vec);
    say("mincore anon: %s %d%d%d%d", rc(r), vec[0], vec[1], vec[2], vec[3]);
    errno = 0;
    say("mincore misaligned: %s", rc(mincore(m + 1, P, vec)));
    munmap(m + 3 * P, P);
    errno = 0;
    r = mincore(m, 4 * P, vec);
    say("mincore with hole: %s %d%d%d", rc(r), vec[0], vec[1], vec[2]);
    errno = 0;
    say("msync with hole: %s", rc(msync(m, 4 * P, MS_ASYNC)));
    munmap(m, 4 * P);
    errno = 0;
    say("msync unmapped: %s", rc(msync(m, 4 * P, MS_SYNC)));
}

static void check_proc(int argc, char **argv)
{
    static char self[1 << 17];
    char name[64];
    size_t n = slurp("/proc/self/maps");
    memcpy(self, buf, n + 1);
    snprintf(name, sizeof name, "/proc/%d/maps", (int)getpid());
    slurp(name);
    say("/proc/<pid>/maps == /proc/self/maps: %d", strcmp(self, buf) == 0);

    /* Every smaps entry: Size equals its range, Rss within Size; as many as maps lines. */
    int entries = 0, good = 1, lines = 0;
    for (char *p = self; *p; p++)
        lines += *p == '\n';
    slurp("/proc/self/smaps");
    unsigned long s = 0, e = 0;
    long size = -1;
    char *line, *save = NULL;
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        long v;
        if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strstr(line, " ") > strstr(line, "-")) {
            entries++;
        } else if (sscanf(line, "Size: %ld kB", &v) == 1) {
            size = v;
            good &= (unsigned long)v * 1024 == e - s;
        } else if (sscanf(line, "Rss: %ld kB", &v) == 1) {
            good &= v <= size;
        }
    }
    say("smaps entries == maps lines: %d, sizes consistent: %d", entries == lines, good);

    char *m = anon(0, 8 * P, PROT_READ | PROT_WRITE, 0);
    m[0] = m[P] = m[2 * P] = 1;
    volatile char v = m[3 * P];
    (void)v;
    show_smaps("smaps 8 pages, 3 written, 1 read", (unsigned long)m,
               (const char *const[]){"Size", "Rss", "Pss:", "Private_Dirty", "Anonymous",
                                     "Swap:", "VmFlags", NULL});
    munmap(m, 8 * P);

    static const char *const fields[] = {"VmPeak", "VmSize", "VmLck", "VmPin", "VmHWM",
                                         "VmRSS", "RssAnon", "RssFile", "RssShmem", "VmData",
                                         "VmStk", "VmExe", "VmLib", "VmPTE", "VmSwap", NULL};
    int all = 1;
    for (const char *const *f = fields; *f; f++)
        all &= status_kb(*f) >= 0;
    say("status Vm fields present: %d", all);
    say("status VmStk: %ld kB, VmExe: %ld kB", status_kb("VmStk"), status_kb("VmExe"));
    long d0 = status_kb("VmData"), s0 = status_kb("VmSize");
    char *d = anon(0, 10 * P, PROT_READ | PROT_WRITE, 0);
    char *ro = anon(0, 10 * P, PROT_READ, 0);
    say("VmData %+ld kB, VmSize %+ld kB after 10+10 pages", status_kb("VmData") - d0,
        status_kb("VmSize") - s0);
    long r0 = status_kb("VmRSS");
    fill(d, 10 * P, 1);
    say("VmRSS %+ld kB after writing 10 pages", status_kb("VmRSS") - r0);
    long rs = rss(), vr = status_kb("VmRSS");
    say("VmRSS == statm resident * 4: %d, VmHWM >= VmRSS: %d", vr == rss() * 4 || vr == rs * 4,
        status_kb("VmHWM") >= status_kb("VmRSS"));
    munmap(d, 10 * P);
    munmap(ro, 10 * P);
    slurp("/proc/self/status");
    char *nm = strstr(buf, "Name:\t");
    char *nl = nm ? strchr(nm, '\n') : NULL;
    if (nl)
        *nl = 0;
    const char *base_name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    say("status Name is the program: %d", nm && strncmp(nm + 6, base_name, 15) == 0);

    n = slurp("/proc/self/cmdline");
    for (size_t i = 0; i < n; i++)
        if (!buf[i])
            buf[i] = '|';
    say("cmdline args after argv[0]: %s", strchr(buf, '|') ? strchr(buf, '|') : "");
    (void)argc;

    char exe[PATH_MAX], real[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[k > 0 ? k : 0] = 0;
    say("/proc/self/exe is argv[0]: %d", realpath(argv[0], real) && strcmp(real, exe) == 0);
    n = slurp("/proc/self/auxv");
    unsigned long pagesz = 0;
    for (size_t i = 0; i + 2 * sizeof(unsigned long) <= n; i += 2 * sizeof(unsigned long)) {
        unsigned long key, val;
        memcpy(&key, buf + i, sizeof key);
        memcpy(&val, buf + i + sizeof key, sizeof val);
        if (key == AT_PAGESZ)
            pagesz = val;
    }
    say("/proc/self/auxv AT_PAGESZ: %lu (getauxval %lu)", pagesz, getauxval(AT_PAGESZ));
}

/* ---------------------------------------------------------------------------- crash modes */

static int recurse(int depth)
{
    volatile char frame[4000];
    frame[0] = (char)depth;
    frame[3999] = (char)depth;
    if (depth == 0)
        return frame[0];
    return recurse(depth - 1) + frame[3999];
}

static int crash(const char *mode)
{
    if (strcmp(mode, "segv-maperr") == 0) {
        char *m = anon(0, P, PROT_READ | PROT_WRITE, 0);
        munmap(m, P);
        say("touching an unmapped page");
        *(volatile char *)m = 1;
    } else if (strcmp(mode, "segv-accerr") == 0) {
        char *m = anon(0, P, PROT_READ | PROT_WRITE, 0);
        m[0] = 1;
        mprotect(m, P, PROT_READ);
        say("writing a page made read-only (the TLB must not keep it writable)");
        *(volatile char *)m = 2;
    } else if (strcmp(mode, "sigbus-past-eof") == 0) {
        int fd = make_file();
        char *m = map(0, 3 * P, PROT_READ, MAP_PRIVATE, fd, 0);
        unlink(path);
        say("last byte %c, reading a page wholly past EOF", m[5999]);
        return *(volatile char *)(m + 2 * P);
    } else if (strcmp(mode, "stack-growth-ok") == 0) {
        say("recursing over about 1 MB of stack");
        int r = recurse(256);
        say("stack growth ok: %d", r != -1);
        return 0;
    } else if (strcmp(mode, "stack-overflow") == 0) {
        volatile char here = 0;
        volatile char *far = (volatile char *)((uintptr_t)&here - (64UL << 20));
        say("touching 64 MB below the stack pointer");
        *far = 1;
    } else if (strcmp(mode, "write-only-read") == 0) {
        char *m = anon(0, P, PROT_WRITE, 0);
        m[7] = 'r';
        say("write-only page reads: %c", *(volatile char *)(m + 7));
        return 0;
    } else if (strcmp(mode, "guard-page") == 0) {
        char *m = anon(0, 3 * P, PROT_READ | PROT_WRITE, 0);
        mprotect(m + P, P, PROT_NONE);
        say("reading a PROT_NONE guard page");
        return *(volatile char *)(m + P);
    } else {
        say("unknown mode %s", mode);
        return 2;
    }
    say("still alive?");
    return 1;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return crash(argv[1]);
    int fd = make_file();
    if (fd < 0) {
        say("cannot create %s", path);
        return 1;
    }
    rss();                  /* warm up the reading path before measuring deltas */
    status_kb("VmRSS");
    check_mmap_errors(fd);
    check_placement();
    check_files(fd);
    check_munmap();
    check_mprotect();
    check_mremap();
    check_madvise();
    check_brk();
    check_msync_mincore();
    check_proc(argc, argv);
    close(fd);
    unlink(path);
    say("done");
    return 0;
}
