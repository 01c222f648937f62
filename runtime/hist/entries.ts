// A hist map's raw entries decoded by the trigger's layout: the compound
// key's fields, the sums (hitcount first), the comm an `.execname` key
// prints.
import type { HistLayout } from '../../compiler/hist-layout.js';
import type { HistField, HistTrigger } from '../../grammar/trigger/index.js';
import { TASK_COMM_LEN } from '../../compiler/abi.js';
import type { MapEntry } from './map-read.js';

export interface HistEntry {
  /** The compound key as the map holds it. */
  readonly key: Buffer;
  /** hitcount, then each value's sum. */
  readonly sums: readonly bigint[];
  /** The task name saved when the entry was made (`.execname` keys). */
  readonly comm?: string;
  /** When the entry was made, counted per trigger (the kernel's insertion order). */
  readonly seq: bigint;
}

const cString = (b: Buffer, at: number, max: number): string => {
  const end = b.indexOf(0, at);
  return b.toString('latin1', at, end < 0 || end > at + max ? at + max : end);
};

export function decodeEntries(raw: readonly MapEntry[], t: HistTrigger, layout: HistLayout): HistEntry[] {
  return raw.map(({ key, value }) => {
    const sums = Array.from({ length: 1 + t.vals.length }, (_, i) => value.readBigUInt64LE(8 * i));
    const comm = layout.commOffset === undefined ? undefined : cString(value, layout.commOffset, TASK_COMM_LEN);
    return { key, sums, seq: value.readBigUInt64LE(layout.seqOffset), ...(comm !== undefined ? { comm } : {}) };
  });
}

/** A numeric key field's u64 (the kernel prints keys as u64). */
export const keyU64 = (e: HistEntry, offset: number): bigint => e.key.readBigUInt64LE(offset);
/** A string key field's text. */
export const keyString = (e: HistEntry, f: HistField, offset: number): string => cString(e.key, offset, f.size);
