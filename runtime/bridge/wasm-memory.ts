// Reading the wasm module's memory from the host: the one C-string reader
// (paths libbpf opens, its names and messages, strings in bpf() attrs) and
// the bounds check every pointer the module hands over goes through.

/**
 * The NUL-terminated string at `off`, at most `max` bytes before the NUL.
 * undefined when `off` lies outside `mem` or no NUL comes within `max` bytes
 * (or before the end of memory).
 */
export function cStringAt(mem: Uint8Array, off: number, max = mem.length): { text: string; bytes: number } | undefined {
  if (!Number.isInteger(off) || off < 0 || off >= mem.length) return undefined;
  const end = mem.subarray(off, Math.min(off + max, mem.length)).indexOf(0);
  if (end < 0) return undefined;
  return { text: Buffer.from(mem.subarray(off, off + end)).toString('utf8'), bytes: end + 1 };
}

/** The string at a pointer libbpf returned (NULL reads as ''), cut at the end of memory. */
export function cString(mem: Uint8Array, off: number): string {
  if (!off) return '';
  return cStringAt(mem, off)?.text ?? Buffer.from(mem.subarray(off)).toString('utf8');
}

/** Whether [off, off + len) lies inside a memory of `memLen` bytes. */
export function inBounds(off: number | bigint, len: number | bigint, memLen: number): boolean {
  const o = BigInt(off);
  const l = BigInt(len);
  return o >= 0n && l >= 0n && o + l <= BigInt(memLen);
}
