// File-descriptor primitives the runtime needs beyond node:fs: perf event fds
// are not files node can read with fs (read() on a counter returns a u64 whose
// size the kernel checks), and closing must not go through libuv's fd table.
import { LINUX_ERRNO } from '../../lib/errno.js';
import { SysError, check, libc } from './libc.js';

const closeFn = libc.func('int close(int fd)') as ((fd: number) => number) & {
  async(fd: number, done: (err: unknown, ret: number) => void): void;
};
const readFn = libc.func('long read(int fd, _Out_ uint8_t *buf, size_t count)') as (
  fd: number,
  buf: Uint8Array,
  count: number,
) => number | bigint;

/** close(2); throws on EBADF and friends so a double close is never silent. */
export function closeFd(fd: number): void {
  check(closeFn(fd), 'close', `fd ${fd}`);
}

/**
 * close(2) on a libuv worker thread: closing a probe's fd waits for the
 * kernel's synchronisation (an RCU grace period or more), and closes on
 * several threads share those waits instead of queueing them. errno stays
 * on that thread; the one way a close of our own fd fails is EBADF.
 */
export function closeFdAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    closeFn.async(fd, (err, ret) => {
      if (err) reject(err);
      else if (ret < 0) reject(new SysError('close', LINUX_ERRNO.EBADF, `fd ${fd}, closed off-thread`));
      else resolve();
    });
  });
}

/** read(2) into buf (up to its length); returns bytes read. */
export function readFd(fd: number, buf: Uint8Array, count = buf.length): number {
  return check(Number(readFn(fd, buf, count)), 'read', `fd ${fd}`);
}
