/* The file page two PT_LOADs share (gcc -m32 -static ends the read-only segment and starts the
 * data segment in one file page): read it through both mappings, then write through the
 * writable one. Linux maps the one page-cache page twice until the write gives the data view a
 * private copy; the debugger tests step through these faults (tests/emulator/test_debugger.py). */
#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

#define PAGE 4096UL

static int boundary(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    const ElfW(Phdr) *prev = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        if (p->p_type != PT_LOAD)
            continue;
        if (prev && prev->p_filesz && p->p_filesz) {
            unsigned long last = (prev->p_offset + prev->p_filesz - 1) & ~(PAGE - 1);
            if (last == (p->p_offset & ~(PAGE - 1))) {
                volatile unsigned char *ro = (volatile unsigned char *)(info->dlpi_addr
                    + (prev->p_vaddr & ~(PAGE - 1)) + (last - (prev->p_offset & ~(PAGE - 1))));
                volatile unsigned char *rw = (volatile unsigned char *)(info->dlpi_addr
                    + (p->p_vaddr & ~(PAGE - 1)));
                unsigned char a = ro[0], b = rw[0];
                /* The page is RELRO (read-only again after startup): make it writable, then
                 * write before p_vaddr, where no variable lives. */
                if (mprotect((void *)rw, PAGE, PROT_READ | PROT_WRITE) != 0) {
                    perror("mprotect");
                    return 1;
                }
                rw[0] = (unsigned char)(b ^ 0xff);
                printf("file page %#lx mapped twice: same bytes: %s; after a write to the data "
                       "view the read-only view %s\n", last, a == b ? "yes" : "no",
                       ro[0] == a ? "still reads the file" : "changed too");
                rw[0] = b;
                return 1;
            }
        }
        prev = p;
    }
    printf("no file page shared by two PT_LOADs\n");
    return 1;
}

int main(void)
{
    dl_iterate_phdr(boundary, NULL);
    return 0;
}
