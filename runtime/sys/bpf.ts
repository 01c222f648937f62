// bpf(2), bound once for the whole runtime: the wasm bridge forwards
// libbpf's calls through sysBpf, the tracer makes its few map calls with bpf().
import { checkLong, koffi, libc } from './libc.js';

/** x86-64 syscall number (kernel: arch/x86/entry/syscalls/syscall_64.tbl). */
export const SYS_bpf = 321;

// syscall() is variadic in C but glibc's is plain assembly that never reads
// %al, so a fixed prototype for bpf(2)'s three arguments is safe and fast.
/** The raw call: returns -1 with errno set on failure. */
export const sysBpf = libc.func('long syscall(long nr, int cmd, void *attr, unsigned int size)') as
  (nr: number, cmd: number, attr: Uint8Array, size: number) => number;

/** bpf(cmd, attr, attr.length); throws a SysError naming `what` on failure. */
export function bpf(cmd: number, attr: Uint8Array, what: string): number {
  return checkLong(sysBpf(SYS_bpf, cmd, attr, attr.length), `bpf(${what})`);
}

/** Address of a buffer's first byte (koffi passes it by reference, no copy), for pointer fields of an attr. */
export function addressOf(buf: Uint8Array): bigint {
  return BigInt(koffi.address(buf));
}
