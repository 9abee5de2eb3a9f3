/* Shared by the -nostdlib assembly samples: syscall numbers and register names per ABI.
 * Each sample states its exact instruction count in an `icount:` comment that
 * tests/emulator/test_icount.py reads (count them by hand: every instruction executed once
 * per execution, a rep-prefixed string instruction once, a faulting instruction not at all). */
#ifdef __x86_64__
#define SYSCALL syscall
#define NR_EXIT 60
#define NR_WRITE 1
#define NR_RT_SIGACTION 13
#define ARG1 %edi
#define BP %rbp
#define AX %rax
#define DI %rdi
#define SI %rsi
#define ADDR(sym, reg) lea sym(%rip), reg
#else
#define SYSCALL int $0x80
#define NR_EXIT 1
#define NR_WRITE 4
#define NR_RT_SIGACTION 174
#define ARG1 %ebx
#define BP %ebp
#define AX %eax
#define DI %edi
#define SI %esi
#define ADDR(sym, reg) mov $sym, reg
#endif

/* exit(code): 3 instructions */
#define EXIT(code) mov $NR_EXIT, %eax; mov $code, ARG1; SYSCALL
