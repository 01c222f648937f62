/* The kernel's <asm/errno.h> (pulled in by UAPI headers) would redefine
 * EINVAL, ENOSPC, ... with Linux numbers on top of wasi-libc's, so libbpf
 * would compare wasi errno values against Linux constants. Keep wasi's: the
 * bridge translates every errno at the boundary (runtime/bridge/errno.ts). */
#ifndef KB_ASM_ERRNO_H
#define KB_ASM_ERRNO_H
#include <errno.h>
#endif

/* Linux errnos libbpf uses internally that wasi lacks. Numbered outside
 * wasi's range (0..76) so they cannot be mistaken for a wasi error; the
 * bridge maps them to and from Linux's (errno.ts, WASM_ONLY_ERRNO). */
#ifndef ENODATA
#define ENODATA 1061 /* Linux 61 */
#endif
#ifndef EUCLEAN
#define EUCLEAN 1117 /* Linux 117 */
#endif
