// Streaming output written off the reading thread. A trace that streams
// (trace_pipe mode, --json) printed with write(2) on the reader's own thread:
// when whoever reads our stdout lagged (a pipe into a busy consumer), the
// write blocked, the rings stopped being drained and the kernel dropped
// records. Here each chunk is queued and written by libuv's thread pool, in
// order, while the reader goes on draining the rings; the queue is bounded
// (the session stops draining while it is over its bound, so a reader that
// never catches up costs records, counted as lost, not unbounded memory).
import { write } from 'node:fs';
import type { Sink } from './printer/index.js';

/** Default bound on the bytes waiting to be written. */
export const OUTPUT_QUEUE_BYTES = 8 << 20;

export class OutputWriter {
  private readonly queue: Buffer[] = [];
  /** Bytes queued or being written. */
  private pending = 0;
  private writing = false;
  private failure: Error | undefined;
  private waiters: { below: number; resolve: () => void }[] = [];

  constructor(private readonly fd: number, readonly bound: number = OUTPUT_QUEUE_BYTES) {}

  /** The sink the printer writes to: copies the chunk (the printer reuses its buffer) and queues it. */
  readonly sink: Sink = (chunk) => {
    if (this.failure) throw this.failure;
    if (chunk.length === 0) return;
    this.queue.push(Buffer.from(chunk));
    this.pending += chunk.length;
    if (!this.writing) this.next();
  };

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
    const chunk = this.queue[0];
    if (!chunk || this.failure) {
      this.writing = false;
      this.settle();
      return;
    }
    this.writing = true;
    write(this.fd, chunk, 0, chunk.length, null, (err, n) => {
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
      if (n < chunk.length) this.queue[0] = chunk.subarray(n);
      else this.queue.shift();
      this.settle();
      this.next();
    });
  }

  private settle(): void {
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => this.failure || this.pending <= w.below);
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }
}
