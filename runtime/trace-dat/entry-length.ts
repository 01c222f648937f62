// How many bytes of a record are its trace entry. Records from the BPF ring
// buffer (sleepable programs) are reserved at a fixed size, bigger than the
// entry; the kernel's ring holds only the fixed part plus the dynamic data
// the __data_loc words point at (low 16 bits offset, high 16 bits length).
import type { EventFormat } from '../../compiler/format.js';

/** Offsets of every __data_loc word in an event's entry (a string array has one per element). */
export function dataLocOffsets(format: EventFormat): number[] {
  const out: number[] = [];
  for (const f of format.argFields) {
    if (!f.ctype.startsWith('__data_loc')) continue;
    for (let at = f.offset; at < f.offset + f.size; at += 4) out.push(at);
  }
  return out;
}

/** The entry's length: its fixed size, or further where dynamic data ends; never more than available. */
export function entryLength(entry: Buffer, entrySize: number, dataLocs: readonly number[]): number {
  let end = entrySize;
  for (const at of dataLocs) {
    if (at + 4 > entry.length) continue;
    const loc = entry.readUInt32LE(at);
    end = Math.max(end, (loc & 0xffff) + (loc >>> 16));
  }
  return Math.min(end, entry.length);
}
