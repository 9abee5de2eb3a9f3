/* Writes through a bad pointer: must die by SIGSEGV. */
#include <stdio.h>

int main(void)
{
    int *volatile bad = (int *)16;
    printf("about to fault\n");
    fflush(stdout);
    *bad = 42;
    printf("still alive?\n");
    return 0;
}
