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

// A thread of its own for each close(2) of closeFdAsync, started from libc:
// the close's function is the thread's start routine (on x86-64, the ABI
// this tool targets, the pointer argument arrives in %rdi, where close reads
// its int), and a libuv thread waits for it (pthread_join, koffi's .async).
// libuv's own pool is 4 threads, started before any of our code runs, so
// closes handed to it waited 4 at a time: 50 uprobe_multi links (each
// close waits out a grace period) took ~850 ms to detach, on threads of
// their own ~60-90 ms. A small stack: the thread runs one system call.
const dlsymFn = libc.func('void *dlsym(void *handle, const char *name)') as (handle: null, name: string) => unknown;
const pthreadCreateFn = libc.func('int pthread_create(_Out_ uint64_t *thread, uint8_t *attr, void *start, intptr_t arg)') as (
  thread: (number | bigint)[], attr: Uint8Array, start: unknown, arg: number) => number;
const pthreadJoinFn = libc.func('int pthread_join(uint64_t thread, _Out_ intptr_t *ret)') as ((thread: number | bigint, ret: (number | bigint)[]) => number) & {
  async(thread: number | bigint, ret: (number | bigint)[], done: (err: unknown, r: number) => void): void;
};
const attrInitFn = libc.func('int pthread_attr_init(_Out_ uint8_t *attr)') as (attr: Uint8Array) => number;
const attrStackFn = libc.func('int pthread_attr_setstacksize(uint8_t *attr, size_t size)') as (attr: Uint8Array, size: number) => number;

let closeThread: { start: unknown; attr: Uint8Array } | null | undefined;
function closeThreadSetup(): { start: unknown; attr: Uint8Array } | null {
  if (closeThread !== undefined) return closeThread;
  const start = dlsymFn(null, 'close');
  // pthread_attr_t is 56 bytes on x86-64 glibc
  const attr = new Uint8Array(64);
  closeThread = start && attrInitFn(attr) === 0 && attrStackFn(attr, 64 * 1024) === 0 ? { start, attr } : null;
  return closeThread;
}

/** close(2)'s result as a thread's exit value: an int in the low half of the pointer. */
const closeResult = (exit: number | bigint): number => Number(BigInt.asIntN(32, BigInt(exit)));

/**
 * close(2) off this thread: closing a probe's fd waits for the kernel's
 * synchronisation (an RCU grace period or more), and closes on separate
 * threads share those waits instead of queueing them. errno stays on that
 * thread; the one way a close of our own fd fails is EBADF.
 */
export function closeFdAsync(fd: number): Promise<void> {
  const failed = () => new SysError('close', LINUX_ERRNO.EBADF, `fd ${fd}, closed off-thread`);
  return new Promise((resolve, reject) => {
    const setup = closeThreadSetup();
    const tid: (number | bigint)[] = [0];
    if (setup && pthreadCreateFn(tid, setup.attr, setup.start, fd) === 0) {
      const exit: (number | bigint)[] = [0];
      pthreadJoinFn.async(tid[0]!, exit, (err, r) => {
        if (err) reject(err);
        else if (r !== 0 || closeResult(exit[0]!) < 0) reject(failed());
        else resolve();
      });
      return;
    }
    // no thread to be had (EAGAIN): on libuv's pool
    closeFn.async(fd, (err, ret) => {
      if (err) reject(err);
      else if (ret < 0) reject(failed());
      else resolve();
    });
  });
}

/** read(2) into buf (up to its length); returns bytes read. */
export function readFd(fd: number, buf: Uint8Array, count = buf.length): number {
  return check(Number(readFn(fd, buf, count)), 'read', `fd ${fd}`);
}
