// Reading several rings as one stream in time order, the way ftrace's trace
// file merges its per-CPU buffers: each ring's next record is peeked, the
// earliest is delivered, repeat. Within one call only what each ring had at
// its batch start is merged; records are read in place.
import type { RawTime, RingHandler, RingSource } from './source.js';

export class RingMerge {
  /** Rings with a peeked record, and that record's sort key (reused across calls: no allocation per drain). */
  private readonly active: RingSource[] = [];
  private readonly keys: number[] = [];

  /** @param timeOf where a sample's time is when its ring does not say (PERF_SAMPLE_TIME absent). */
  constructor(private readonly timeOf?: RawTime) {}

  /** Delivers everything the sources hold now, earliest first; returns samples delivered. */
  drain(sources: readonly RingSource[], h: RingHandler): number {
    this.start(sources);
    const active = this.active;
    const keys = this.keys;
    let n = 0;
    try {
      while (active.length > 0) {
        const m = earliest(keys);
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

  /** Begins a batch on every source; those with a record become active. */
  private start(sources: readonly RingSource[]): void {
    this.active.length = 0;
    this.keys.length = 0;
    for (const r of sources) {
      if (r.beginBatch() && r.peek()) {
        this.active.push(r);
        this.keys.push(r.peekTime(this.timeOf));
      } else r.endBatch();
    }
  }
}

/** Index of the smallest key; the first of equal ones (ties keep source order). */
function earliest(keys: readonly number[]): number {
  let m = 0;
  for (let i = 1; i < keys.length; i++) if (keys[i]! < keys[m]!) m = i;
  return m;
}
