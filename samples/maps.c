/* Prints /proc/self/maps (after a malloc, so that [heap] exists). */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
    char *volatile p = malloc(1000);
    if (!p)
        return 1;
    p[0] = 1;
    int fd = open("/proc/self/maps", O_RDONLY);
    if (fd < 0)
        return 2;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        if (write(1, buf, (size_t)n) != n)
            return 3;
    close(fd);
    free(p);
    return n < 0 ? 4 : 0;
}
