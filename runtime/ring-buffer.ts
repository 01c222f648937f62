// The BPF ring buffer (BPF_MAP_TYPE_RINGBUF) sleepable programs reserve their
// records in, read as the kernel lays it out (kernel/bpf/ringbuf.c):
//   - map offset 0: the consumer page, ours to write (consumer_pos at +0);
//   - map offset PAGE_SIZE: the producer page (producer_pos at +0), then the
//     data area mapped twice in a row, so a record that wraps the end reads
//     contiguously and is always handed out in place;
//   - each record: u32 len (bit 31 BUSY while the producer still writes it,
//     bit 30 DISCARD), u32 page offset, then len bytes, padded to 8.
// Positions only grow; offsets are taken modulo the size. consumer_pos is
// stored (atomically) only after a batch was delivered, so the kernel never
// reuses bytes a handler is still reading. One ring serves every CPU: a full
// ring makes bpf_ringbuf_reserve fail, which the program counts as a miss.
import { PREFIX_CPU, PREFIX_TS } from '../compiler/format.js';
import type { RawTime, RingHandler, RingSource, SampleMeta } from './perf-ring.js';
import { PAGE_SIZE, PROT_READ, PROT_WRITE, mmapFd, type Mapping } from './sys/index.js';

/** include/uapi/linux/bpf.h: BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT, BPF_RINGBUF_HDR_SZ. */
const BUSY_BIT = 0x80000000;
const DISCARD_BIT = 0x40000000;
const HDR_SIZE = 8;

/** Reads a RINGBUF map; does not own the map fd (the loader closes it). */
export class RingBuffer implements RingSource {
  readonly fd: number;
  /** Records read. */
  samples = 0;
  private consumer: Mapping | undefined;
  private producer: Mapping | undefined;
  private consumerPos: BigUint64Array;
  private producerPos: BigUint64Array;
  private lens: Uint32Array;
  private data: Buffer;
  private readonly mask: number;
  private readonly meta: SampleMeta = { cpu: -1, pid: -1, tid: -1, time: -1 };
  private tail = 0;
  private head = 0;
  private cursor = 0;
  /** The record at the cursor (after peek() returned true): its length and offset in data, or -1 if discarded. */
  private recLen = 0;
  private recOff = -1;

  /** Maps a ring buffer map of `size` bytes (its max_entries). */
  constructor(mapFd: number, size: number) {
    if (size < PAGE_SIZE || (size & (size - 1)) !== 0) throw new Error(`ring buffer: size ${size} is not a power-of-two multiple of the page size`);
    this.fd = mapFd;
    this.mask = size - 1;
    const consumer = mmapFd(mapFd, PAGE_SIZE, PROT_READ | PROT_WRITE);
    let producer: Mapping;
    try {
      producer = mmapFd(mapFd, PAGE_SIZE + 2 * size, PROT_READ, undefined, PAGE_SIZE);
    } catch (e) {
      consumer.unmap();
      throw e;
    }
    this.consumer = consumer;
    this.producer = producer;
    this.consumerPos = new BigUint64Array(consumer.buffer, 0, 1);
    this.producerPos = new BigUint64Array(producer.buffer, 0, 1);
    this.lens = new Uint32Array(producer.buffer, PAGE_SIZE, (2 * size) / 4);
    this.data = Buffer.from(producer.buffer, PAGE_SIZE, 2 * size);
    this.tail = Number(Atomics.load(this.consumerPos, 0));
  }

  /** Snapshots producer_pos (acquire: the records before it are complete or marked busy). */
  beginBatch(): boolean {
    if (!this.producer) return false;
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
      if (len & BUSY_BIT) return false;
      const bytes = len & ~(BUSY_BIT | DISCARD_BIT);
      if (len & DISCARD_BIT) {
        this.cursor += (bytes + HDR_SIZE + 7) & ~7;
        continue;
      }
      this.recLen = bytes;
      this.recOff = off + HDR_SIZE;
      return true;
    }
  }

  /** Sort key of the peeked record: the record's own timestamp (our RECORD_PREFIX) by timeOf, else 0. */
  peekTime(timeOf?: RawTime): number {
    return timeOf ? timeOf(this.data, this.recOff, this.recLen) : 0;
  }

  /** Hands the peeked record to h and moves past it; returns 1. */
  deliver(h: RingHandler): number {
    const off = this.recOff;
    const len = this.recLen;
    this.cursor += (len + HDR_SIZE + 7) & ~7;
    const meta = this.meta;
    if (len >= PREFIX_CPU + 4) meta.cpu = this.data.readUInt32LE(off + PREFIX_CPU);
    if (len >= PREFIX_TS + 8) meta.time = this.data.readUInt32LE(off + PREFIX_TS + 4) * 4294967296 + this.data.readUInt32LE(off + PREFIX_TS);
    this.samples++;
    h.onSample(this.data, off, len, meta);
    return 1;
  }

  /** Releases what the batch consumed (release store of consumer_pos). */
  endBatch(): void {
    if (!this.consumer || this.cursor === this.tail) return;
    this.tail = this.cursor;
    Atomics.store(this.consumerPos, 0, BigInt(this.tail));
  }

  /** Unmaps the ring; the map fd stays the loader's. */
  close(): void {
    const c = this.consumer;
    const p = this.producer;
    this.consumer = undefined;
    this.producer = undefined;
    this.consumerPos = new BigUint64Array(0);
    this.producerPos = new BigUint64Array(0);
    this.lens = new Uint32Array(0);
    this.data = Buffer.alloc(0);
    try {
      p?.unmap();
    } finally {
      c?.unmap();
    }
  }
}
