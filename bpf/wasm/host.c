/* Host-call redirects for the wasm build of libbpf: every kb_* function
 * renamed in by kb_redirect.h, plus syscall() and the stubs wasi-libc lacks.
 * Kernel work is done by the TypeScript bridge (runtime/bridge/), imported
 * from module "kprobe_bpf". Each import returns a value >= 0 or a negative
 * *wasi* errno (the bridge maps Linux errno to wasi), which we put in errno.
 * Paths and buffers are passed as wasm offsets; the bridge bounds-checks
 * and translates them. Open flags are passed in wasi's encoding and mapped
 * by the bridge too (wasi O_RDONLY is 0x04000000, O_CLOEXEC is 0). */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/epoll.h>
#include <sys/vfs.h>
#include <sys/resource.h>
#include <net/if.h>

/* This file is built with the redirect header too (it defines the kb_*
 * functions it declares); where it means libc's own function, undo the rename. */
#undef fclose
#undef sysconf

#define HOST(name) __attribute__((import_module("kprobe_bpf"), import_name(#name)))

HOST(bpf) int host_bpf(int cmd, void *attr, unsigned size);
HOST(open) int host_open(const char *path, int wasi_flags, int mode);
HOST(close) int host_close(int fd);
HOST(read) int host_read(int fd, void *buf, unsigned n);
HOST(pread) int host_pread(int fd, void *buf, unsigned n, long long off);
HOST(lseek) long long host_lseek(int fd, long long off, int whence);
HOST(ioctl) int host_ioctl(int fd, unsigned req, unsigned long arg);
HOST(fcntl) int host_fcntl(int fd, int cmd, int arg);
HOST(dup3) int host_dup3(int fd, int newfd, int linux_flags);
HOST(uname) int host_uname(struct utsname *buf, unsigned size);
HOST(getpid) int host_getpid(void);
HOST(geteuid) int host_geteuid(void);
HOST(access) int host_access(const char *path, int mode);

static long ret_errno(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

int kb_open(const char *path, int flags, ...)
{
	int mode = 0;
	if (flags & O_CREAT) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, int);
		va_end(ap);
	}
	return (int)ret_errno(host_open(path, flags, mode));
}

int kb_close(int fd) { return (int)ret_errno(host_close(fd)); }
ssize_t kb_read(int fd, void *buf, size_t n) { return ret_errno(host_read(fd, buf, (unsigned)n)); }
ssize_t kb_pread(int fd, void *buf, size_t n, off_t off) { return ret_errno(host_pread(fd, buf, (unsigned)n, off)); }

off_t kb_lseek(int fd, off_t off, int whence)
{
	long long r = host_lseek(fd, off, whence);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* Only integer-argument ioctls reach the host (the bridge's allow-list
 * refuses any request whose argument would be a pointer). */
int kb_ioctl(int fd, int req, ...)
{
	va_list ap;
	va_start(ap, req);
	unsigned long arg = va_arg(ap, unsigned long);
	va_end(ap);
	return (int)ret_errno(host_ioctl(fd, (unsigned)req, arg));
}

int kb_fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	int arg = va_arg(ap, int);
	va_end(ap);
	return (int)ret_errno(host_fcntl(fd, cmd, arg));
}

int kb_dup(int fd) { return kb_fcntl(fd, 0 /* Linux F_DUPFD */, 0); }
int kb_dup2(int fd, int newfd) { return (int)ret_errno(host_dup3(fd, newfd, 0)); }

int kb_dup3(int fd, int newfd, int flags)
{
	/* wasi's O_CLOEXEC is 0: every fd the host hands out is close-on-exec. */
	(void)flags;
	return (int)ret_errno(host_dup3(fd, newfd, 02000000 /* Linux O_CLOEXEC */));
}

/* Kernel mmaps cannot live in wasm memory. Anonymous mappings are plain
 * page-aligned heap blocks. libbpf's one fd-backed mmap on the load path
 * re-maps a global-data map (.data/.rodata/.bss) over its own anonymous
 * image with MAP_FIXED after it has already written that image into the map
 * with BPF_MAP_UPDATE_ELEM: we keep the image (so the kernel's copy is
 * right) and the local copy simply stops tracking later kernel changes. */
void *kb_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	(void)prot;
	(void)off;
	if (flags & MAP_ANONYMOUS) {
		size_t sz = (len + 4095) & ~(size_t)4095;
		void *p = aligned_alloc(4096, sz);
		if (!p) {
			errno = ENOMEM;
			return MAP_FAILED;
		}
		memset(p, 0, sz);
		return p;
	}
	if ((flags & MAP_FIXED) && addr && fd >= 0)
		return addr;
	errno = ENODEV;
	return MAP_FAILED;
}

int kb_munmap(void *addr, size_t len)
{
	(void)len;
	free(addr);
	return 0;
}

int kb_uname(struct utsname *buf) { return (int)ret_errno(host_uname(buf, sizeof(*buf))); }
pid_t kb_getpid(void) { return host_getpid(); }
uid_t kb_geteuid(void) { return (uid_t)host_geteuid(); }
int kb_access(const char *path, int mode) { return (int)ret_errno(host_access(path, mode)); }

int kb_faccessat(int dirfd, const char *path, int mode, int flags)
{
	/* libbpf only passes absolute paths with AT_FDCWD and AT_EACCESS. */
	(void)dirfd;
	(void)flags;
	return kb_access(path, mode);
}

/* fopen of /proc and /sys files (kallsyms, vmlinux BTF, version_signature):
 * read the whole file through the host into a heap buffer and hand libbpf a
 * read-only stream over it (fopencookie; the buffer is freed on fclose).
 * wasi-libc's own FILE cannot wrap a kernel fd. */
struct kb_memfile {
	char *buf;
	size_t len, pos;
};

static ssize_t memfile_read(void *cookie, char *out, size_t n)
{
	struct kb_memfile *m = cookie;
	size_t rem = m->len - m->pos;
	if (n > rem)
		n = rem;
	memcpy(out, m->buf + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static int memfile_seek(void *cookie, off_t *off, int whence)
{
	struct kb_memfile *m = cookie;
	long long base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (long long)m->pos : (long long)m->len;
	long long to = base + *off;
	if (whence > SEEK_END || to < 0 || to > (long long)m->len) {
		errno = EINVAL;
		return -1;
	}
	m->pos = (size_t)to;
	*off = to;
	return 0;
}

static int memfile_close(void *cookie)
{
	struct kb_memfile *m = cookie;
	free(m->buf);
	free(m);
	return 0;
}

FILE *kb_fopen(const char *restrict path, const char *restrict mode)
{
	if (strchr(mode, 'w') || strchr(mode, 'a') || strchr(mode, '+')) {
		errno = EACCES;
		return NULL;
	}
	int fd = kb_open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf) {
			kb_close(fd);
			errno = ENOMEM;
			return NULL;
		}
		if (len == cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				free(buf);
			buf = nb;
			cap *= 2;
			continue;
		}
		ssize_t n = kb_read(fd, buf + len, cap - len);
		if (n < 0) {
			int e = errno;
			free(buf);
			kb_close(fd);
			errno = e;
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	kb_close(fd);
	struct kb_memfile *m = malloc(sizeof(*m));
	cookie_io_functions_t io = { .read = memfile_read, .seek = memfile_seek, .close = memfile_close };
	FILE *f = m ? fopencookie(m, "r", io) : NULL;
	if (!f) {
		free(m);
		free(buf);
		errno = ENOMEM;
		return NULL;
	}
	m->buf = buf;
	m->len = len;
	m->pos = 0;
	return f;
}

int kb_fclose(FILE *f) { return fclose(f); }

/* wasi reports 64 KiB wasm pages; mmap sizes of BPF maps use the kernel's
 * 4 KiB x86-64 page (kernel: arch/x86/include/asm/page_types.h). */
long kb_sysconf(int name)
{
	if (name == _SC_PAGESIZE)
		return 4096;
	return sysconf(name);
}

int kb_getpagesize(void) { return 4096; }

/* Pinning and directory creation are the TypeScript runtime's job. */
int kb_mkdir(const char *path, mode_t mode) { (void)path; (void)mode; errno = ENOSYS; return -1; }
int kb_unlink(const char *path) { (void)path; errno = ENOSYS; return -1; }
char *kb_realpath(const char *restrict path, char *restrict out) { (void)path; (void)out; errno = ENOSYS; return NULL; }
int fchmod(int fd, mode_t mode) { (void)fd; (void)mode; errno = ENOSYS; return -1; }
int statfs(const char *path, struct statfs *buf) { (void)path; (void)buf; errno = ENOSYS; return -1; }
unsigned int if_nametoindex(const char *name) { (void)name; errno = ENOSYS; return 0; }
int epoll_create1(int flags) { (void)flags; errno = ENOSYS; return -1; }
int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev) { (void)epfd; (void)op; (void)fd; (void)ev; errno = ENOSYS; return -1; }
int epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout) { (void)epfd; (void)evs; (void)max; (void)timeout; errno = ENOSYS; return -1; }

/* Kernels since 5.11 account BPF memory to the memcg, not RLIMIT_MEMLOCK
 * (kernel: commit "bpf: eliminate rlimit-based memory accounting"); report
 * no limit so libbpf never tries to raise it. */
int getrlimit(int resource, struct rlimit *rlim)
{
	(void)resource;
	rlim->rlim_cur = rlim->rlim_max = RLIM_INFINITY;
	return 0;
}

int setrlimit(int resource, const struct rlimit *rlim) { (void)resource; (void)rlim; return 0; }

/* Only bpf(2) goes through; perf_event_open (attach) belongs to the
 * TypeScript runtime, so libbpf's attach paths fail with ENOSYS here. */
long syscall(long nr, ...)
{
	va_list ap;
	va_start(ap, nr);
	long r;
	if (nr == __NR_bpf) {
		int cmd = va_arg(ap, int);
		void *attr = va_arg(ap, void *);
		unsigned size = va_arg(ap, unsigned);
		r = ret_errno(host_bpf(cmd, attr, size));
	} else {
		errno = ENOSYS;
		r = -1;
	}
	va_end(ap);
	return r;
}
