/* Prints what exec left on the initial stack: argc, where argv, envp and the strings the
 * auxiliary vector points at live (raw addresses: compare with `setarch -R`), the stack
 * pointer's alignment at main, and the getauxval() values that do not depend on the CPU. */
#include <stdint.h>
#include <stdio.h>
#include <sys/auxv.h>

#ifndef AT_EXECFN
#define AT_EXECFN 31
#endif

static void show(const char *name, unsigned long type)
{
    printf("%s=%#lx\n", name, getauxval(type));
}

int main(int argc, char **argv, char **envp)
{
    uintptr_t sp;
#if defined(__x86_64__)
    __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
#else
    __asm__ volatile("mov %%esp, %0" : "=r"(sp));
#endif
    printf("argc=%d\n", argc);
    printf("argv=%p\n", (void *)argv);
    printf("envp=%p\n", (void *)envp);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=%p \"%s\"\n", i, (void *)argv[i], argv[i]);
    int n = 0;
    for (char **e = envp; *e; e++, n++)
        printf("envp[%d]=%p \"%s\"\n", n, (void *)*e, *e);
    printf("envc=%d\n", n);
    printf("sp%%16=%lu\n", (unsigned long)(sp & 15));
    printf("AT_EXECFN=%p\n", (void *)getauxval(AT_EXECFN));
    printf("AT_RANDOM=%p\n", (void *)getauxval(AT_RANDOM));
    printf("AT_PLATFORM=%p\n", (void *)getauxval(AT_PLATFORM));
    show("AT_PAGESZ", AT_PAGESZ);
    show("AT_PHDR", AT_PHDR);
    show("AT_PHENT", AT_PHENT);
    show("AT_PHNUM", AT_PHNUM);
    show("AT_ENTRY", AT_ENTRY);
    show("AT_UID", AT_UID);
    show("AT_EUID", AT_EUID);
    show("AT_GID", AT_GID);
    show("AT_EGID", AT_EGID);
    show("AT_SECURE", AT_SECURE);
    show("AT_CLKTCK", AT_CLKTCK);
    show("AT_FLAGS", AT_FLAGS);
    show("AT_BASE", AT_BASE);
    const char *platform = (const char *)getauxval(AT_PLATFORM);
    const char *execfn = (const char *)getauxval(AT_EXECFN);
    printf("platform=\"%s\"\n", platform ? platform : "(null)");
    printf("execfn=\"%s\"\n", execfn ? execfn : "(null)");
    return 0;
}
