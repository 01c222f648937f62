// The libc entry points the bridge calls, bound once through koffi. Other
// runtime modules may reuse them (import from here rather than binding libc
// again). Every call returns the raw result; `lastErrno()` reads errno right
// after a failing call (koffi preserves it per call).
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');

/** x86-64 syscall numbers (kernel: arch/x86/entry/syscalls/syscall_64.tbl). */
export const SYS_bpf = 321;

// syscall() is variadic in C but glibc's is plain assembly that never reads
// %al, so a fixed prototype for bpf(2)'s three arguments is safe and fast.
export const sysBpf = libc.func('long syscall(long nr, int cmd, void *attr, unsigned int size)') as
  (nr: number, cmd: number, attr: Uint8Array, size: number) => number;
export const open = libc.func('int open(const char *path, int flags, int mode)') as (path: string, flags: number, mode: number) => number;
export const close = libc.func('int close(int fd)') as (fd: number) => number;
export const read = libc.func('long read(int fd, uintptr_t buf, size_t n)') as (fd: number, buf: bigint, n: number) => number;
export const pread = libc.func('long pread(int fd, uintptr_t buf, size_t n, int64_t off)') as (fd: number, buf: bigint, n: number, off: bigint) => number;
export const lseek = libc.func('int64_t lseek(int fd, int64_t off, int whence)') as (fd: number, off: bigint, whence: number) => bigint | number;
export const fcntl = libc.func('int fcntl(int fd, int cmd, int arg)') as (fd: number, cmd: number, arg: number) => number;
export const dup3 = libc.func('int dup3(int fd, int newfd, int flags)') as (fd: number, newfd: number, flags: number) => number;
export const ioctl = libc.func('int ioctl(int fd, unsigned long req, unsigned long arg)') as (fd: number, req: number, arg: number) => number;
export const uname = libc.func('int uname(uint8_t *buf)') as (buf: Uint8Array) => number;
export const getpid = libc.func('int getpid(void)') as () => number;
export const geteuid = libc.func('uint32_t geteuid(void)') as () => number;
export const access = libc.func('int access(const char *path, int mode)') as (path: string, mode: number) => number;

/** errno of the last failing call made through koffi. */
export function lastErrno(): number {
  return koffi.errno();
}

/** Address of the first byte of a buffer (no copy: koffi passes it by reference). */
export function addressOf(buf: Uint8Array): bigint {
  return koffi.address(buf);
}

/** sizeof(struct utsname) on Linux: six 65-byte fields (include/uapi/linux/utsname.h). */
export const UTSNAME_SIZE = 6 * 65;
