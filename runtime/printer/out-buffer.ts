// A reusable byte buffer the printer formats into, flushed to an fd (or a
// callback) in large writes. Numbers are written digit by digit and strings
// byte by byte, so printing an event allocates nothing once warmed up.
// 64-bit values arrive as two u32 halves (lo, hi): no BigInt on the hot path.
import { writeSync } from 'node:fs';
import { u64FromHalves } from '../../lib/u64.js';

const HEX = Buffer.from('0123456789abcdef', 'latin1');
const digits = new Uint8Array(24);

export type Sink = (chunk: Buffer) => void;

/** A one-slot futex word to sleep on synchronously (Atomics.wait) while a pipe drains. */
const drainPause = new Int32Array(new SharedArrayBuffer(4));

export function fdSink(fd: number): Sink {
  return (chunk) => {
    let off = 0;
    while (off < chunk.length) {
      try {
        off += writeSync(fd, chunk, off, chunk.length - off);
      } catch (e) {
        // A pipe on stdout is non-blocking once libuv has opened it (any use of
        // process.stdout): when the reader lags, write(2) says EAGAIN. That is
        // back-pressure, not an error: wait a millisecond for it to drain.
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        Atomics.wait(drainPause, 0, 0, 1);
      }
    }
  };
}

export class OutBuffer {
  buf: Buffer;
  pos = 0;

  constructor(
    private readonly sink: Sink,
    size = 1 << 16,
  ) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Ensures n more bytes fit, flushing (or growing for one huge line) first. */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n * 2);
  }

  flush(): void {
    if (this.pos === 0) return;
    this.sink(this.buf.subarray(0, this.pos));
    this.pos = 0;
  }

  /** Text written so far and not yet flushed (tests). */
  peek(): string {
    return this.buf.toString('latin1', 0, this.pos);
  }

  byte(c: number): void {
    this.reserve(1);
    this.buf[this.pos++] = c;
  }

  /**
   * Copies bytes (constant strings are encoded once). Short runs — almost
   * every field — are copied by a loop: a native copy needs a subarray
   * object per call, which is both an allocation and slower below ~64 bytes.
   */
  bytes(src: Uint8Array, start = 0, end = src.length): void {
    const n = end - start;
    this.reserve(n);
    const buf = this.buf;
    let pos = this.pos;
    if (n < 64) {
      for (let i = start; i < end; i++) buf[pos++] = src[i]!;
    } else {
      buf.set(src.subarray(start, end), pos);
      pos += n;
    }
    this.pos = pos;
  }

  /** Latin-1 text, one char code per byte (constant punctuation; no encoder call). */
  ascii(s: string): void {
    const n = s.length;
    this.reserve(n);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < n; i++) buf[pos++] = s.charCodeAt(i);
    this.pos = pos;
  }

  /** Bytes of a C string in src[start, end), stopping at the first NUL (%s). */
  cstr(src: Uint8Array, start: number, end: number): void {
    let e = start;
    while (e < end && src[e] !== 0) e++;
    this.bytes(src, start, e);
  }

  /** Repeats c n times. */
  fill(c: number, n: number): void {
    if (n <= 0) return;
    this.reserve(n);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < n; i++) buf[pos++] = c;
    this.pos = pos;
  }

  /** Unsigned decimal of a non-negative safe integer, right-aligned in width (%*u). */
  udec(v: number, width = 0, pad = 0x20): void {
    let n = 0;
    if (v < 0x80000000) {
      // Small values (pids, CPUs, usecs, most fields): int32 arithmetic, which V8 keeps in registers.
      let x = v | 0;
      do {
        const q = (x / 10) | 0;
        digits[n++] = 0x30 + x - q * 10;
        x = q;
      } while (x !== 0);
    } else {
      do {
        const q = Math.floor(v / 10);
        digits[n++] = 0x30 + (v - q * 10);
        v = q;
      } while (v > 0);
    }
    this.reserve(Math.max(n, width));
    const buf = this.buf;
    let pos = this.pos;
    for (let i = n; i < width; i++) buf[pos++] = pad;
    while (n > 0) buf[pos++] = digits[--n]!;
    this.pos = pos;
  }

  /** Signed decimal of a safe integer, left-aligned in width (%-*d). */
  decLeft(v: number, width: number): void {
    const start = this.pos;
    this.sdec(v);
    this.fill(0x20, width - (this.pos - start));
  }

  sdec(v: number): void {
    if (v < 0) {
      this.byte(0x2d);
      this.udec(-v);
    } else this.udec(v);
  }

  /** Unsigned decimal of the u64 hi:lo (%llu), exact for all 64 bits. */
  u64dec(lo: number, hi: number): void {
    if (hi < 0x200000) {
      this.udec(u64FromHalves(lo, hi));
      return;
    }
    // Long division by 10 over two 32-bit limbs; every step stays below 2^53.
    let n = 0;
    while (hi > 0 || lo > 0) {
      const hq = Math.floor(hi / 10);
      const rest = u64FromHalves(lo, hi - hq * 10);
      const lq = Math.floor(rest / 10);
      digits[n++] = 0x30 + (rest - lq * 10);
      hi = hq;
      lo = lq;
    }
    this.reserve(n);
    while (n > 0) this.buf[this.pos++] = digits[--n]!;
  }

  /** Signed decimal of the s64 hi:lo (%lld). */
  s64dec(lo: number, hi: number): void {
    if (hi & 0x80000000) {
      // two's complement negate: ~v + 1
      let nlo = (~lo >>> 0) + 1;
      let nhi = ~hi >>> 0;
      if (nlo > 0xffffffff) {
        nlo = 0;
        nhi = (nhi + 1) >>> 0;
      }
      this.byte(0x2d);
      this.u64dec(nlo, nhi);
    } else this.u64dec(lo, hi);
  }

  /** Lower-case hex of a u32, at least minDigits digits, zero padded (%x, %08x). */
  hex32(v: number, minDigits = 1): void {
    let n = 0;
    v >>>= 0;
    do {
      digits[n++] = HEX[v & 0xf]!;
      v >>>= 4;
    } while (v !== 0);
    this.reserve(Math.max(n, minDigits));
    for (let i = n; i < minDigits; i++) this.buf[this.pos++] = 0x30;
    while (n > 0) this.buf[this.pos++] = digits[--n]!;
  }

  /** Lower-case hex of the u64 hi:lo (%llx, %lx), at least minDigits digits. */
  hex64(lo: number, hi: number, minDigits = 1): void {
    if (hi === 0) {
      this.hex32(lo, minDigits);
      return;
    }
    this.hex32(hi, Math.max(1, minDigits - 8));
    this.hex32(lo, 8);
  }
}
