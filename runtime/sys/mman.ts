// mmap/munmap for perf ring buffers. The mapping is exposed as an ArrayBuffer
// over the kernel's pages (koffi.view, no copy); it must not be touched after
// unmap, so Mapping drops its views when it is unmapped.
import { koffi, libc, lastErrno, SysError } from './libc.js';

export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;

type Ptr = bigint | object | null;
const mmapFn = libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)') as (
  addr: null,
  length: number,
  prot: number,
  flags: number,
  fd: number,
  offset: number,
) => Ptr;
const munmapFn = libc.func('int munmap(void *addr, size_t length)') as (addr: Ptr, length: number) => number;
const getpagesizeFn = libc.func('int getpagesize(void)') as () => number;

/** The kernel's PAGE_SIZE: perf rings are 1 + 2^n pages. */
export const PAGE_SIZE: number = getpagesizeFn();

export interface Mapping {
  readonly length: number;
  /** The mapped bytes; undefined after unmap(). */
  readonly buffer: ArrayBuffer;
  unmap(): void;
}

const MAP_FAILED = (1n << 64n) - 1n;

export function mmapFd(fd: number, length: number, prot: number, flags = MAP_SHARED, offset = 0): Mapping {
  const ptr = mmapFn(null, length, prot, flags, fd, offset);
  const addr = ptr === null ? 0n : BigInt.asUintN(64, koffi.address(ptr));
  if (addr === 0n || addr === MAP_FAILED) throw new SysError('mmap', lastErrno(), `fd ${fd}, ${length} bytes`);
  let live = true;
  const buffer = koffi.view(ptr, length);
  return {
    length,
    buffer,
    unmap(): void {
      if (!live) return;
      live = false;
      if (munmapFn(ptr, length) < 0) throw new SysError('munmap', lastErrno());
    },
  };
}

/** madvise(2) advice: drop the range's pages from this process; a private file mapping re-reads them from the file. */
export const MADV_DONTNEED = 4;

const madviseFn = libc.func('int madvise(uintptr_t addr, size_t length, int advice)') as (addr: bigint, length: number, advice: number) => number;

export function madvise(addr: bigint, length: number, advice: number): void {
  if (madviseFn(addr, length, advice) < 0) throw new SysError('madvise', lastErrno(), `0x${addr.toString(16)}, ${length} bytes, advice ${advice}`);
}
