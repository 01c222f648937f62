// A growable little-endian byte buffer: how the BTF and ELF writers lay out
// their sections (x86-64 objects are little-endian throughout).

/** Little growable byte writer shared by the BTF and ELF writers. */
export class ByteWriter {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private grow(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  /** Grows by `n`, lets `set` write at the old end, then moves the end. */
  private put(n: number, set: (at: number) => void): this {
    this.grow(n);
    set(this.length);
    this.length += n;
    return this;
  }
  u8(v: number): this {
    return this.put(1, (at) => this.view.setUint8(at, v));
  }
  u16(v: number): this {
    return this.put(2, (at) => this.view.setUint16(at, v, true));
  }
  u32(v: number): this {
    return this.put(4, (at) => this.view.setUint32(at, v >>> 0, true));
  }
  i32(v: number): this {
    return this.put(4, (at) => this.view.setInt32(at, v, true));
  }
  u64(v: bigint | number): this {
    return this.put(8, (at) => this.view.setBigUint64(at, BigInt.asUintN(64, BigInt(v)), true));
  }
  bytes(b: Uint8Array): this {
    this.grow(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }
  align(n: number): this {
    while (this.length % n !== 0) this.u8(0);
    return this;
  }
  /** Patches a u32 already written at `at`. */
  setU32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, true);
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}
