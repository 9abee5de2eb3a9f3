/* Rep-prefixed string instructions count once each, however many times they repeat (the
 * CPU's instructions-retired event; valgrind's lackey counts every repetition instead).
 *   4 setup + rep stosb (100 bytes) = 5; rep stosb with ecx = 0: 2 (mov, rep)
 *   mov, jmp, rep movsb (a block that starts with the rep) = 3
 *   a loop of 3 x (mov, rep stosb, dec, jnz) + its setup mov = 13; exit 3
 * icount: 5 + 2 + 2 + 3 + 13 + 3 = 28
 * lackey: 208 (each repetition, and the final check, of the 100 + 0 + 50 + 3 x 10 bytes) */
#include "common.h"
    .text
    .globl _start
_start:
    ADDR(buf, DI)
    mov $100, %ecx
    xor %eax, %eax
    cld
    rep stosb
    xor %ecx, %ecx
    rep stosb
    ADDR(buf, SI)
    ADDR(buf2, DI)
    mov $50, %ecx
    jmp 1f
1:  rep movsb
    mov $3, %edx
2:  mov $10, %ecx
    rep stosb
    dec %edx
    jnz 2b
    EXIT(0)

    .bss
buf:    .skip 4096
buf2:   .skip 4096
