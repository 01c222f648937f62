// "CPU DATA" (trace-cmd.dat.v6(5)): one CPU's events as the kernel's ring
// buffer pages hold them, laid out as the header_page / header_event texts
// describe (kernel/trace/ring_buffer.c):
//
//   page:  u64 timestamp | u64 commit (data bytes used) | data ...
//   event: u32 header = type_len (5 bits) | time_delta << 5 (27 bits), then
//          type_len 1..28:  type_len * 4 bytes of entry
//          type_len 0:      u32 array[0] = entry bytes + 4, then the entry
//          type_len 30:     time extend, u32 array[0] = delta >> 27
//
// An event's time is the page timestamp plus the deltas before it.
import { PAGE_HEADER_SIZE } from './header-info.js';

const TYPE_TIME_EXTEND = 30;
/** kernel: RB_MAX_SMALL_DATA = RB_ALIGNMENT * RINGBUF_TYPE_DATA_TYPE_LEN_MAX (4 * 28). */
const MAX_SMALL_DATA = 4 * 28;
const TIME_DELTA_BITS = 27;
const MAX_DELTA = 2 ** TIME_DELTA_BITS;

export interface DatRecord {
  /** Timestamp in ns. */
  readonly ts: number;
  /** The trace entry (common_type first) is data[start, end): records share one arena, no view each. */
  readonly data: Buffer;
  readonly start: number;
  readonly end: number;
}

/** A record whose entry is a buffer of its own. */
export const datRecord = (ts: number, entry: Buffer): DatRecord => ({ ts, data: entry, start: 0, end: entry.length });

const align4 = (n: number): number => (n + 3) & ~3;

/** Bytes an event takes in a page, without a time extend. */
export function eventSize(entryLength: number): number {
  const data = align4(entryLength);
  return data <= MAX_SMALL_DATA ? 4 + data : 8 + data;
}

/** Whether an entry fits a page at all (the kernel caps events the same way). */
export function fitsPage(entryLength: number, pageSize: number): boolean {
  return 8 + eventSize(entryLength) <= pageSize - PAGE_HEADER_SIZE;
}

function writeEvent(page: Buffer, at: number, delta: number, r: DatRecord): number {
  const data = align4(r.end - r.start);
  if (data <= MAX_SMALL_DATA) {
    page.writeUInt32LE(((delta << 5) | (data / 4)) >>> 0, at);
    r.data.copy(page, at + 4, r.start, r.end);
    return at + 4 + data;
  }
  page.writeUInt32LE((delta << 5) >>> 0, at);
  page.writeUInt32LE(data + 4, at + 4);
  r.data.copy(page, at + 8, r.start, r.end);
  return at + 8 + data;
}

function writeTimeExtend(page: Buffer, at: number, delta: number): number {
  page.writeUInt32LE((((delta % MAX_DELTA) << 5) | TYPE_TIME_EXTEND) >>> 0, at);
  page.writeUInt32LE(Math.floor(delta / MAX_DELTA), at + 4);
  return at + 8;
}

/**
 * The pages for one CPU's records, which must be in time order and each fit
 * a page (fitsPage). Every page is pageSize bytes; an empty list gives none.
 */
export function cpuPages(records: readonly DatRecord[], pageSize: number): Buffer {
  const pages: Buffer[] = [];
  let page: Buffer | undefined;
  let at = 0;
  let last = 0;
  const close = () => {
    if (page) page.writeBigUInt64LE(BigInt(at - PAGE_HEADER_SIZE), 8);
  };
  for (const r of records) {
    const delta = r.ts - last;
    const need = eventSize(r.end - r.start) + (delta >= MAX_DELTA ? 8 : 0);
    if (!page || at + need > pageSize) {
      close();
      page = Buffer.alloc(pageSize);
      pages.push(page);
      page.writeBigUInt64LE(BigInt(r.ts), 0);
      at = PAGE_HEADER_SIZE;
      last = r.ts;
      at = writeEvent(page, at, 0, r);
      continue;
    }
    if (delta >= MAX_DELTA) at = writeTimeExtend(page, at, delta);
    at = writeEvent(page, at, delta >= MAX_DELTA ? 0 : delta, r);
    last = r.ts;
  }
  close();
  return Buffer.concat(pages);
}
