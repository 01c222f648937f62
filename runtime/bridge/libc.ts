// The libc entry points the bridge calls, bound through the runtime's one
// libc handle (runtime/sys). Every call returns the raw result; `lastErrno()`
// reads errno right after a failing call (koffi preserves it per call).
import { libc } from '../sys/libc.js';

export { SYS_bpf, addressOf, sysBpf } from '../sys/bpf.js';
export { lastErrno } from '../sys/libc.js';
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


/** sizeof(struct utsname) on Linux: six 65-byte fields (include/uapi/linux/utsname.h). */
export const UTSNAME_SIZE = 6 * 65;
