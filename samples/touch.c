/* Memory toucher: allocates argv[1] MiB (default 256) and writes one byte per 4 KiB page. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
    size_t size = mb << 20;
    unsigned char *p = malloc(size);
    if (!p) {
        printf("malloc(%zu MiB) failed\n", mb);
        return 1;
    }
    for (size_t off = 0; off < size; off += 4096)
        p[off] = (unsigned char)(off >> 12);
    unsigned long long sum = 0;
    for (size_t off = 0; off < size; off += 4096)
        sum += p[off];
    printf("touched %zu MiB, %zu pages, sum=%llu\n", mb, size / 4096, sum);
    free(p);
    return 0;
}
