// Streaming output written off the reading thread. A trace that streams
// (trace_pipe mode, --json) printed with write(2) on the reader's own thread:
// when whoever reads our stdout lagged (a pipe into a busy consumer), the
// write blocked, the rings stopped being drained and the kernel dropped
// records. Here each chunk is queued and written by libuv's thread pool, in
// order, while the reader goes on draining the rings; the queue is bounded
// (the session stops draining while it is over its bound, so a reader that
// never catches up costs records, counted as lost, not unbounded memory).
//
// The queue is a list of fixed blocks the chunks are packed into, and a
// written block is kept for the next chunks: a fresh copy per chunk was a
// malloc each that only a GC gave back (~0.3 MiB of a 200k-event trace's
// peak RSS, issue 13); and all that waits goes out in one writev, not a
// chunk per thread-pool round trip.
import { writev } from 'node:fs';
import type { Sink } from './printer/index.js';

/** Default bound on the bytes waiting to be written. */
export const OUTPUT_QUEUE_BYTES = 8 << 20;
/** Bytes per block of the queue: the printer's flush size, so one flush is usually one block. */
export const OUTPUT_BLOCK_BYTES = 64 << 10;
/**
 * Written blocks kept for reuse: the queue's usual depth when the reader
 * lags a little (a pipe into another process peaked at ~8-10 blocks); deeper
 * queues allocate and let the extra blocks go.
 */
const SPARE_BLOCKS = 16;

/** A queue block: bytes [start, end) of buf are still to be written. */
interface Block {
  readonly buf: Buffer;
  start: number;
  end: number;
}

export class OutputWriter {
  private readonly queue: Block[] = [];
  private readonly spare: Buffer[] = [];
  private allocated = 0;
  /** Bytes queued or being written. */
  private pending = 0;
  private writing = false;
  private failure: Error | undefined;
  private waiters: { below: number; resolve: () => void }[] = [];

  constructor(private readonly fd: number, readonly bound: number = OUTPUT_QUEUE_BYTES) {}

  /**
   * The sink the printer writes to: copies the chunk (the printer reuses its
   * buffer) into the queue's last block, and into fresh ones past its end.
   * Appending to the block being written is safe: the write in flight reads
   * only the bytes before the end it was given.
   */
  readonly sink: Sink = (chunk) => {
    if (this.failure) throw this.failure;
    let from = 0;
    while (from < chunk.length) {
      let tail = this.queue[this.queue.length - 1];
      if (!tail || tail.end === tail.buf.length) {
        tail = { buf: this.spare.pop() ?? this.newBlock(), start: 0, end: 0 };
        this.queue.push(tail);
      }
      const n = chunk.copy(tail.buf, tail.end, from);
      tail.end += n;
      from += n;
    }
    this.pending += chunk.length;
    if (!this.writing) this.next();
  };

  /** Blocks allocated so far: the queue's deepest point, in blocks, plus those let go past SPARE_BLOCKS. */
  get blocksAllocated(): number {
    return this.allocated;
  }

  private newBlock(): Buffer {
    this.allocated++;
    return Buffer.allocUnsafeSlow(OUTPUT_BLOCK_BYTES);
  }

  /** Bytes not yet written. */
  get queued(): number {
    return this.pending;
  }

  /** Whether the queue is over its bound (the reader should let it drain first). */
  get full(): boolean {
    return this.pending > this.bound;
  }

  /** Resolves once at most `below` bytes wait (0: all written); rejects with the write error, if any. */
  drained(below = 0): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending <= below) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ below, resolve: () => (this.failure ? reject(this.failure) : resolve()) }));
  }

  private next(): void {
    const first = this.queue[0];
    if (!first || first.start === first.end || this.failure) {
      this.writing = false;
      this.settle();
      return;
    }
    this.writing = true;
    // everything queued in one call: one thread-pool round trip however many blocks wait
    const views = this.queue.map((b) => b.buf.subarray(b.start, b.end));
    writev(this.fd, views, null, (err, n) => {
      if (err) {
        // a non-blocking stdout (libuv opened it) says EAGAIN when its reader lags: try again shortly
        if (err.code === 'EAGAIN') {
          setTimeout(() => this.next(), 1);
          return;
        }
        this.failure = err;
        this.queue.length = 0;
        this.pending = 0;
        this.writing = false;
        this.settle();
        return;
      }
      this.pending -= n;
      this.consume(n);
      this.settle();
      this.next();
    });
  }

  /** Moves past n written bytes, recycling the blocks written out (the last one is started over instead). */
  private consume(n: number): void {
    while (n > 0) {
      const block = this.queue[0]!;
      const k = Math.min(n, block.end - block.start);
      block.start += k;
      n -= k;
      if (block.start < block.end) break;
      if (this.queue.length === 1 && block.end < block.buf.length) {
        block.start = block.end = 0;
        break;
      }
      this.queue.shift();
      if (this.spare.length < SPARE_BLOCKS) this.spare.push(block.buf);
    }
  }

  private settle(): void {
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => this.failure || this.pending <= w.below);
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }
}
