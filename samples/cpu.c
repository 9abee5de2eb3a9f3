/* CPU-bound benchmark: integer hashing plus a small sieve; argv[1] = rounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t hash32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static unsigned sieve(unsigned char *composite, unsigned n)
{
    unsigned count = 0;
    memset(composite, 0, n);
    for (unsigned i = 2; i < n; i++) {
        if (composite[i])
            continue;
        count++;
        for (unsigned j = i * 2; j < n; j += i)
            composite[j] = 1;
    }
    return count;
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? atol(argv[1]) : 70;
    static unsigned char composite[65536];
    uint32_t h = 1;
    uint64_t primes = 0;

    for (long r = 0; r < rounds; r++) {
        for (uint32_t i = 0; i < 1000000; i++)
            h = hash32(h + i);
        primes += sieve(composite, sizeof composite);
    }
    printf("rounds=%ld hash=%08x primes=%llu\n", rounds, (unsigned)h, (unsigned long long)primes);
    return 0;
}
