/* A loop of 1000 iterations of 4 instructions, then exit(0).
 * icount: 1 + 4*1000 + 3 = 4004 */
#include "common.h"
    .text
    .globl _start, loop_top
_start:
    mov $1000, %ecx
loop_top:
    add $1, %eax
    add $2, %edx
    dec %ecx
    jnz loop_top
    EXIT(0)
