// A growable little-endian byte buffer: how the BTF and ELF writers lay out
// their sections (x86-64 objects are little-endian throughout). Every write is
// a direct store into one buffer (no closure or temporary per value): the
// object writer makes tens of thousands of them per object.

const TWO_32 = 0x1_0000_0000;

/** Little growable byte writer shared by the BTF and ELF writers. */
export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;
  /** finish() returned `buf` itself: it must not be written again. */
  private handedOut = false;

  /** Bytes written so far. */
  get length(): number {
    return this.len;
  }

  /** `capacity`: the bytes expected, when known (the buffer still grows past it). */
  constructor(capacity = 256) {
    this.buf = new Uint8Array(Math.max(8, capacity));
    this.view = new DataView(this.buf.buffer);
  }

  private grow(n: number): void {
    this.handedOut = false;
    let cap = Math.max(8, this.buf.length * 2);
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): this {
    if (this.len + 1 > this.buf.length) this.grow(1);
    this.buf[this.len++] = v;
    return this;
  }
  u16(v: number): this {
    if (this.len + 2 > this.buf.length) this.grow(2);
    this.view.setUint16(this.len, v, true);
    this.len += 2;
    return this;
  }
  u32(v: number): this {
    if (this.len + 4 > this.buf.length) this.grow(4);
    this.view.setUint32(this.len, v >>> 0, true);
    this.len += 4;
    return this;
  }
  i32(v: number): this {
    if (this.len + 4 > this.buf.length) this.grow(4);
    this.view.setInt32(this.len, v, true);
    this.len += 4;
    return this;
  }
  /** Two's complement for negative values, as BigInt.asUintN(64, v). */
  u64(v: bigint | number): this {
    if (this.len + 8 > this.buf.length) this.grow(8);
    if (typeof v === 'number' && v >= 0 && Number.isSafeInteger(v)) {
      // a number below 2^53 splits exactly into two 32-bit halves: no BigInt on the common path
      this.view.setUint32(this.len, v % TWO_32, true);
      this.view.setUint32(this.len + 4, Math.floor(v / TWO_32), true);
    } else {
      this.view.setBigUint64(this.len, BigInt.asUintN(64, BigInt(v)), true);
    }
    this.len += 8;
    return this;
  }
  bytes(b: Uint8Array): this {
    if (this.len + b.length > this.buf.length) this.grow(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }
  /** Zero bytes up to a multiple of `n` (the buffer is zeroed when allocated and never written past length). */
  align(n: number): this {
    const pad = (n - (this.len % n)) % n;
    if (pad === 0) return this;
    if (this.len + pad > this.buf.length) this.grow(pad);
    this.len += pad;
    return this;
  }
  /** Patches a u32 already written at `at`. */
  setU32(at: number, v: number): void {
    if (this.handedOut) this.grow(0); // the caller owns the finished bytes: patch a copy
    this.view.setUint32(at, v >>> 0, true);
  }
  /** The bytes written so far, in place (no copy): valid until the next write. */
  writtenSoFar(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
  /**
   * The bytes written. A writer sized exactly (the capacity given was the
   * size) hands its buffer over without a copy; writing on afterwards then
   * works on a copy (appending always regrows a full buffer, patching checks).
   */
  finish(): Uint8Array {
    if (this.len !== this.buf.length) return this.buf.slice(0, this.len);
    this.handedOut = true;
    return this.buf;
  }
}
