// One CPU's trace entries held until the file is written: the bytes in one
// growing arena, times and extents in typed arrays, so a record costs its
// entry plus 16 bytes and no object. Records arrive nearly in time order
// (a sleepable program can be preempted between its timestamp and its
// ring buffer reservation); records() puts them in order, stably.
import type { DatRecord } from './ring-page.js';

export class CpuRecords {
  private data = Buffer.alloc(1 << 16);
  private used = 0;
  private ts = new Float64Array(1 << 10);
  private start = new Uint32Array(1 << 10);
  private sorted = true;
  count = 0;

  push(ts: number, src: Buffer, from: number, len: number): void {
    if (this.count === this.ts.length) this.growIndex();
    while (this.used + len > this.data.length) {
      const bigger = Buffer.alloc(this.data.length * 2);
      this.data.copy(bigger, 0, 0, this.used);
      this.data = bigger;
    }
    src.copy(this.data, this.used, from, from + len);
    if (this.count > 0 && ts < this.ts[this.count - 1]!) this.sorted = false;
    this.ts[this.count] = ts;
    this.start[this.count] = this.used;
    this.used += len;
    this.count++;
  }

  private growIndex(): void {
    const ts = new Float64Array(this.ts.length * 2);
    ts.set(this.ts);
    const start = new Uint32Array(this.start.length * 2);
    start.set(this.start);
    this.ts = ts;
    this.start = start;
  }

  /** The records in time order (equal times keep their arrival order). */
  records(): DatRecord[] {
    const out: DatRecord[] = [];
    for (let i = 0; i < this.count; i++) {
      const end = i + 1 < this.count ? this.start[i + 1]! : this.used;
      out.push({ ts: this.ts[i]!, data: this.data, start: this.start[i]!, end });
    }
    // Stable: equal times keep their arrival order.
    if (!this.sorted) out.sort((a, b) => a.ts - b.ts);
    return out;
  }
}
