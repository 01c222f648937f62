/* wasm32 defines __ILP32__, so the kernel's x86 <asm/unistd.h> would pick the
 * x32 table (bpf = 0x40000141). The kernel we talk to is x86-64: force the
 * 64-bit numbers (kernel: arch/x86/include/uapi/asm/unistd.h). */
#ifndef KB_ASM_UNISTD_H
#define KB_ASM_UNISTD_H
#include <asm/unistd_64.h>
#endif
