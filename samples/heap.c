/* malloc/calloc/realloc/free of small and large (mmap-backed) blocks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSMALL 20000
#define NLARGE 16

static uint64_t sum;

static void mix(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sum = sum * 31 + p[i];
}

int main(void)
{
    static unsigned char *small[NSMALL];
    unsigned char *large[NLARGE];
    uint32_t seed = 12345;

    for (int i = 0; i < NSMALL; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 16) % 200;
        small[i] = malloc(n);
        if (!small[i])
            return 1;
        memset(small[i], i & 0xff, n);
    }
    for (int i = 0; i < NSMALL; i += 2) {
        free(small[i]);
        small[i] = NULL;
    }
    for (int i = 1; i < NSMALL; i += 2) {
        unsigned char *p = realloc(small[i], 300);
        if (!p)
            return 1;
        p[299] = (unsigned char)i;
        small[i] = p;
        mix(p, 1);
        mix(p + 299, 1);
    }

    for (int i = 0; i < NLARGE; i++) {
        size_t n = (size_t)(i + 1) * 160 * 1024; /* > 128 KiB: mmap threshold */
        large[i] = i % 2 ? calloc(n, 1) : malloc(n);
        if (!large[i])
            return 1;
        if (i % 2)
            mix(large[i] + n / 2, 1); /* calloc'ed: must read as 0 */
        for (size_t j = 0; j < n; j += 4096)
            large[i][j] = (unsigned char)(j >> 12);
        mix(large[i] + n - 4096 * 2, 4096);
    }
    large[3] = realloc(large[3], 8u << 20);
    if (!large[3])
        return 1;
    large[3][(8u << 20) - 1] = 0x5a;
    mix(large[3], 4096);
    mix(large[3] + (8u << 20) - 1, 1);

    unsigned *z = calloc(100000, sizeof *z);
    if (!z)
        return 1;
    for (int i = 0; i < 100000; i++)
        sum += z[i];
    free(z);

    for (int i = 0; i < NLARGE; i++)
        free(large[i]);
    for (int i = 0; i < NSMALL; i++)
        free(small[i]);

    printf("heap checksum: %016llx\n", (unsigned long long)sum);
    return 0;
}
