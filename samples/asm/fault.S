/* A SIGSEGV handler, then a load from NULL in the middle of a block: the faulting load does
 * not retire; the handler exits with status 7.
 *   rt_sigaction: 6; xor (the load faults): 1; handler: exit(7) 3
 * icount: 6 + 1 + 3 = 10
 * lackey: - (under valgrind this -nostdlib handler setup does not take; nothing to compare)
 * exit status: 7 */
#include "common.h"
    .text
    .globl _start
_start:
#ifdef __x86_64__
    mov $NR_RT_SIGACTION, %eax
    mov $11, %edi
    lea act(%rip), %rsi
    xor %edx, %edx
    mov $8, %r10d
#else
    mov $NR_RT_SIGACTION, %eax
    mov $11, %ebx
    mov $act, %ecx
    xor %edx, %edx
    mov $8, %esi
#endif
    SYSCALL
    xor %eax, %eax
    mov (AX), %eax
    EXIT(1)

handler:
    EXIT(7)

    .data
#ifdef __x86_64__
act:    .quad handler, 0x04000000, handler, 0
#else
act:    .long handler, 0x04000000, handler, 0, 0
#endif
