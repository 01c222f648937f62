// What a bench is and how its rows print: the benches import this, the
// runner (run.ts) imports the benches, so nothing imports the runner.

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
