/* Prints argc, argv and a few environment variables; exits with argc - 1. */
#include <stdio.h>
#include <stdlib.h>

static const char *const vars[] = {"PYEXEC_TEST", "PYEXEC_EMPTY", "PYEXEC_UNSET"};

int main(int argc, char **argv)
{
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=\"%s\"\n", i, argv[i]);
    printf("argv[argc]=%s\n", argv[argc] == NULL ? "NULL" : "non-NULL");
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v)
            printf("%s=\"%s\"\n", vars[i], v);
        else
            printf("%s is unset\n", vars[i]);
    }
    return (argc - 1) & 0xff;
}
