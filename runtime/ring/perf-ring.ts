// One CPU's perf ring, read the way the kernel documents it
// (include/uapi/linux/perf_event.h, struct perf_event_mmap_page), over two
// views the caller provides (the mmap owner, or plain memory in tests):
//   - the control page: data_head (offset 1024) is written by the kernel and
//     read here with an atomic load (the "smp_rmb after reading data_head" of
//     the header comment); data_tail (offset 1032) is ours, stored atomically
//     only after the records are consumed, so the kernel never overwrites a
//     record we are still reading;
//   - the data area, 2^n bytes; head and tail only grow, offsets are taken
//     modulo the size. Records are 8-byte aligned so the 8-byte header never
//     straddles the end, but a record body may: such records are copied into
//     a scratch buffer, all others are handed out in place (no copy, no alloc);
//   - PERF_RECORD_LOST {id, lost} says how many samples the kernel dropped
//     because the ring was full: counted per CPU, and reported, never hidden.
import { readU64Number } from '../../lib/u64.js';
import { PERF_HEADER_SIZE, sampleLayout, type SampleLayout } from './sample-layout.js';
import type { RawTime, Release, RingHandler, RingSource, SampleMeta } from './source.js';
import { RingLayoutError } from './errors.js';

/** enum perf_event_type */
export const PERF_RECORD_LOST = 2;
export const PERF_RECORD_SAMPLE = 9;

/** struct perf_event_mmap_page: byte offsets of the ring positions and of the data area's place. */
export const MMAP_PAGE = { dataHead: 1024, dataTail: 1032, dataOffset: 1040, dataSize: 1048 } as const;
/** PERF_RECORD_LOST body after the header: u64 id, then u64 lost. */
const LOST_COUNT = PERF_HEADER_SIZE + 8;

export interface PerfRingViews {
  /** The control page (struct perf_event_mmap_page), at least up to data_size. */
  readonly control: BigUint64Array;
  /** The data area; its length is a power of two. */
  readonly data: Buffer;
}

export interface PerfRingOptions {
  readonly cpu: number;
  /** The event's perf_event_attr.sample_type. */
  readonly sampleType: number;
  /** The perf event fd, polled for wakeups (default -1: none). */
  readonly fd?: number;
  /** Called once by close(): unmaps the views, closes the fd. */
  readonly release?: Release;
}

/** The data area's place in the mapping, as the control page says (0 from a kernel before 4.1: right after the page). */
export function perfDataArea(control: BigUint64Array, pageSize: number, dataPages: number): { offset: number; size: number } {
  return {
    offset: Number(control[MMAP_PAGE.dataOffset / 8]) || pageSize,
    size: Number(control[MMAP_PAGE.dataSize / 8]) || dataPages * pageSize,
  };
}

export class PerfRing implements RingSource {
  readonly cpu: number;
  readonly fd: number;
  /** Samples the kernel reported lost on this CPU (PERF_RECORD_LOST). */
  lost = 0;
  /** Samples read from this CPU. */
  samples = 0;
  /** Records that straddled the end of the ring (copied to scratch). */
  wrapped = 0;
  private control: BigUint64Array;
  private data: Buffer;
  private release: Release | undefined;
  private open = true;
  private readonly size: number;
  private readonly mask: number;
  private tail: number;
  private scratch: Buffer = Buffer.alloc(256);
  private readonly layout: SampleLayout;
  private readonly meta: SampleMeta;

  constructor(views: PerfRingViews, opts: PerfRingOptions) {
    const size = views.data.length;
    if (size < PERF_HEADER_SIZE || (size & (size - 1)) !== 0) throw new RingLayoutError(`perf ring: data size ${size} is not a power of two`);
    this.control = views.control;
    this.data = views.data;
    this.size = size;
    this.mask = size - 1;
    this.cpu = opts.cpu;
    this.fd = opts.fd ?? -1;
    this.release = opts.release;
    this.layout = sampleLayout(opts.sampleType);
    this.meta = { cpu: opts.cpu, pid: -1, tid: -1, time: -1 };
    this.tail = Number(Atomics.load(this.control, MMAP_PAGE.dataTail / 8));
  }

  /** Bytes written by the kernel and not yet consumed. */
  pending(): number {
    return this.loadHead() - this.tail;
  }

  private loadHead(): number {
    return Number(Atomics.load(this.control, MMAP_PAGE.dataHead / 8));
  }

  // --- batch cursor: records between the tail and a head snapshot, read in place ---
  private head = 0;
  private cursor = 0;
  /** The record at the cursor (valid after peek() returned true). */
  private recType = 0;
  private recSize = 0;
  private recBuf: Buffer = Buffer.alloc(0);
  private recBase = 0;

  /** Snapshots data_head (atomic load: the kernel's writes before it are visible after it). */
  beginBatch(): boolean {
    if (!this.open) return false;
    this.head = this.loadHead();
    this.cursor = this.tail;
    return this.head !== this.cursor;
  }

  /** Decodes the record at the cursor; false at the end of the batch. */
  peek(): boolean {
    if (this.cursor >= this.head) return false;
    const off = this.cursor & this.mask;
    const size = this.data.readUInt16LE(off + 6);
    if (size < PERF_HEADER_SIZE) {
      // A corrupt ring: stop rather than spin; skip to the head.
      this.cursor = this.head;
      return false;
    }
    // A header whose record reaches past the snapshot is not complete yet:
    // leave it (unconsumed) for a batch that sees the rest published.
    if (this.cursor + size > this.head) return false;
    this.recType = this.data.readUInt32LE(off);
    this.recSize = size;
    if (off + size > this.size) this.stitch(off, size);
    else {
      this.recBuf = this.data;
      this.recBase = off;
    }
    return true;
  }

  /** A record that wraps the end of the ring: its two parts copied together into scratch. */
  private stitch(off: number, size: number): void {
    if (this.scratch.length < size) this.scratch = Buffer.alloc(Math.max(size, this.scratch.length * 2));
    const first = this.size - off;
    this.data.copy(this.scratch, 0, off, this.size);
    this.data.copy(this.scratch, first, 0, size - first);
    this.recBuf = this.scratch;
    this.recBase = 0;
    this.wrapped++;
  }

  /**
   * Sort key of the peeked record: LOST records first (-Infinity), samples by
   * PERF_SAMPLE_TIME, else by timeOf(raw) when given, else 0.
   */
  peekTime(timeOf?: RawTime): number {
    if (this.recType !== PERF_RECORD_SAMPLE) return -Infinity;
    const b = this.recBuf;
    const base = this.recBase;
    if (this.layout.time >= 0) return readU64Number(b, base + this.layout.time);
    if (timeOf) return timeOf(b, base + this.layout.raw + 4, b.readUInt32LE(base + this.layout.raw));
    return 0;
  }

  /** Hands the peeked record to h and moves past it; returns 1 for a sample. */
  deliver(h: RingHandler): number {
    this.cursor += this.recSize;
    if (this.recType === PERF_RECORD_SAMPLE) {
      this.deliverSample(h);
      return 1;
    }
    if (this.recType === PERF_RECORD_LOST) {
      const lost = readU64Number(this.recBuf, this.recBase + LOST_COUNT);
      this.lost += lost;
      h.onLost?.(this.cpu, lost);
    }
    return 0;
  }

  private deliverSample(h: RingHandler): void {
    const buf = this.recBuf;
    const base = this.recBase;
    const layout = this.layout;
    const meta = this.meta;
    if (layout.tid >= 0) {
      meta.pid = buf.readUInt32LE(base + layout.tid);
      meta.tid = buf.readUInt32LE(base + layout.tid + 4);
    }
    if (layout.time >= 0) meta.time = readU64Number(buf, base + layout.time);
    this.samples++;
    h.onSample(buf, base + layout.raw + 4, buf.readUInt32LE(base + layout.raw), meta);
  }

  /** Releases what the batch consumed: data_tail is stored (atomically) only now, so records stayed valid while read in place. */
  endBatch(): void {
    if (!this.open || this.cursor === this.tail) return;
    this.tail = this.cursor;
    Atomics.store(this.control, MMAP_PAGE.dataTail / 8, BigInt(this.tail));
  }

  /** Hands every complete record to h in ring order; returns samples read. */
  drain(h: RingHandler): number {
    if (!this.beginBatch()) return 0;
    let n = 0;
    try {
      while (this.peek()) n += this.deliver(h);
    } finally {
      // Also when h threw: what was delivered is consumed, never handed out twice.
      this.endBatch();
    }
    return n;
  }

  /** Drops the views, then lets the owner unmap and close. Idempotent. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.control = new BigUint64Array(0);
    this.data = Buffer.alloc(0);
    const release = this.release;
    this.release = undefined;
    release?.();
  }
}
