/* Exact guest instruction counting per translated block, as a Unicorn UC_HOOK_BLOCK callback.
 *
 * emulator/icount.py registers icount_block() with uc_hook_add and passes a `struct icount`
 * as user data. Each block is decoded once, here with libcapstone (cs_disasm, handed over by
 * Python with the guest memory reader uc_vmem_read) or, when that declines, in Python through
 * the `miss` callback; an open-addressing hash maps (address, size) to its instruction count,
 * so a block that ran before costs one probe. The hook adds the count when the block is entered;
 * when the CPU leaves a block early (a fault, a stop request, a breakpoint), Python corrects
 * the total from the block it finds in `last` (icount.py: settle).
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
 *
 * The hot path is one hash probe and three stores: it runs for every block the guest executes
 * (~100 million per second of CPU-bound guest code).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REP_ONLY 0x80000000u
/* Tags in the low bits of icount.last (entries are 16-byte aligned): the block added nothing
 * (a rep repetition), or it was settled already. Untagged: it added its count. */
#define LAST_ZERO 1u
#define LAST_SETTLED 2u
#define LAST_ENTRY(v) ((struct entry *)((v) & ~(uintptr_t)15))

typedef uint32_t (*miss_fn)(uint64_t addr, uint32_t size);
typedef int (*stop_fn)(void *uc);
typedef int (*vmem_read_fn)(void *uc, uint64_t addr, int prot, void *buf, size_t size);

/* capstone 5's cs_insn, the fields used here (detail stays NULL: CS_OPT_DETAIL is off). */
struct cs_insn {
    unsigned int id;
    uint64_t address;
    uint16_t size;
    uint8_t bytes[24];
    char mnemonic[32];
    char op_str[160];
    void *detail;
};
typedef size_t (*cs_disasm_fn)(size_t handle, const uint8_t *code, size_t size,
                               uint64_t address, size_t count, struct cs_insn **insn);
typedef void (*cs_free_fn)(struct cs_insn *insn, size_t count);

#define UC_PROT_EXEC 4
#define MAX_BLOCK 8192

struct entry {
    uint64_t addr;
    uint32_t size;     /* 0: empty slot */
    uint32_t value;    /* instruction count | REP_ONLY */
};

struct icount {
    /* The hot path's fields first (one cache line). */
    struct entry *table;
    uint64_t mask;           /* capacity - 1 */
    uint64_t total;          /* instructions retired so far (after settle) */
    uint64_t limit;          /* 0: none */
    uintptr_t last;          /* the block entered last, tagged (LAST_*); 0: none */
    uint32_t limit_hit;      /* set when the limit stopped the CPU before a block */
    uint32_t pad;
    struct entry *held;      /* the block the limit kept from running */
    uint64_t kernel_base;    /* blocks at or above it are pyexec's own (not counted) */
    uint64_t bypass_addr;    /* a block to let through the limit once */
    uint64_t misses;         /* blocks decoded */
    miss_fn miss;            /* Python: decode a block (any case the C decoder declines) */
    stop_fn stop;            /* uc_emu_stop */
    uint64_t used;
    /* The C decoder: libcapstone and uc_vmem_read, or NULL (Python decodes every block). */
    size_t cs_handle;
    cs_disasm_fn cs_disasm;
    cs_free_fn cs_free;
    vmem_read_fn vmem_read;
    uint32_t watch_tsc;      /* blocks holding rdtsc/rdtscp go to Python (--deterministic) */
    uint32_t c_decoded;      /* blocks the C decoder counted (statistics) */
};

static int is_rep_string(const char *mn)
{
    static const char *const ops[] = {"movs", "stos", "lods", "cmps", "scas", "ins", "outs"};
    if (strncmp(mn, "rep", 3) != 0)
        return 0;
    const char *sp = strchr(mn, ' ');
    if (sp == NULL)
        return 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strncmp(sp + 1, ops[i], strlen(ops[i])) == 0)
            return 1;
    return 0;
}

/* Count the block's instructions without Python; 0 when Python must decide. */
static uint32_t decode_c(struct icount *ic, void *uc, uint64_t addr, uint32_t size)
{
    uint8_t code[MAX_BLOCK];
    struct cs_insn *insn = NULL;
    if (ic->cs_disasm == NULL || size > MAX_BLOCK
            || ic->vmem_read(uc, addr, UC_PROT_EXEC, code, size) != 0)
        return 0;
    size_t n = ic->cs_disasm(ic->cs_handle, code, size, addr, 0, &insn);
    if (n == 0)
        return 0;
    uint32_t value = 0;
    uint64_t end = insn[n - 1].address + insn[n - 1].size;
    int watched = 0;
    if (ic->watch_tsc)
        for (size_t i = 0; i < n && !watched; i++)
            watched = strncmp(insn[i].mnemonic, "rdtsc", 5) == 0;
    if (!watched && end == addr + size) {
        value = (uint32_t)n;
        if (n == 1 && is_rep_string(insn[0].mnemonic))
            value |= REP_ONLY;
        ic->c_decoded++;
    }
    ic->cs_free(insn, n);
    return value;
}

static inline uint64_t slot_of(uint64_t addr, uint32_t size, uint64_t mask)
{
    return ((addr >> 1) ^ (addr >> 11) ^ size) & mask;
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
    ic->last = 0;                   /* pointers into the old table */
    ic->held = NULL;
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
    ic->last = 0;
    ic->held = NULL;
}

void icount_free(struct icount *ic)
{
    free(ic->table);
    ic->table = NULL;
    ic->mask = 0;
    ic->used = 0;
    ic->last = 0;
    ic->held = NULL;
}

/* Not in the first slot probed: the rest of the chain, or decode it and insert. */
static struct entry *find_slow(struct icount *ic, void *uc, uint64_t addr, uint32_t size)
{
    uint64_t mask = ic->mask;
    uint64_t i = slot_of(addr, size, mask);
    struct entry *t = ic->table;
    while (t[i].size != 0) {
        if (t[i].addr == addr && t[i].size == size)
            return &t[i];
        i = (i + 1) & mask;
    }
    uint32_t value = decode_c(ic, uc, addr, size);
    if (value == 0)
        value = ic->miss(addr, size);
    ic->misses++;
    if ((ic->used + 1) * 2 > mask + 1) {
        if (grow(ic) != 0)
            return NULL;
        mask = ic->mask;
        t = ic->table;
        i = slot_of(addr, size, mask);
        while (t[i].size != 0)
            i = (i + 1) & mask;
    }
    t[i].addr = addr;
    t[i].size = size;
    t[i].value = value;
    ic->used++;
    return &t[i];
}

/* Everything but a known block on a run without limit: kept out of icount_block so that the
 * hot path needs no stack frame. */
__attribute__((noinline, cold))
static void block_slow(void *uc, uint64_t addr, uint32_t size, struct icount *ic,
                       struct entry *e)
{
    if (e->addr != addr || e->size != size) {
        if (addr >= ic->kernel_base || size == 0)
            return;             /* pyexec's ring-3 entry stub */
        e = find_slow(ic, uc, addr, size);
        if (e == NULL)
            return;
    }
    uint32_t n = e->value;
    if (n & REP_ONLY) {
        struct entry *p = LAST_ENTRY(ic->last);
        /* The same rep instruction, one more repetition: the block before ended where this
         * one ends. */
        n = (p != NULL && p->addr + p->size == addr + size) ? 0 : (n & ~REP_ONLY);
    }
    if (ic->limit != 0 && ic->total + n > ic->limit) {
        if (e->addr == ic->bypass_addr) {
            ic->bypass_addr = ~0ull;        /* the block Python runs the start of */
        } else {
            ic->limit_hit = 1;              /* keep it from running */
            ic->held = e;
            if (ic->last)
                ic->last |= LAST_SETTLED;   /* the block before completed */
            ic->stop(uc);
            return;
        }
    }
    ic->total += n;
    ic->last = (uintptr_t)e | (n ? 0 : LAST_ZERO);
}

void icount_block(void *uc, uint64_t addr, uint32_t size, void *user)
{
    struct icount *ic = user;
    struct entry *e = &ic->table[slot_of(addr, size, ic->mask)];
    uint32_t n = e->value;
    if (__builtin_expect(e->addr != addr || e->size != size || (n & REP_ONLY) || ic->limit, 0)) {
        block_slow(uc, addr, size, ic, e);
        return;
    }
    ic->total += n;
    ic->last = (uintptr_t)e;
}
