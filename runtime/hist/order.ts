// The order the kernel prints a histogram's entries in (kernel:
// tracing_map.c tracing_map_sort_entries): the entries as its hash table
// holds them (slot jhash(key) >> (32 - map_bits - 1), linear probing, in
// the order the entries were made), sorted by the first sort key with the
// kernel's own heapsort, then each run equal on it by the second
// (sort_secondary). Sums compare as u64, keys with their field's compare
// (the field's width and sign; strings with strcmp). So even entries equal
// on every sort key print in the kernel's order.
import type { HistLayout } from '../../compiler/hist-layout.js';
import type { HistField, HistSortKey, HistTrigger } from '../../grammar/trigger/index.js';
import { keyString, keyU64, type HistEntry } from './entries.js';
import { jhash } from './jhash.js';
import { kernelSort, type KernelSortVariant } from './kernel-sort.js';

type Cmp = (a: HistEntry, b: HistEntry) => number;

const sign = (a: bigint, b: bigint): number => (a > b ? 1 : a < b ? -1 : 0);

/** kernel: tracing_map_cmp_num / tracing_map_cmp_string for one key field. */
function keyCompare(f: HistField, offset: number): Cmp {
  if (f.string) return (a, b) => { const x = keyString(a, f, offset), y = keyString(b, f, offset); return x < y ? -1 : x > y ? 1 : 0; };
  // cpu and timestamp keys compare as the u64 they are; fields in their own width and sign
  const bits = f.source === 'field' ? f.size * 8 : 64;
  // an expression key compares as the u64 it is, signed as its first operand (kernel: tracing_map_cmp_num(8, is_signed))
  const signed = (f.source === 'field' || f.source === 'expr') && f.signed;
  const norm = (v: bigint) => (signed ? BigInt.asIntN(bits, v) : BigInt.asUintN(bits, v));
  return (a, b) => sign(norm(keyU64(a, offset)), norm(keyU64(b, offset)));
}

/** kernel: cmp_entries_sum / cmp_entries_key, descending negated. */
function compareOf(k: HistSortKey, t: HistTrigger, layout: HistLayout): Cmp {
  const nSums = 1 + t.vals.length;
  let cmp: Cmp;
  if (k.index < nSums) cmp = (a, b) => sign(a.sums[k.index]!, b.sums[k.index]!);
  else {
    const i = k.index - nSums;
    // kernel: a stacktrace key compares equal to every other (tracing_map_cmp_none)
    cmp = t.keys[i]!.source === 'stacktrace' ? () => 0 : keyCompare(t.keys[i]!, layout.keyOffsets[i]!);
  }
  return k.descending ? (a, b) => -cmp(a, b) : cmp;
}

/** The entries in the kernel's hash table slot order, made in `seq` order. */
export function tableOrder(entries: readonly HistEntry[], mapBits: number): HistEntry[] {
  const size = 1 << (mapBits + 1);
  const slots: (HistEntry | undefined)[] = new Array(size);
  for (const e of [...entries].sort((a, b) => sign(a.seq, b.seq))) {
    const hash = jhash(e.key) || 1;
    let idx = hash >>> (32 - (mapBits + 1));
    while (slots[idx & (size - 1)] !== undefined) idx++;
    slots[idx & (size - 1)] = e;
  }
  return slots.filter((e): e is HistEntry => e !== undefined);
}

/** kernel: sort_secondary — each run of entries equal on the first key, sorted by the second. */
function sortSecondary(v: HistEntry[], primary: Cmp, secondary: Cmp, variant: KernelSortVariant): void {
  let start = 0, nSub = 1;
  for (let i = 0; i < v.length - 1; i++) {
    if (primary(v[i]!, v[i + 1]!) === 0) {
      nSub++;
      if (i < v.length - 2) continue;
    }
    if (nSub < 2) { start = i + 1; nSub = 1; continue; }
    const run = v.slice(start, start + nSub);
    kernelSort(run, secondary, variant);
    v.splice(start, nSub, ...run);
    start = i + 1;
    nSub = 1;
  }
}

/** The entries in the kernel's printing order. */
export function sortEntries(entries: readonly HistEntry[], t: HistTrigger, layout: HistLayout, variant: KernelSortVariant = 'heapsort'): HistEntry[] {
  const v = tableOrder(entries, t.mapBits);
  if (v.length <= 1) return v;
  const [first, second] = t.sort.map((k) => compareOf(k, t, layout));
  kernelSort(v, first!, variant);
  if (second) sortSecondary(v, first!, second, variant);
  return v;
}
