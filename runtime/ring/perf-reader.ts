// The per-CPU perf rings of one trace, with one epoll over them: opens a perf
// event per CPU (perf_event_open), maps its ring, waits for wakeups and
// drains every ring (plus any added source, e.g. the BPF ring buffer) in time
// order. Owns the fds, the mappings and the epoll; closes all of them.
import { closeAll } from '../../lib/close-all.js';
import {
  Epoll,
  PAGE_SIZE,
  PERF_COUNT_SW_BPF_OUTPUT,
  PERF_SAMPLE_RAW,
  PERF_TYPE_SOFTWARE,
  closeFd,
  onlineCpus,
  perfEventOpen,
  type PerfEventAttr,
} from '../sys/index.js';
import { RingMerge } from './merge.js';
import { mapPerfRing } from './mmap.js';
import type { PerfRing } from './perf-ring.js';
import { recordTime } from './record-prefix.js';
import type { PerfRecord, RawTime, RingHandler, RingSource } from './source.js';

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

/** The attr's wakeup fields for the options: every N samples, or a byte watermark. */
function wakeupOf(opts: PerfReaderOptions, pages: number): Pick<PerfEventAttr, 'wakeup' | 'flags'> {
  if (opts.wakeupEvents !== undefined) return { wakeup: opts.wakeupEvents, flags: [] };
  return { wakeup: opts.watermarkBytes ?? Math.max(1, (pages * PAGE_SIZE) >> 2), flags: ['watermark'] };
}

/** Opens the CPU's event and maps its ring; closes the fd if mapping fails. */
function openRing(attr: PerfEventAttr, pid: number, cpu: number, pages: number): PerfRing {
  const fd = perfEventOpen(attr, pid, cpu);
  try {
    return mapPerfRing(fd, cpu, pages, attr.sampleType ?? 0);
  } catch (e) {
    closeFd(fd);
    throw e;
  }
}

export class PerfReader {
  readonly rings: readonly PerfRing[];
  private readonly epoll: Epoll;
  private closed = false;
  /** The rings drain() merges: the per-CPU rings, then any added source. */
  private readonly sources: RingSource[];
  private readonly merge: RingMerge;

  /** Opens, per CPU, a PERF_COUNT_SW_BPF_OUTPUT event with PERF_SAMPLE_RAW: the fds a PERF_EVENT_ARRAY map holds. */
  static forBpfOutput(opts: PerfReaderOptions = {}): PerfReader {
    return PerfReader.open(
      () => ({ type: PERF_TYPE_SOFTWARE, config: BigInt(PERF_COUNT_SW_BPF_OUTPUT), samplePeriod: 1n, sampleType: PERF_SAMPLE_RAW }),
      { timeOf: recordTime, ...opts },
    );
  }

  /**
   * Opens one event per CPU from a caller-built attr (pid -1: every task on
   * that CPU) and maps its ring. Used for BPF output and for tracepoint events.
   */
  static open(makeAttr: (cpu: number) => PerfEventAttr, opts: PerfReaderOptions = {}, pid = -1): PerfReader {
    const pages = opts.pages ?? 64;
    const wakeup = wakeupOf(opts, pages);
    const rings: PerfRing[] = [];
    try {
      for (const cpu of opts.cpus ?? onlineCpus()) {
        const attr = makeAttr(cpu);
        rings.push(openRing({ ...attr, wakeup: wakeup.wakeup, flags: [...(attr.flags ?? []), ...(wakeup.flags ?? [])] }, pid, cpu, pages));
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
    this.merge = new RingMerge(timeOf);
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
    return this.merge.drain(this.sources, h);
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
    closeAll([
      ...(h ? [() => void this.drain(h)] : []),
      ...this.sources.map((r) => () => r.close()),
      () => this.epoll.close(),
    ]);
  }
}
