// What a bench is, how its rows print, and the statistics they show: the
// benches import this, the runner (run.ts) imports the benches, so nothing imports the runner.

/** One table row: column -> value. */
export interface Row { readonly [column: string]: string | number }

/** A bench module's default export. */
export interface Bench {
  readonly name: string;
  run(): Promise<Row[]>;
}

function cell(v: string | number): string {
  if (typeof v === 'string') return v;
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

/** A plain-text table, numbers right-aligned. */
export function formatTable(rows: readonly Row[]): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const text = rows.map((r) => columns.map((c) => (r[c] === undefined ? '' : cell(r[c]!))));
  const width = columns.map((c, i) => Math.max(c.length, ...text.map((t) => t[i]!.length)));
  const numeric = columns.map((c) => rows.every((r) => r[c] === undefined || typeof r[c] === 'number'));
  const line = (cells: string[]) => cells.map((s, i) => (numeric[i] ? s.padStart(width[i]!) : s.padEnd(width[i]!))).join('  ').trimEnd();
  return [line(columns), line(width.map((w) => '-'.repeat(w))), ...text.map(line)].join('\n');
}

/** The middle value (the mean of the two middle ones for an even count); 0 for none. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : 0;
}

/** `a` as a multiple of the peer's `b`, for a ratio column; '-' without a peer figure. */
export const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}x` : '-');
