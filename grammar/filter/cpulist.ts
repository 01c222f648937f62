// kernel: cpulist_parse() = bitmap_parselist() (lib/bitmap-str.c), the list
// inside CPUS{...}: "0-3,5,7-15:2/4", "N" for the last CPU, "all".
import { byteAt, isDigit, isSpace } from './ctype.js';

interface Region { start: number; end: number; off: number; group: number }

const endOfStr = (c: number) => c === 0 || c === 0x0a;
const endOfRegion = (c: number) => isSpace(c) || c === 0x2c || endOfStr(c);

/** kernel: bitmap_getnum; [value, next index] or undefined (EINVAL/EOVERFLOW). */
function getNum(s: string, i: number, lastBit: number): [number, number] | undefined {
  if (s[i] === 'N') return [lastBit, i + 1];
  let n = 0n;
  const start = i;
  while (isDigit(byteAt(s, i))) n = n * 10n + BigInt(byteAt(s, i++) - 0x30);
  if (i === start || n > 0xffffffffn) return undefined;
  return [Number(n), i];
}

/** kernel: bitmap_parse_region; the region and where the next one may start. */
function parseRegion(s: string, i: number, lastBit: number): { r: Region; next: number } | undefined {
  const r: Region = { start: 0, end: 0, off: 0, group: 0 };
  let hasRange = false;
  if (s.slice(i, i + 3).toLowerCase() === 'all') { r.end = lastBit; i += 3; hasRange = true; }
  else {
    const a = getNum(s, i, lastBit);
    if (!a) return undefined;
    [r.start, i] = a;
    if (endOfRegion(byteAt(s, i))) { r.end = r.start; r.off = r.group = r.end + 1; return { r, next: i }; }
    if (s[i] !== '-') return undefined;
    const b = getNum(s, i + 1, lastBit);
    if (!b) return undefined;
    [r.end, i] = b;
    hasRange = true;
  }
  if (hasRange && endOfRegion(byteAt(s, i))) { r.off = r.group = r.end + 1; return { r, next: i }; }
  if (s[i] !== ':') return undefined;
  const off = getNum(s, i + 1, lastBit);
  if (!off || s[off[1]] !== '/') return undefined;
  const group = getNum(s, off[1] + 1, lastBit);
  if (!group) return undefined;
  r.off = off[0];
  r.group = group[0];
  return { r, next: group[1] };
}

/** The CPUs a list names, or undefined where the kernel returns an error (nbits = nr_cpu_ids). */
export function parseCpuList(list: string, nbits: number): number[] | undefined {
  const set = new Set<number>();
  let i = 0;
  for (;;) {
    while (!endOfStr(byteAt(list, i)) && endOfRegion(byteAt(list, i))) i++;
    if (endOfStr(byteAt(list, i))) break;
    const p = parseRegion(list, i, nbits - 1);
    if (!p) return undefined;
    const { r } = p;
    if (r.start > r.end || r.group === 0 || r.off > r.group || r.end >= nbits) return undefined;
    for (let start = r.start; start <= r.end; start += r.group) {
      for (let k = 0; k < Math.min(r.end - start + 1, r.off); k++) set.add(start + k);
    }
    i = p.next;
  }
  return [...set].sort((a, b) => a - b);
}
