/* wasi-libc has no syscall(); ours (host.c) forwards the few numbers libbpf
 * uses to the host bridge and refuses the rest. */
#ifndef KB_SYS_SYSCALL_H
#define KB_SYS_SYSCALL_H
#include <asm/unistd.h>
long syscall(long nr, ...);
#endif
