// The order the kernel prints a histogram's entries in (kernel:
// tracing_map_sort_entries): by the first sort key, then entries equal on
// it by the second; sums compare as u64, keys with their field's compare
// (signed or unsigned in the field's own width, strings with strcmp).
import type { HistLayout } from '../../compiler/hist-layout.js';
import type { HistField, HistSortKey, HistTrigger } from '../../grammar/trigger/index.js';
import { keyString, keyU64, type HistEntry } from './entries.js';

type Cmp = (a: HistEntry, b: HistEntry) => number;

const sign = (a: bigint, b: bigint): number => (a > b ? 1 : a < b ? -1 : 0);

/** kernel: tracing_map_cmp_num / tracing_map_cmp_string for one key field. */
function keyCompare(f: HistField, offset: number): Cmp {
  if (f.string) return (a, b) => { const x = keyString(a, f, offset), y = keyString(b, f, offset); return x < y ? -1 : x > y ? 1 : 0; };
  // cpu and timestamp keys compare as the u64 they are; fields in their own width and sign
  const bits = f.source === 'field' ? f.size * 8 : 64;
  const signed = f.source === 'field' && f.signed;
  const norm = (v: bigint) => (signed ? BigInt.asIntN(bits, v) : BigInt.asUintN(bits, v));
  return (a, b) => sign(norm(keyU64(a, offset)), norm(keyU64(b, offset)));
}

function compareOf(k: HistSortKey, t: HistTrigger, layout: HistLayout): Cmp {
  const nSums = 1 + t.vals.length;
  let cmp: Cmp;
  if (k.index < nSums) cmp = (a, b) => sign(a.sums[k.index]!, b.sums[k.index]!);
  else {
    const i = k.index - nSums;
    cmp = keyCompare(t.keys[i]!, layout.keyOffsets[i]!);
  }
  return k.descending ? (a, b) => -cmp(a, b) : cmp;
}

/** The entries in the kernel's printing order (equal entries keep the order given). */
export function sortEntries(entries: readonly HistEntry[], t: HistTrigger, layout: HistLayout): HistEntry[] {
  const cmps = t.sort.map((k) => compareOf(k, t, layout));
  return [...entries].sort((a, b) => {
    for (const c of cmps) { const r = c(a, b); if (r !== 0) return r; }
    return 0;
  });
}
