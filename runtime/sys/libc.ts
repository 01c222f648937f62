// The one handle on the C library that every runtime/sys module shares, and
// the error type they all throw. koffi records errno right after each call
// (koffi.errno()), so a failing call is turned into a SysError at once, before
// any other native call can overwrite it.
import koffi from 'koffi';
import { ErrnoError } from '../../lib/errors.js';
import { errnoName } from '../../lib/errno.js';

export const libc = koffi.load('libc.so.6');
export { koffi };

const strerrorFn = libc.func('const char *strerror(int errnum)') as (e: number) => string;

export function strerror(errno: number): string {
  return strerrorFn(errno);
}

/** A failed system call: what we tried, the errno, the C library's text for it. */
export class SysError extends ErrnoError {
  /** symbolic errno (EPERM, ENOENT, ...; lib/errno.ts) */
  readonly code: string;
  readonly call: string;
  constructor(call: string, errno: number, detail?: string) {
    super(`${call}${detail ? ` (${detail})` : ''}: ${strerror(errno)} (${errnoName(errno)})`, errno);
    this.call = call;
    this.code = errnoName(errno);
  }
}

/** Last errno of the calling thread as koffi saved it after the previous native call. */
export function lastErrno(): number {
  return koffi.errno();
}

/** Throws a SysError when a libc call returned a negative value. */
export function check(ret: number, call: string, detail?: string): number {
  if (ret < 0) throw new SysError(call, koffi.errno(), detail);
  return ret;
}

/** bigint variant of check() for calls returning long. */
export function checkLong(ret: number | bigint, call: string, detail?: string): number {
  const n = Number(ret);
  if (n < 0) throw new SysError(call, koffi.errno(), detail);
  return n;
}
