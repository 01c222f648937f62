// Producers over plain memory that write what the kernel writes, so the ring
// readers can be tested without a kernel, root or mmap: a perf ring (control
// page + data area, records 8-byte aligned, data_head published after the
// bytes) and a BPF ring buffer (reserve sets BUSY and moves producer_pos,
// commit clears BUSY or sets DISCARD; the data area is written twice, as the
// kernel's double mapping shows it).
import { MMAP_PAGE } from '../../../runtime/ring/perf-ring.js';
import { RINGBUF_BUSY_BIT, RINGBUF_DISCARD_BIT, RINGBUF_HDR_SIZE, ringbufRecordSpan } from '../../../runtime/ring/ring-buffer.js';
import type { RingHandler, SampleMeta } from '../../../runtime/ring/source.js';

/** enum perf_event_type, written here from include/uapi/linux/perf_event.h (not taken from the reader). */
export const RECORD_LOST = 2;
export const RECORD_SAMPLE = 9;

export class FakePerfRing {
  readonly control = new BigUint64Array(4096 / 8);
  readonly data: Buffer;
  /** Bytes written, published or not. */
  written = 0;
  constructor(size: number) {
    this.data = Buffer.alloc(size);
  }

  get head(): number {
    return Number(this.control[MMAP_PAGE.dataHead / 8]);
  }
  get tail(): number {
    return Number(this.control[MMAP_PAGE.dataTail / 8]);
  }

  /** Copies a record (header + body) at the write position, wrapping at the end; not yet published. */
  write(type: number, body: Buffer): number {
    const size = 8 + body.length;
    if (size % 8 !== 0) throw new Error(`fake perf ring: record of ${size} bytes is not 8-byte aligned`);
    const rec = Buffer.alloc(size);
    rec.writeUInt32LE(type, 0);
    rec.writeUInt16LE(size, 6);
    body.copy(rec, 8);
    this.writeBytes(rec);
    return size;
  }

  writeBytes(bytes: Buffer): void {
    for (let i = 0; i < bytes.length; i++) this.data[(this.written + i) % this.data.length] = bytes[i]!;
    this.written += bytes.length;
  }

  /** data_head = what was written (the kernel's release store). */
  publish(upTo = this.written): void {
    this.control[MMAP_PAGE.dataHead / 8] = BigInt(upTo);
  }

  /** Starts the ring at position pos (head = tail = pos), as after earlier traffic. */
  startAt(pos: number): void {
    this.written = pos;
    this.control[MMAP_PAGE.dataHead / 8] = BigInt(pos);
    this.control[MMAP_PAGE.dataTail / 8] = BigInt(pos);
  }
}

/** A PERF_RECORD_SAMPLE body for sample_type TID|TIME|RAW: pid, tid, time, then {u32 size, raw}, padded to 8. */
export function sampleBody(pid: number, tid: number, time: bigint, raw: Buffer): Buffer {
  const unpadded = 8 + 8 + 4 + raw.length;
  const body = Buffer.alloc(Math.ceil(unpadded / 8) * 8);
  body.writeUInt32LE(pid, 0);
  body.writeUInt32LE(tid, 4);
  body.writeBigUInt64LE(time, 8);
  body.writeUInt32LE(raw.length, 16);
  raw.copy(body, 20);
  return body;
}

/** A PERF_RECORD_SAMPLE body for sample_type RAW only. */
export function rawOnlyBody(raw: Buffer): Buffer {
  const body = Buffer.alloc(Math.ceil((4 + raw.length) / 8) * 8);
  body.writeUInt32LE(raw.length, 0);
  raw.copy(body, 4);
  return body;
}

/** A PERF_RECORD_LOST body: u64 id, u64 lost. */
export function lostBody(lost: bigint): Buffer {
  const body = Buffer.alloc(16);
  body.writeBigUInt64LE(7n, 0);
  body.writeBigUInt64LE(lost, 8);
  return body;
}

export class FakeRingBuffer {
  readonly consumerPos = new BigUint64Array(1);
  readonly producerPos = new BigUint64Array(1);
  readonly data: Buffer;
  constructor(readonly size: number) {
    this.data = Buffer.alloc(2 * size);
  }

  /** Both copies of the data area (the kernel maps it twice). */
  private put(pos: number, bytes: Buffer): void {
    for (let i = 0; i < bytes.length; i++) {
      const o = (pos + i) % this.size;
      this.data[o] = bytes[i]!;
      this.data[o + this.size] = bytes[i]!;
    }
  }

  private setLen(pos: number, len: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(len >>> 0, 0);
    this.put(pos, b);
  }

  /** bpf_ringbuf_reserve: header with BUSY, producer_pos moved past the record. Returns the record position. */
  reserve(len: number): number {
    const pos = Number(this.producerPos[0]);
    this.setLen(pos, (len | RINGBUF_BUSY_BIT) >>> 0);
    this.producerPos[0] = BigInt(pos + ringbufRecordSpan(len));
    return pos;
  }

  /** Writes the record's bytes, then bpf_ringbuf_submit (BUSY cleared) or _discard (DISCARD set). */
  commit(pos: number, payload: Buffer, discard = false): void {
    this.put(pos + RINGBUF_HDR_SIZE, payload);
    this.setLen(pos, discard ? (payload.length | RINGBUF_DISCARD_BIT) >>> 0 : payload.length);
  }

  /** reserve + commit. */
  output(payload: Buffer): number {
    const pos = this.reserve(payload.length);
    this.commit(pos, payload);
    return pos;
  }

  /** Starts the ring at position pos, as after earlier traffic. */
  startAt(pos: number): void {
    this.producerPos[0] = BigInt(pos);
    this.consumerPos[0] = BigInt(pos);
  }
}

/** Our record prefix (compiler/format.ts RECORD_PREFIX: u64 ts, u32 tgid, u32 cpu, char comm[16]) and a tag after it. */
export function prefixedRecord(ts: bigint, cpu: number, tag: number): Buffer {
  const b = Buffer.alloc(36);
  b.writeBigUInt64LE(ts, 0);
  b.writeUInt32LE(1000, 8);
  b.writeUInt32LE(cpu, 12);
  b.write('fake', 16);
  b.writeUInt32LE(tag, 32);
  return b;
}

export interface Delivered {
  bytes: Buffer;
  meta: SampleMeta;
}

/** A handler that copies what it is handed (the reader's views are only valid during the call). */
export function recorder(): { h: RingHandler; samples: Delivered[]; lost: Array<[number, number]> } {
  const samples: Delivered[] = [];
  const lost: Array<[number, number]> = [];
  return {
    samples,
    lost,
    h: {
      onSample: (raw, off, len, meta) => samples.push({ bytes: Buffer.from(raw.subarray(off, off + len)), meta: { ...meta } }),
      onLost: (cpu, n) => lost.push([cpu, n]),
    },
  };
}
