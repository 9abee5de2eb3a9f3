/* A global that changes three times: the debugger's watchpoint tests (tests/emulator/). */
#include <stdio.h>

volatile int counter;

int main(void)
{
    for (int i = 0; i < 3; i++)
        counter += 10;
    printf("counter=%d\n", counter);
    return 0;
}
