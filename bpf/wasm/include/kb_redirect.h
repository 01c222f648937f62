/* Force-included (-include) into every libbpf, libelf and zlib file of the
 * wasm build. libbpf must see real kernel fds: they go into ld_imm64, attrs and
 * fd_array. So every call that creates, reads or closes a kernel fd is
 * renamed to our kb_* version (host.c), which asks the TypeScript bridge,
 * instead of wasi-libc's (whose fd table knows nothing of kernel objects).
 * Function-like macros only rename calls and declarations, never struct
 * members of the same name. */
#ifndef KB_REDIRECT_H
#define KB_REDIRECT_H
/* The system headers come first, so their own declarations (and wasi's
 * lseek macro) are seen unrenamed; our macros then apply to library code. */
#include <stddef.h>
#include <sys/types.h>
#include <stdio.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <stdlib.h>
#include <string.h>

/* glibc declares it in <unistd.h>; libbpf relies on that. */
long syscall(long nr, ...);
uid_t kb_geteuid(void);
/* wasi lacks it; only libelf's elf_update (writing files) calls it. */
int fchmod(int fd, mode_t mode);

int kb_open(const char *path, int flags, ...);
int kb_close(int fd);
ssize_t kb_read(int fd, void *buf, size_t n);
ssize_t kb_pread(int fd, void *buf, size_t n, off_t off);
off_t kb_lseek(int fd, off_t off, int whence);
int kb_ioctl(int fd, int req, ...);
int kb_fcntl(int fd, int cmd, ...);
int kb_dup(int fd);
int kb_dup2(int fd, int newfd);
int kb_dup3(int fd, int newfd, int flags);
void *kb_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int kb_munmap(void *addr, size_t len);
int kb_uname(struct utsname *buf);
pid_t kb_getpid(void);
int kb_faccessat(int dirfd, const char *path, int mode, int flags);
int kb_access(const char *path, int mode);
FILE *kb_fopen(const char *__restrict path, const char *__restrict mode);
int kb_fclose(FILE *f);
long kb_sysconf(int name);
int kb_getpagesize(void);
int kb_mkdir(const char *path, mode_t mode);
int kb_unlink(const char *path);
char *kb_realpath(const char *__restrict path, char *__restrict out);

#undef open
#define open(...) kb_open(__VA_ARGS__)
#undef close
#define close(...) kb_close(__VA_ARGS__)
#undef read
#define read(...) kb_read(__VA_ARGS__)
#undef pread
#define pread(...) kb_pread(__VA_ARGS__)
#undef lseek
#define lseek(...) kb_lseek(__VA_ARGS__)
#undef ioctl
#define ioctl(...) kb_ioctl(__VA_ARGS__)
#undef fcntl
#define fcntl(...) kb_fcntl(__VA_ARGS__)
#undef dup
#define dup(...) kb_dup(__VA_ARGS__)
#undef dup2
#define dup2(...) kb_dup2(__VA_ARGS__)
#undef dup3
#define dup3(...) kb_dup3(__VA_ARGS__)
#undef mmap
#define mmap(...) kb_mmap(__VA_ARGS__)
#undef munmap
#define munmap(...) kb_munmap(__VA_ARGS__)
#undef uname
#define uname(...) kb_uname(__VA_ARGS__)
#undef getpid
#define getpid(...) kb_getpid(__VA_ARGS__)
#undef faccessat
#define faccessat(...) kb_faccessat(__VA_ARGS__)
#undef access
#define access(...) kb_access(__VA_ARGS__)
#undef fopen
#define fopen(...) kb_fopen(__VA_ARGS__)
#undef fclose
#define fclose(...) kb_fclose(__VA_ARGS__)
#undef sysconf
#define sysconf(...) kb_sysconf(__VA_ARGS__)
#undef getpagesize
#define getpagesize(...) kb_getpagesize(__VA_ARGS__)
#undef mkdir
#define mkdir(...) kb_mkdir(__VA_ARGS__)
#undef unlink
#define unlink(...) kb_unlink(__VA_ARGS__)
#undef realpath
#define realpath(...) kb_realpath(__VA_ARGS__)
#undef geteuid
#define geteuid(...) kb_geteuid(__VA_ARGS__)

/* Linux values wasi-libc lacks; the host fcntl/dup3 take Linux numbers
 * (kernel: include/uapi/asm-generic/fcntl.h). */
#ifndef F_DUPFD_CLOEXEC
#define F_DUPFD_CLOEXEC 1030
#endif
#endif
