// What every ring reader hands out and how the merge drives it. A reader is
// read in batches: beginBatch snapshots how far the producer got, peek/deliver
// walk the records below that snapshot, endBatch tells the producer which
// bytes are free again. Records are handed out in place, valid only during
// the handler call.

/** What the sample carried besides the raw data (fields present per sample_type). */
export interface SampleMeta {
  /** CPU whose ring held the sample (the record's own CPU for the BPF ring buffer). */
  cpu: number;
  /** PERF_SAMPLE_TID, else -1. */
  pid: number;
  tid: number;
  /** PERF_SAMPLE_TIME (or the record's timestamp) in ns, exact below 2^53 ns (~104 days of uptime), else -1. */
  time: number;
}

/** Consumer of drained records. raw[off, off+len) is valid only during the call. */
export interface RingHandler {
  onSample(raw: Buffer, off: number, len: number, meta: SampleMeta): void;
  onLost?(cpu: number, lost: number): void;
}

/** Reads the time of a raw sample (e.g. our record prefix's timestamp) for ordering across rings. */
export type RawTime = (raw: Buffer, off: number, len: number) => number;

/** cilium/ebpf's perf.Record: one sample (raw copied) or a count of lost ones. */
export interface PerfRecord {
  readonly cpu: number;
  readonly raw: Buffer | undefined;
  readonly lost: number;
  readonly meta?: Readonly<SampleMeta>;
}

/** A ring read in batches and merged with the others in time order (merge.ts). */
export interface RingSource {
  /** Polled for wakeups (-1 for a ring nobody polls, e.g. in tests). */
  readonly fd: number;
  /** Snapshots the producer position; false when nothing is pending. */
  beginBatch(): boolean;
  /** Decodes the record at the cursor; false at the end of the batch. */
  peek(): boolean;
  /** Sort key of the peeked record. */
  peekTime(timeOf?: RawTime): number;
  /** Hands the peeked record to h and moves past it; returns 1 for a sample. */
  deliver(h: RingHandler): number;
  /** Releases what the batch consumed to the producer. */
  endBatch(): void;
  close(): void;
}

/** Who releases a ring's memory and fd when the reader is closed (the mmap owner); nothing for views over plain memory. */
export type Release = () => void;
