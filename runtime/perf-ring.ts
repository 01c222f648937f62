// Per-CPU perf ring buffers, read the way the kernel documents it
// (include/uapi/linux/perf_event.h, struct perf_event_mmap_page):
//   - page 0 is the control page; data_head (offset 1024) is written by the
//     kernel, read here with an atomic load (the "smp_rmb after reading
//     data_head" of the header comment); data_tail (offset 1032) is written by
//     us with an atomic store after the records are consumed, so the kernel
//     never overwrites a record we are still reading;
//   - the data area is 2^n pages; head and tail only grow, offsets are taken
//     modulo the size; records are 8-byte aligned so the 8-byte header never
//     straddles the end, but a record body may: such records are copied into
//     a scratch buffer, all others are handed out in place (no copy, no alloc);
//   - PERF_RECORD_LOST {id, lost} says how many samples the kernel dropped
//     because the ring was full: counted per CPU, and reported, never hidden.
import {
  Epoll,
  PAGE_SIZE,
  PERF_COUNT_SW_BPF_OUTPUT,
  PERF_SAMPLE_ADDR,
  PERF_SAMPLE_CALLCHAIN,
  PERF_SAMPLE_CPU,
  PERF_SAMPLE_ID,
  PERF_SAMPLE_IDENTIFIER,
  PERF_SAMPLE_IP,
  PERF_SAMPLE_PERIOD,
  PERF_SAMPLE_RAW,
  PERF_SAMPLE_READ,
  PERF_SAMPLE_STREAM_ID,
  PERF_SAMPLE_TID,
  PERF_SAMPLE_TIME,
  PERF_TYPE_SOFTWARE,
  PROT_READ,
  PROT_WRITE,
  closeFd,
  mmapFd,
  onlineCpus,
  perfEventOpen,
  type Mapping,
  type PerfEventAttr,
} from './sys/index.js';
import { PREFIX_TS } from '../compiler/format.js';

/** enum perf_event_type */
export const PERF_RECORD_LOST = 2;
export const PERF_RECORD_SAMPLE = 9;

/** struct perf_event_mmap_page offsets. */
const MMAP_DATA_HEAD = 1024;
const MMAP_DATA_TAIL = 1032;
const MMAP_DATA_OFFSET = 1040;
const MMAP_DATA_SIZE = 1048;
/** struct perf_event_header: u32 type, u16 misc, u16 size. */
const HEADER_SIZE = 8;

/** What the sample carried besides the raw data (fields present per sample_type). */
export interface SampleMeta {
  /** CPU whose ring held the sample. */
  cpu: number;
  /** PERF_SAMPLE_TID, else -1. */
  pid: number;
  tid: number;
  /** PERF_SAMPLE_TIME in ns (exact below 2^53 ns, ~104 days of uptime), else -1. */
  time: number;
}

/** Consumer of drained records. raw[off, off+len) is valid only during the call. */
export interface RingHandler {
  onSample(raw: Buffer, off: number, len: number, meta: SampleMeta): void;
  onLost?(cpu: number, lost: number): void;
}

/** Reads the time of a raw sample (e.g. our RECORD_PREFIX timestamp) for ordering across CPUs. */
export type RawTime = (raw: Buffer, off: number, len: number) => number;

/** cilium/ebpf's perf.Record: one sample (raw copied) or a count of lost ones. */
export interface PerfRecord {
  readonly cpu: number;
  readonly raw: Buffer | undefined;
  readonly lost: number;
  readonly meta?: Readonly<SampleMeta>;
}

/**
 * A ring read in batches, merged with the others in time order by
 * PerfReader.drain: a CPU's perf ring, or the BPF ring buffer (ring-buffer.ts).
 */
export interface RingSource {
  /** Polled for wakeups. */
  readonly fd: number;
  beginBatch(): boolean;
  peek(): boolean;
  peekTime(timeOf?: RawTime): number;
  deliver(h: RingHandler): number;
  endBatch(): void;
  close(): void;
}

/** Where, inside a PERF_RECORD_SAMPLE body, each field sits for a sample_type (kernel: perf_output_sample order). */
interface SampleLayout {
  readonly tid: number;
  readonly time: number;
  readonly raw: number;
}

function sampleLayout(sampleType: number): SampleLayout {
  if (sampleType & (PERF_SAMPLE_READ | PERF_SAMPLE_CALLCHAIN)) {
    throw new Error('perf ring: PERF_SAMPLE_READ and PERF_SAMPLE_CALLCHAIN are variable-size and not supported');
  }
  if (!(sampleType & PERF_SAMPLE_RAW)) throw new Error('perf ring: sample_type must include PERF_SAMPLE_RAW');
  let off = HEADER_SIZE;
  const at = (bit: number): number => {
    if (!(sampleType & bit)) return -1;
    const o = off;
    off += 8;
    return o;
  };
  at(PERF_SAMPLE_IDENTIFIER);
  at(PERF_SAMPLE_IP);
  const tid = at(PERF_SAMPLE_TID);
  const time = at(PERF_SAMPLE_TIME);
  at(PERF_SAMPLE_ADDR);
  at(PERF_SAMPLE_ID);
  at(PERF_SAMPLE_STREAM_ID);
  at(PERF_SAMPLE_CPU);
  at(PERF_SAMPLE_PERIOD);
  return { tid, time, raw: off };
}

/** One CPU's mmapped ring. */
export class PerfRing implements RingSource {
  readonly cpu: number;
  readonly fd: number;
  /** Samples the kernel reported lost on this CPU (PERF_RECORD_LOST). */
  lost = 0;
  /** Samples read from this CPU. */
  samples = 0;
  /** Records that straddled the end of the ring (copied to scratch). */
  wrapped = 0;
  private mapping: Mapping | undefined;
  private control: BigUint64Array;
  private data: Buffer;
  private readonly size: number;
  private readonly mask: number;
  private tail: number;
  private scratch: Buffer = Buffer.alloc(256);
  private readonly layout: SampleLayout;
  private readonly meta: SampleMeta;

  /** Maps `pages` (a power of two) data pages of an already opened perf event fd. Takes ownership of fd. */
  constructor(fd: number, cpu: number, pages: number, sampleType: number) {
    if (pages < 1 || (pages & (pages - 1)) !== 0) throw new Error(`perf ring: page count ${pages} is not a power of two`);
    this.fd = fd;
    this.cpu = cpu;
    this.layout = sampleLayout(sampleType);
    this.meta = { cpu, pid: -1, tid: -1, time: -1 };
    const mapping = mmapFd(fd, (pages + 1) * PAGE_SIZE, PROT_READ | PROT_WRITE);
    this.mapping = mapping;
    this.control = new BigUint64Array(mapping.buffer, 0, PAGE_SIZE / 8);
    const dataOffset = Number(this.control[MMAP_DATA_OFFSET / 8]) || PAGE_SIZE;
    this.size = Number(this.control[MMAP_DATA_SIZE / 8]) || pages * PAGE_SIZE;
    this.mask = this.size - 1;
    this.data = Buffer.from(mapping.buffer, dataOffset, this.size);
    this.tail = Number(Atomics.load(this.control, MMAP_DATA_TAIL / 8));
  }

  /** Bytes written by the kernel and not yet consumed. */
  pending(): number {
    return Number(Atomics.load(this.control, MMAP_DATA_HEAD / 8)) - this.tail;
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
    if (!this.mapping) return false;
    this.head = Number(Atomics.load(this.control, MMAP_DATA_HEAD / 8));
    this.cursor = this.tail;
    return this.head !== this.cursor;
  }

  /** Decodes the record at the cursor; false at the end of the batch. */
  peek(): boolean {
    if (this.cursor >= this.head) return false;
    const data = this.data;
    const off = this.cursor & this.mask;
    const size = data.readUInt16LE(off + 6);
    if (size < HEADER_SIZE) {
      // A corrupt ring: stop rather than spin; skip to the head.
      this.cursor = this.head;
      return false;
    }
    this.recType = data.readUInt32LE(off);
    this.recSize = size;
    if (off + size > this.size) {
      // Wraps the end of the ring: stitch the two parts together.
      if (this.scratch.length < size) this.scratch = Buffer.alloc(Math.max(size, this.scratch.length * 2));
      const first = this.size - off;
      data.copy(this.scratch, 0, off, this.size);
      data.copy(this.scratch, first, 0, size - first);
      this.recBuf = this.scratch;
      this.recBase = 0;
      this.wrapped++;
    } else {
      this.recBuf = data;
      this.recBase = off;
    }
    return true;
  }

  /**
   * Sort key of the peeked record: LOST records first (-Infinity), samples by
   * PERF_SAMPLE_TIME, else by timeOf(raw) when given, else 0.
   */
  peekTime(timeOf?: RawTime): number {
    if (this.recType !== PERF_RECORD_SAMPLE) return -Infinity;
    const b = this.recBuf;
    const base = this.recBase;
    if (this.layout.time >= 0) return b.readUInt32LE(base + this.layout.time + 4) * 4294967296 + b.readUInt32LE(base + this.layout.time);
    if (timeOf) return timeOf(b, base + this.layout.raw + 4, b.readUInt32LE(base + this.layout.raw));
    return 0;
  }

  /** Hands the peeked record to h and moves past it; returns 1 for a sample. */
  deliver(h: RingHandler): number {
    const buf = this.recBuf;
    const base = this.recBase;
    const layout = this.layout;
    this.cursor += this.recSize;
    if (this.recType === PERF_RECORD_SAMPLE) {
      const meta = this.meta;
      if (layout.tid >= 0) {
        meta.pid = buf.readUInt32LE(base + layout.tid);
        meta.tid = buf.readUInt32LE(base + layout.tid + 4);
      }
      if (layout.time >= 0) meta.time = buf.readUInt32LE(base + layout.time + 4) * 4294967296 + buf.readUInt32LE(base + layout.time);
      this.samples++;
      h.onSample(buf, base + layout.raw + 4, buf.readUInt32LE(base + layout.raw), meta);
      return 1;
    }
    if (this.recType === PERF_RECORD_LOST) {
      // {header, u64 id, u64 lost}
      const lost = buf.readUInt32LE(base + 16) + buf.readUInt32LE(base + 20) * 4294967296;
      this.lost += lost;
      h.onLost?.(this.cpu, lost);
    }
    return 0;
  }

  /** Releases what the batch consumed: data_tail is stored (atomically) only now, so records stayed valid while read in place. */
  endBatch(): void {
    if (!this.mapping || this.cursor === this.tail) return;
    this.tail = this.cursor;
    Atomics.store(this.control, MMAP_DATA_TAIL / 8, BigInt(this.tail));
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

  /** Unmaps the ring and closes its fd. */
  close(): void {
    if (!this.mapping) return;
    const m = this.mapping;
    this.mapping = undefined;
    this.control = new BigUint64Array(0);
    this.data = Buffer.alloc(0);
    m.unmap();
    closeFd(this.fd);
  }
}

export interface PerfReaderOptions {
  /** Data pages per CPU, a power of two (default 64 = 256 KiB). */
  pages?: number;
  /** Wake the reader after this many bytes are in a ring (wakeup_watermark); default: a quarter of the ring. */
  watermarkBytes?: number;
  /** Wake after every N samples instead of a byte watermark. */
  wakeupEvents?: number;
  /** CPUs to open rings on (default: all online). */
  cpus?: readonly number[];
  /** For samples without PERF_SAMPLE_TIME: where their time is, so drain() can merge CPUs in time order. */
  timeOf?: RawTime;
}

/** Per-CPU rings with one epoll over them. */
export class PerfReader {
  readonly rings: readonly PerfRing[];
  private readonly epoll: Epoll;
  private closed = false;
  private readonly timeOf: RawTime | undefined;
  /** The rings drain() merges: the per-CPU rings, then any added source. */
  private readonly sources: RingSource[];
  private readonly active: RingSource[] = [];
  private readonly keys: number[] = [];

  /** Opens, per CPU, a PERF_COUNT_SW_BPF_OUTPUT event with PERF_SAMPLE_RAW: the fds a PERF_EVENT_ARRAY map holds. */
  static forBpfOutput(opts: PerfReaderOptions = {}): PerfReader {
    return PerfReader.open(
      () => ({ type: PERF_TYPE_SOFTWARE, config: BigInt(PERF_COUNT_SW_BPF_OUTPUT), samplePeriod: 1n, sampleType: PERF_SAMPLE_RAW }),
      { timeOf: (raw, off) => raw.readUInt32LE(off + PREFIX_TS + 4) * 4294967296 + raw.readUInt32LE(off + PREFIX_TS), ...opts },
    );
  }

  /**
   * Opens one event per CPU from a caller-built attr (pid -1: every task on
   * that CPU) and maps its ring. Used for BPF output and for tracepoint events.
   */
  static open(makeAttr: (cpu: number) => PerfEventAttr, opts: PerfReaderOptions = {}, pid = -1): PerfReader {
    const pages = opts.pages ?? 64;
    const cpus = opts.cpus ?? onlineCpus();
    const wakeup: Pick<PerfEventAttr, 'wakeup' | 'flags'> =
      opts.wakeupEvents !== undefined
        ? { wakeup: opts.wakeupEvents, flags: [] }
        : { wakeup: opts.watermarkBytes ?? Math.max(1, (pages * PAGE_SIZE) >> 2), flags: ['watermark'] };
    const rings: PerfRing[] = [];
    try {
      for (const cpu of cpus) {
        const attr = makeAttr(cpu);
        const merged: PerfEventAttr = { ...attr, wakeup: wakeup.wakeup, flags: [...(attr.flags ?? []), ...(wakeup.flags ?? [])] };
        const fd = perfEventOpen(merged, pid, cpu);
        try {
          rings.push(new PerfRing(fd, cpu, pages, merged.sampleType ?? 0));
        } catch (e) {
          closeFd(fd);
          throw e;
        }
      }
      return new PerfReader(rings, opts.timeOf);
    } catch (e) {
      for (const r of rings) r.close();
      throw e;
    }
  }

  constructor(rings: readonly PerfRing[], timeOf?: RawTime) {
    this.rings = rings;
    this.sources = [...rings];
    this.timeOf = timeOf;
    // one spare slot for a ring buffer added later (addSource)
    this.epoll = new Epoll(Math.max(1, rings.length) + 1);
    try {
      rings.forEach((r, i) => this.epoll.add(r.fd, i));
    } catch (e) {
      this.epoll.close();
      throw e;
    }
  }

  /**
   * Merges another ring (the BPF ring buffer of sleepable programs) into
   * drain() and poll(); closed with the reader.
   */
  addSource(src: RingSource): void {
    this.epoll.add(src.fd, this.sources.length);
    this.sources.push(src);
  }

  /** cpu -> perf fd, for the PERF_EVENT_ARRAY map (key = cpu). */
  fds(): Map<number, number> {
    return new Map(this.rings.map((r) => [r.cpu, r.fd]));
  }

  /**
   * Reads everything available in every ring, without waiting, merging the
   * CPUs in time order the way ftrace's trace file does (within what this
   * call sees). Records are read in place. Returns samples read.
   */
  drain(h: RingHandler): number {
    const active = this.active;
    const keys = this.keys;
    active.length = 0;
    keys.length = 0;
    for (const r of this.sources) {
      if (r.beginBatch() && r.peek()) {
        active.push(r);
        keys.push(r.peekTime(this.timeOf));
      } else r.endBatch();
    }
    let n = 0;
    try {
      while (active.length > 0) {
        let m = 0;
        for (let i = 1; i < active.length; i++) if (keys[i]! < keys[m]!) m = i;
        const r = active[m]!;
        n += r.deliver(h);
        if (r.peek()) keys[m] = r.peekTime(this.timeOf);
        else {
          r.endBatch();
          active.splice(m, 1);
          keys.splice(m, 1);
        }
      }
    } finally {
      // Also when h threw: release what was delivered.
      for (const r of active) r.endBatch();
    }
    return n;
  }

  /** Waits (blocking this thread) up to timeoutMs for a wakeup, then drains. */
  pollSync(h: RingHandler, timeoutMs: number): number {
    this.epoll.wait(timeoutMs);
    return this.drain(h);
  }

  /**
   * Drains; only when nothing was there, waits off-thread up to timeoutMs for
   * a wakeup and drains again (on timeout too: data below the watermark). A
   * busy ring is thus read back to back without a thread round trip per
   * batch, which is what keeps it from filling.
   */
  async poll(h: RingHandler, timeoutMs: number): Promise<number> {
    if (this.closed) return 0;
    const n = this.drain(h);
    if (n > 0) return n;
    await this.epoll.waitAsync(timeoutMs);
    if (this.closed) return 0;
    return this.drain(h);
  }

  /** Lost samples per CPU so far. */
  lost(): Map<number, number> {
    return new Map(this.rings.map((r) => [r.cpu, r.lost]));
  }

  totalLost(): number {
    let n = 0;
    for (const r of this.rings) n += r.lost;
    return n;
  }

  /** Convenience reader in cilium/ebpf's shape; allocates per record (not for the hot path). */
  readAll(): PerfRecord[] {
    const out: PerfRecord[] = [];
    this.drain({
      onSample: (raw, off, len, meta) => out.push({ cpu: meta.cpu, raw: Buffer.from(raw.subarray(off, off + len)), lost: 0, meta: { ...meta } }),
      onLost: (cpu, lost) => out.push({ cpu, raw: undefined, lost }),
    });
    return out;
  }

  /** Drains what is left into h (if given), then unmaps and closes every ring. Idempotent. */
  close(h?: RingHandler): void {
    if (this.closed) return;
    this.closed = true;
    const errors: unknown[] = [];
    if (h) {
      try {
        this.drain(h);
      } catch (e) {
        errors.push(e);
      }
    }
    for (const r of this.sources) {
      try {
        r.close();
      } catch (e) {
        errors.push(e);
      }
    }
    try {
      this.epoll.close();
    } catch (e) {
      errors.push(e);
    }
    if (errors.length) throw errors[0];
  }
}
