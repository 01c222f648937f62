/* wasi-libc's <sys/resource.h> has no rlimit. libbpf asks RLIMIT_MEMLOCK
 * only to bump it on pre-memcg kernels (5.11-); host.c reports "unlimited". */
#ifndef KB_SYS_RESOURCE_H
#define KB_SYS_RESOURCE_H
#include <sys/time.h>
typedef unsigned long long rlim_t;
struct rlimit { rlim_t rlim_cur; rlim_t rlim_max; };
#define RLIM_INFINITY (~0ULL)
#define RLIMIT_MEMLOCK 8 /* kernel: include/uapi/asm-generic/resource.h */
int getrlimit(int resource, struct rlimit *rlim);
int setrlimit(int resource, const struct rlimit *rlim);
#endif
