// The BPF ring buffer (BPF_MAP_TYPE_RINGBUF) sleepable programs copy their
// records in, read as the kernel lays it out (kernel/bpf/ringbuf.c), over
// views the caller provides (the mmap owner, or plain memory in tests):
//   - the consumer page, ours to write (consumer_pos at +0);
//   - the producer page (producer_pos at +0), then the data area, mapped
//     once (a record that wraps the end is copied whole into a scratch buffer)
//     or twice in a row as the kernel offers (it then reads contiguously and
//     is always handed out in place; the second copy costs its size in RSS,
//     the kernel populates the whole mapping);
//   - each record: u32 len (bit 31 BUSY while the producer still writes it,
//     bit 30 DISCARD), u32 page offset, then len bytes, padded to 8.
// Positions only grow; offsets are taken modulo the size. consumer_pos is
// stored (atomically) only after a batch was delivered, so the kernel never
// reuses bytes a handler is still reading. One ring serves every CPU: a full
// ring makes bpf_ringbuf_output fail, which the program counts as a miss.
import { hasRecordCpu, hasRecordTime, recordCpu, recordTime } from './record-prefix.js';
import type { RawTime, Release, RingHandler, RingSource, SampleMeta } from './source.js';
import { RingLayoutError } from './errors.js';

/** include/uapi/linux/bpf.h: BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT, BPF_RINGBUF_HDR_SZ. */
export const RINGBUF_BUSY_BIT = 0x80000000;
export const RINGBUF_DISCARD_BIT = 0x40000000;
export const RINGBUF_HDR_SIZE = 8;

/** Bytes a record of len data bytes takes in the ring: header, data, padding to 8. */
export const ringbufRecordSpan = (len: number): number => (len + RINGBUF_HDR_SIZE + 7) & ~7;

export interface RingBufferViews {
  /** consumer_pos (element 0). */
  readonly consumerPos: BigUint64Array;
  /** producer_pos (element 0). */
  readonly producerPos: BigUint64Array;
  /** The data area once, or twice in a row (4-byte aligned). */
  readonly data: Buffer;
  /** max_entries (default data.length / 2: mapped twice). */
  readonly size?: number;
}

export interface RingBufferOptions {
  /** The map fd, polled for wakeups (default -1: none). Not owned: the loader closes it. */
  readonly fd?: number;
  /** Called once by close(): unmaps the views. */
  readonly release?: Release;
}

export class RingBuffer implements RingSource {
  readonly fd: number;
  /** Records read. */
  samples = 0;
  private consumerPos: BigUint64Array;
  private producerPos: BigUint64Array;
  private lens: Uint32Array;
  private data: Buffer;
  /** Whether data holds the area once: a wrapping record is then copied into scratch. */
  private readonly single: boolean;
  private scratch: Buffer = Buffer.alloc(0);
  /** Where the peeked record's bytes are: data, or scratch for a wrapped record of a single mapping. */
  private recData: Buffer = Buffer.alloc(0);
  private release: Release | undefined;
  private open = true;
  private readonly mask: number;
  /** Bytes delivered within a batch after which their space is released early: an eighth of the ring. */
  private readonly releaseEvery: number;
  private readonly meta: SampleMeta = { cpu: -1, pid: -1, tid: -1, time: -1 };
  private tail = 0;
  private head = 0;
  private cursor = 0;
  /** The record at the cursor (after peek() returned true): its length and offset in data. */
  private recLen = 0;
  private recOff = -1;

  constructor(views: RingBufferViews, opts: RingBufferOptions = {}) {
    const size = views.size ?? views.data.length / 2;
    if (views.data.length !== size && views.data.length !== 2 * size) throw new RingLayoutError(`ring buffer: data area of ${views.data.length} bytes for a ${size}-byte ring`);
    if (!Number.isInteger(size) || size < RINGBUF_HDR_SIZE || (size & (size - 1)) !== 0) throw new RingLayoutError(`ring buffer: data area of ${size} bytes is not a power of two`);
    if (views.data.byteOffset % 4 !== 0) throw new RingLayoutError('ring buffer: data area is not 4-byte aligned');
    this.fd = opts.fd ?? -1;
    this.release = opts.release;
    this.mask = size - 1;
    this.releaseEvery = Math.max(RINGBUF_HDR_SIZE, size >> 3);
    this.consumerPos = views.consumerPos;
    this.producerPos = views.producerPos;
    this.data = views.data;
    this.single = views.data.length === size;
    this.lens = new Uint32Array(views.data.buffer, views.data.byteOffset, views.data.length / 4);
    this.tail = Number(Atomics.load(this.consumerPos, 0));
  }

  /** Snapshots producer_pos (acquire: the records before it are complete or marked busy). */
  beginBatch(): boolean {
    if (!this.open) return false;
    this.head = Number(Atomics.load(this.producerPos, 0));
    this.cursor = this.tail;
    return this.head !== this.cursor;
  }

  /** Decodes the record at the cursor; false at the end of the batch or at a record still being written. */
  peek(): boolean {
    for (;;) {
      if (this.cursor >= this.head) return false;
      const off = this.cursor & this.mask;
      const len = Atomics.load(this.lens, off / 4);
      // Reserved, not yet committed: records after it wait too (the kernel commits in any order, we read in order).
      if (len & RINGBUF_BUSY_BIT) return false;
      const bytes = len & ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT);
      if (len & RINGBUF_DISCARD_BIT) {
        this.cursor += ringbufRecordSpan(bytes);
        continue;
      }
      this.recLen = bytes;
      this.recOff = off + RINGBUF_HDR_SIZE;
      this.recData = this.data;
      // the header is 8-aligned and never wraps; the bytes after it may
      if (this.single && this.recOff + bytes > this.data.length) this.unwrap();
      return true;
    }
  }

  /** Copies the peeked record's two pieces (end of the area, then its start) into scratch. */
  private unwrap(): void {
    const len = this.recLen;
    if (this.scratch.length < len) this.scratch = Buffer.alloc(Math.max(len, 2 * this.scratch.length));
    const first = this.data.length - this.recOff;
    this.data.copy(this.scratch, 0, this.recOff);
    this.data.copy(this.scratch, first, 0, len - first);
    this.recData = this.scratch;
    this.recOff = 0;
  }

  /** Sort key of the peeked record: the record's own timestamp (our record prefix) by timeOf, else 0. */
  peekTime(timeOf?: RawTime): number {
    return timeOf ? timeOf(this.recData, this.recOff, this.recLen) : 0;
  }

  /** Hands the peeked record to h and moves past it; returns 1. */
  deliver(h: RingHandler): number {
    const off = this.recOff;
    const len = this.recLen;
    const data = this.recData;
    this.cursor += ringbufRecordSpan(len);
    const meta = this.meta;
    if (hasRecordCpu(len)) meta.cpu = recordCpu(data, off);
    if (hasRecordTime(len)) meta.time = recordTime(data, off);
    this.samples++;
    h.onSample(data, off, len, meta);
    // A big batch gives its space back as it goes, not only at its end: the
    // producer keeps writing while we format, and a ring sized to the records
    // (compiler/abi.ts ringbufBytes) has little room to spare.
    if (this.cursor - this.tail >= this.releaseEvery) this.releaseConsumed();
    return 1;
  }

  /** Hands the ring the space of every record delivered so far (release store of consumer_pos). */
  private releaseConsumed(): void {
    this.tail = this.cursor;
    Atomics.store(this.consumerPos, 0, BigInt(this.tail));
  }

  /** Releases what the batch consumed (release store of consumer_pos). */
  endBatch(): void {
    if (!this.open || this.cursor === this.tail) return;
    this.releaseConsumed();
  }

  /** Drops the views, then lets the owner unmap them; the map fd stays the loader's. Idempotent. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.consumerPos = new BigUint64Array(0);
    this.producerPos = new BigUint64Array(0);
    this.lens = new Uint32Array(0);
    this.data = Buffer.alloc(0);
    this.recData = this.data;
    this.scratch = this.data;
    const release = this.release;
    this.release = undefined;
    release?.();
  }
}
