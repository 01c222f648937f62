// A u64 read as two u32 halves and joined into a JS number: the hot paths
// (ring records, printing, symbol lookup) avoid BigInt, and every value they
// join (nanosecond timestamps, counts, address differences) stays below 2^53,
// where a double is exact.

const TWO_POW_32 = 4294967296;

/** lo + hi * 2^32 (exact while the result is below 2^53). */
export function u64FromHalves(lo: number, hi: number): number {
  return hi * TWO_POW_32 + lo;
}

/** The little-endian u64 at buf[off] as a number (exact below 2^53). */
export function readU64Number(buf: Buffer, off: number): number {
  return u64FromHalves(buf.readUInt32LE(off), buf.readUInt32LE(off + 4));
}
