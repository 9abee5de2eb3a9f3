/* Calls and returns, a loop with a branch taken every other time, a write(2).
 *   outer: 10 x (call + body + dec + jnz) where body = push, mov, 32 (inner), pop, ret = 36
 *   inner: ecx = 7..1; odd: test, jz (not taken), add, dec, jnz = 5; even: 4 -> 4*5 + 3*4 = 32
 *   write: 5 (4 register loads, the syscall); exit: 3
 * icount: 1 + 10*(3 + 36) + 5 + 3 = 399 */
#include "common.h"
    .text
    .globl _start
_start:
    mov $10, %esi
outer:
    call body
    dec %esi
    jnz outer
#ifdef __x86_64__
    mov $NR_WRITE, %eax
    mov $1, %edi
    lea msg(%rip), %rsi
    mov $msg_len, %edx
#else
    mov $NR_WRITE, %eax
    mov $1, %ebx
    mov $msg, %ecx
    mov $msg_len, %edx
#endif
    SYSCALL
    EXIT(0)

body:
    push BP
    mov $7, %ecx
1:  test $1, %ecx
    jz 2f
    add $3, %eax
2:  dec %ecx
    jnz 1b
    pop BP
    ret

    .section .rodata
msg:    .ascii "calls: done\n"
    .set msg_len, . - msg
