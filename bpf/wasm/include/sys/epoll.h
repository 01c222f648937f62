/* wasi has no epoll. libbpf's perf_buffer uses it; that reader lives in
 * TypeScript (runtime/), so these only let libbpf.c compile and fail cleanly. */
#ifndef KB_SYS_EPOLL_H
#define KB_SYS_EPOLL_H
#include <stdint.h>
#define EPOLL_CLOEXEC 02000000
#define EPOLLIN 0x001
#define EPOLL_CTL_ADD 1
#define EPOLL_CTL_DEL 2
#define EPOLL_CTL_MOD 3
typedef union epoll_data { void *ptr; int fd; uint32_t u32; uint64_t u64; } epoll_data_t;
struct epoll_event { uint32_t events; epoll_data_t data; } __attribute__((packed));
int epoll_create1(int flags);
int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
int epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout);
#endif
