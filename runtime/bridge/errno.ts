// errno and open-flag translation between the wasm side (wasi-libc's
// numbering) and the host kernel (Linux x86-64). wasi numbers errors
// alphabetically (wasi EACCES = 2 = Linux ENOENT), so every errno crossing
// the bridge is mapped, in both directions, by name.
// Sources: wasi-libc <wasi/api.h> __WASI_ERRNO_*; Linux
// include/uapi/asm-generic/errno-base.h and errno.h, via lib/errno.ts.
import { LINUX_ERRNO, type ErrnoName } from '../../lib/errno.js';

/** [name, wasi number]; the Linux number comes from lib/errno.ts by name. */
const WASI_ERRNO: ReadonlyArray<readonly [ErrnoName, number]> = [
  ['E2BIG', 1], ['EACCES', 2], ['EADDRINUSE', 3], ['EADDRNOTAVAIL', 4],
  ['EAFNOSUPPORT', 5], ['EAGAIN', 6], ['EALREADY', 7], ['EBADF', 8],
  ['EBADMSG', 9], ['EBUSY', 10], ['ECANCELED', 11], ['ECHILD', 12],
  ['ECONNABORTED', 13], ['ECONNREFUSED', 14], ['ECONNRESET', 15], ['EDEADLK', 16],
  ['EDESTADDRREQ', 17], ['EDOM', 18], ['EDQUOT', 19], ['EEXIST', 20],
  ['EFAULT', 21], ['EFBIG', 22], ['EHOSTUNREACH', 23], ['EIDRM', 24],
  ['EILSEQ', 25], ['EINPROGRESS', 26], ['EINTR', 27], ['EINVAL', 28],
  ['EIO', 29], ['EISCONN', 30], ['EISDIR', 31], ['ELOOP', 32],
  ['EMFILE', 33], ['EMLINK', 34], ['EMSGSIZE', 35], ['EMULTIHOP', 36],
  ['ENAMETOOLONG', 37], ['ENETDOWN', 38], ['ENETRESET', 39], ['ENETUNREACH', 40],
  ['ENFILE', 41], ['ENOBUFS', 42], ['ENODEV', 43], ['ENOENT', 44],
  ['ENOEXEC', 45], ['ENOLCK', 46], ['ENOLINK', 47], ['ENOMEM', 48],
  ['ENOMSG', 49], ['ENOPROTOOPT', 50], ['ENOSPC', 51], ['ENOSYS', 52],
  ['ENOTCONN', 53], ['ENOTDIR', 54], ['ENOTEMPTY', 55], ['ENOTRECOVERABLE', 56],
  ['ENOTSOCK', 57], ['EOPNOTSUPP', 58], ['ENOTTY', 59], ['ENXIO', 60],
  ['EOVERFLOW', 61], ['EOWNERDEAD', 62], ['EPERM', 63], ['EPIPE', 64],
  ['EPROTO', 65], ['EPROTONOSUPPORT', 66], ['EPROTOTYPE', 67], ['ERANGE', 68],
  ['EROFS', 69], ['ESPIPE', 70], ['ESRCH', 71], ['ESTALE', 72],
  ['ETIMEDOUT', 73], ['ETXTBSY', 74], ['EXDEV', 75],
  // Linux errnos wasi lacks but libbpf compares against, numbered on the
  // wasm side as bpf/wasm/include/asm/errno.h defines them. ENOTSUPP is the
  // kernel's internal 524, which bpf() does return and libbpf's feature
  // probes test for literally (-524), so it keeps its number.
  ['ENODATA', 1061], ['EUCLEAN', 1117], ['ENOTSUPP', 524],
];

const linuxToWasi = new Map<number, number>(WASI_ERRNO.map(([n, w]) => [LINUX_ERRNO[n], w]));
const wasiToLinux = new Map<number, number>(WASI_ERRNO.map(([n, w]) => [w, LINUX_ERRNO[n]]));

/** wasi errno for a Linux errno (EIO when wasi has no such error). */
export function toWasiErrno(linux: number): number {
  return linuxToWasi.get(linux) ?? linuxToWasi.get(LINUX_ERRNO.EIO)!;
}

/** Linux errno for a wasi errno (libbpf returns -errno in wasi numbering); EIO when unknown. */
export function toLinuxErrno(wasi: number): number {
  return wasiToLinux.get(wasi) ?? LINUX_ERRNO.EIO;
}

/** wasi-libc's O_* bits (<__header_fcntl.h>) -> Linux x86-64 (asm-generic/fcntl.h). */
const OPEN_FLAGS: ReadonlyArray<readonly [wasi: number, linux: number]> = [
  [0x0001, 0o2000], // O_APPEND
  [0x0002, 0o10000], // O_DSYNC
  [0x0004, 0o4000], // O_NONBLOCK
  [0x0008, 0o4010000], // O_RSYNC (= O_SYNC on Linux)
  [0x0010, 0o4010000], // O_SYNC
  [0x1000, 0o100], // O_CREAT
  [0x2000, 0o200000], // O_DIRECTORY
  [0x4000, 0o200], // O_EXCL
  [0x8000, 0o1000], // O_TRUNC
  [0x01000000, 0o400000], // O_NOFOLLOW
];
const WASI_O_RDONLY = 0x04000000;
const WASI_O_WRONLY = 0x10000000;
const WASI_O_PATH = 0x02000000 | 0x08000000; // O_EXEC | O_SEARCH
export const LINUX_O_RDONLY = 0;
export const LINUX_O_WRONLY = 1;
export const LINUX_O_RDWR = 2;
export const LINUX_O_CLOEXEC = 0o2000000;
const LINUX_O_PATH = 0o10000000;

/**
 * Linux open flags for wasi ones. Every fd the bridge opens is close-on-exec
 * (wasi's O_CLOEXEC is 0, so libbpf's request for it cannot be seen).
 * Unknown bits throw: nothing is passed on that we did not mean.
 */
export function toLinuxOpenFlags(wasi: number): number {
  let rest = wasi >>> 0;
  let out = LINUX_O_CLOEXEC;
  const rd = (rest & WASI_O_RDONLY) !== 0;
  const wr = (rest & WASI_O_WRONLY) !== 0;
  out |= rd && wr ? LINUX_O_RDWR : wr ? LINUX_O_WRONLY : LINUX_O_RDONLY;
  rest &= ~(WASI_O_RDONLY | WASI_O_WRONLY);
  if (rest & WASI_O_PATH) {
    out |= LINUX_O_PATH;
    rest &= ~WASI_O_PATH;
  }
  for (const [w, l] of OPEN_FLAGS) {
    if (rest & w) {
      out |= l;
      rest &= ~w;
    }
  }
  if (rest) throw new Error(`open flags 0x${wasi.toString(16)}: unknown wasi bits 0x${rest.toString(16)}`);
  return out;
}

/** wasi open flags for Linux ones (for fcntl(F_GETFL) answers). */
export function toWasiOpenFlags(linux: number): number {
  const acc = linux & 3;
  let out = acc === LINUX_O_RDWR ? WASI_O_RDONLY | WASI_O_WRONLY : acc === LINUX_O_WRONLY ? WASI_O_WRONLY : WASI_O_RDONLY;
  for (const [w, l] of OPEN_FLAGS) if ((linux & l) === l && l !== 0o4010000) out |= w;
  if ((linux & 0o4010000) === 0o4010000) out |= 0x0010;
  return out;
}
