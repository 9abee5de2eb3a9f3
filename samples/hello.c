/* Smallest sample: one line to stdout, one to stderr, exit 0. */
#include <stdio.h>

int main(void)
{
    printf("hello, world\n");
    fprintf(stderr, "hello, stderr\n");
    return 0;
}
