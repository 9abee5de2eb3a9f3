/* Exact guest instruction counting per translated block, as a Unicorn UC_HOOK_BLOCK callback.
 *
 * emulator/icount.py registers icount_block() with uc_hook_add and passes a `struct icount`
 * as user data. Each block is decoded once (in Python, with capstone, through the `miss`
 * callback); here an open-addressing hash maps (address, size) to its instruction count, so a
 * block that ran before costs one lookup. The hook adds the count when the block is entered;
 * when the CPU leaves a block early (a fault, a stop request, a breakpoint), Python corrects
 * the total from the block it finds in last_addr/last_size/last_counted (icount.py: settle).
 *
 * A rep-prefixed string instruction is one instruction however often it repeats (the CPU's
 * instructions-retired event counts it once): QEMU translates each repetition as a block of
 * that single instruction jumping back to itself, which is recognised as a block flagged
 * REP_ONLY whose end is the end of the block before it, and counts 0.
 *
 * With a limit set, a block that would take the total past it is not entered: the hook sets
 * limit_hit and stops the CPU before the block's first instruction (Unicorn checks for a stop
 * request right after the block hook); Python then runs the remaining instructions of that
 * block up to an exit address. bypass_addr lets that one block through once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REP_ONLY 0x80000000u

typedef uint32_t (*miss_fn)(uint64_t addr, uint32_t size);
typedef int (*stop_fn)(void *uc);

struct entry {
    uint64_t addr;
    uint32_t size;     /* 0: empty slot */
    uint32_t value;    /* instruction count | REP_ONLY */
};

struct icount {
    uint64_t total;          /* instructions retired so far (after settle) */
    uint64_t limit;          /* 0: none */
    uint64_t last_addr;      /* the block entered last */
    uint64_t prev_end;       /* end address of the block entered before it */
    uint64_t kernel_base;    /* blocks at or above it are pyexec's own (not counted) */
    uint64_t bypass_addr;    /* a block to let through the limit once */
    uint64_t blocks;         /* hook calls (statistics) */
    uint64_t misses;         /* blocks decoded */
    uint32_t last_size;      /* 0: nothing to settle */
    uint32_t last_counted;   /* what the last block added to total */
    uint32_t limit_hit;      /* set when the limit stopped the CPU before a block */
    uint32_t pad;
    miss_fn miss;
    stop_fn stop;
    struct entry *table;
    uint64_t mask;           /* capacity - 1 */
    uint64_t used;
};

static inline uint64_t slot_of(uint64_t addr, uint32_t size, uint64_t mask)
{
    uint64_t h = (addr ^ ((uint64_t)size << 48)) * 0x9E3779B97F4A7C15ull;
    return (h >> 20) & mask;
}

static int grow(struct icount *ic)
{
    uint64_t cap = (ic->mask + 1) * 2;
    struct entry *t = calloc(cap, sizeof *t);
    if (t == NULL)
        return -1;
    for (uint64_t i = 0; i <= ic->mask; i++) {
        struct entry *e = &ic->table[i];
        if (e->size == 0)
            continue;
        uint64_t j = slot_of(e->addr, e->size, cap - 1);
        while (t[j].size != 0)
            j = (j + 1) & (cap - 1);
        t[j] = *e;
    }
    free(ic->table);
    ic->table = t;
    ic->mask = cap - 1;
    return 0;
}

int icount_init(struct icount *ic, uint64_t capacity)
{
    uint64_t cap = 1024;
    while (cap < capacity)
        cap *= 2;
    ic->table = calloc(cap, sizeof *ic->table);
    if (ic->table == NULL)
        return -1;
    ic->mask = cap - 1;
    ic->used = 0;
    return 0;
}

void icount_clear(struct icount *ic)
{
    if (ic->table != NULL)
        memset(ic->table, 0, (ic->mask + 1) * sizeof *ic->table);
    ic->used = 0;
}

void icount_free(struct icount *ic)
{
    free(ic->table);
    ic->table = NULL;
    ic->mask = 0;
    ic->used = 0;
}

static uint32_t lookup(struct icount *ic, uint64_t addr, uint32_t size)
{
    uint64_t mask = ic->mask;
    uint64_t i = slot_of(addr, size, mask);
    struct entry *t = ic->table;
    while (t[i].size != 0) {
        if (t[i].addr == addr && t[i].size == size)
            return t[i].value;
        i = (i + 1) & mask;
    }
    uint32_t value = ic->miss(addr, size);
    ic->misses++;
    if ((ic->used + 1) * 2 > mask + 1) {
        if (grow(ic) == 0) {
            mask = ic->mask;
            t = ic->table;
            i = slot_of(addr, size, mask);
            while (t[i].size != 0)
                i = (i + 1) & mask;
        } else {
            return value;       /* out of memory: count it, do not cache it */
        }
    }
    t[i].addr = addr;
    t[i].size = size;
    t[i].value = value;
    ic->used++;
    return value;
}

void icount_block(void *uc, uint64_t addr, uint32_t size, void *user)
{
    struct icount *ic = user;
    if (addr >= ic->kernel_base || size == 0)
        return;
    ic->blocks++;
    uint32_t value = lookup(ic, addr, size);
    uint32_t n = value & ~REP_ONLY;
    uint64_t end = addr + size;
    if ((value & REP_ONLY) && ic->prev_end == end)
        n = 0;                  /* the same rep instruction, one more repetition */
    if (ic->limit && ic->total + n > ic->limit) {
        if (addr == ic->bypass_addr) {
            ic->bypass_addr = ~0ull;
        } else {
            ic->limit_hit = 1;
            ic->last_addr = addr;
            ic->last_size = size;
            ic->last_counted = 0;
            ic->stop(uc);
            return;
        }
    }
    ic->total += n;
    ic->last_addr = addr;
    ic->last_size = size;
    ic->last_counted = n;
    ic->prev_end = end;
}
