// File-descriptor primitives the runtime needs beyond node:fs: perf event fds
// are not files node can read with fs (read() on a counter returns a u64 whose
// size the kernel checks), and closing must not go through libuv's fd table.
import { check, libc } from './libc.js';

const closeFn = libc.func('int close(int fd)') as (fd: number) => number;
const readFn = libc.func('long read(int fd, _Out_ uint8_t *buf, size_t count)') as (
  fd: number,
  buf: Uint8Array,
  count: number,
) => number | bigint;

/** close(2); throws on EBADF and friends so a double close is never silent. */
export function closeFd(fd: number): void {
  check(closeFn(fd), 'close', `fd ${fd}`);
}

/** read(2) into buf (up to its length); returns bytes read. */
export function readFd(fd: number, buf: Uint8Array, count = buf.length): number {
  return check(Number(readFn(fd, buf, count)), 'read', `fd ${fd}`);
}
