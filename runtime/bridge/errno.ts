// errno and open-flag translation between the wasm side (wasi-libc's
// numbering) and the host kernel (Linux x86-64). wasi numbers errors
// alphabetically (wasi EACCES = 2 = Linux ENOENT), so every errno crossing
// the bridge is mapped, in both directions, by name.
// Sources: wasi-libc <wasi/api.h> __WASI_ERRNO_*; Linux
// include/uapi/asm-generic/errno-base.h and errno.h.

/** [name, Linux number, wasi number] */
const ERRNO: ReadonlyArray<readonly [string, number, number]> = [
  ['E2BIG', 7, 1], ['EACCES', 13, 2], ['EADDRINUSE', 98, 3], ['EADDRNOTAVAIL', 99, 4],
  ['EAFNOSUPPORT', 97, 5], ['EAGAIN', 11, 6], ['EALREADY', 114, 7], ['EBADF', 9, 8],
  ['EBADMSG', 74, 9], ['EBUSY', 16, 10], ['ECANCELED', 125, 11], ['ECHILD', 10, 12],
  ['ECONNABORTED', 103, 13], ['ECONNREFUSED', 111, 14], ['ECONNRESET', 104, 15], ['EDEADLK', 35, 16],
  ['EDESTADDRREQ', 89, 17], ['EDOM', 33, 18], ['EDQUOT', 122, 19], ['EEXIST', 17, 20],
  ['EFAULT', 14, 21], ['EFBIG', 27, 22], ['EHOSTUNREACH', 113, 23], ['EIDRM', 43, 24],
  ['EILSEQ', 84, 25], ['EINPROGRESS', 115, 26], ['EINTR', 4, 27], ['EINVAL', 22, 28],
  ['EIO', 5, 29], ['EISCONN', 106, 30], ['EISDIR', 21, 31], ['ELOOP', 40, 32],
  ['EMFILE', 24, 33], ['EMLINK', 31, 34], ['EMSGSIZE', 90, 35], ['EMULTIHOP', 72, 36],
  ['ENAMETOOLONG', 36, 37], ['ENETDOWN', 100, 38], ['ENETRESET', 102, 39], ['ENETUNREACH', 101, 40],
  ['ENFILE', 23, 41], ['ENOBUFS', 105, 42], ['ENODEV', 19, 43], ['ENOENT', 2, 44],
  ['ENOEXEC', 8, 45], ['ENOLCK', 37, 46], ['ENOLINK', 67, 47], ['ENOMEM', 12, 48],
  ['ENOMSG', 42, 49], ['ENOPROTOOPT', 92, 50], ['ENOSPC', 28, 51], ['ENOSYS', 38, 52],
  ['ENOTCONN', 107, 53], ['ENOTDIR', 20, 54], ['ENOTEMPTY', 39, 55], ['ENOTRECOVERABLE', 131, 56],
  ['ENOTSOCK', 88, 57], ['EOPNOTSUPP', 95, 58], ['ENOTTY', 25, 59], ['ENXIO', 6, 60],
  ['EOVERFLOW', 75, 61], ['EOWNERDEAD', 130, 62], ['EPERM', 1, 63], ['EPIPE', 32, 64],
  ['EPROTO', 71, 65], ['EPROTONOSUPPORT', 93, 66], ['EPROTOTYPE', 91, 67], ['ERANGE', 34, 68],
  ['EROFS', 30, 69], ['ESPIPE', 29, 70], ['ESRCH', 3, 71], ['ESTALE', 116, 72],
  ['ETIMEDOUT', 110, 73], ['ETXTBSY', 26, 74], ['EXDEV', 18, 75],
];

/**
 * Linux errnos wasi lacks but libbpf compares against, numbered on the wasm
 * side as bpf/wasm/include/asm/errno.h defines them. ENOTSUPP is the kernel's
 * internal 524 (include/linux/errno.h), which bpf() does return and libbpf's
 * feature probes test for literally (-524), so it keeps its number.
 */
const WASM_ONLY_ERRNO: ReadonlyArray<readonly [string, number, number]> = [
  ['ENODATA', 61, 1061],
  ['EUCLEAN', 117, 1117],
  ['ENOTSUPP', 524, 524],
];

const ALL = [...ERRNO, ...WASM_ONLY_ERRNO];
const linuxToWasi = new Map<number, number>(ALL.map(([, l, w]) => [l, w]));
const wasiToLinux = new Map<number, number>(ALL.map(([, l, w]) => [w, l]));
const linuxName = new Map<number, string>(ALL.map(([n, l]) => [l, n]));

/** Linux errno names the bridge itself raises. */
export const Errno = Object.fromEntries(ERRNO.map(([n, l]) => [n, l])) as Readonly<Record<string, number>>;
export const LINUX_EINVAL = 22;
export const LINUX_E2BIG = 7;
export const LINUX_EFAULT = 14;
export const LINUX_ENOSYS = 38;
export const LINUX_EACCES = 13;
export const LINUX_EBADF = 9;
export const LINUX_EPERM = 1;

/** wasi errno for a Linux errno (EIO when wasi has no such error). */
export function toWasiErrno(linux: number): number {
  return linuxToWasi.get(linux) ?? 29;
}

/** Linux errno for a wasi errno (libbpf returns -errno in wasi numbering). */
export function toLinuxErrno(wasi: number): number {
  return wasiToLinux.get(wasi) ?? (wasi === 58 ? 95 : 5);
}

export function linuxErrnoName(linux: number): string {
  return linuxName.get(linux) ?? `errno ${linux}`;
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
