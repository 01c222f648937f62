// Benchmark runner: `node dist/bench/run.js [NAME...]` runs every registered
// bench (or the named ones) and prints one table per bench. A bench module's
// default export is { name, run(): Promise<Row[]> }; add yours to BENCHES.

/** One table row: column -> value. */
export interface Row { readonly [column: string]: string | number }

export interface Bench {
  readonly name: string;
  run(): Promise<Row[]>;
}

const BENCHES: Record<string, () => Promise<Bench>> = {
  parse: async () => (await import('./parse.bench.js')).default,
  print: async () => (await import('./print.bench.js')).default,
  compile: async () => (await import('./compile.bench.js')).default,
  load: async () => (await import('./load.bench.js')).default,
  trace: async () => (await import('./trace.bench.js')).default,
};

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

async function main(names: string[]): Promise<number> {
  const unknown = names.filter((n) => !(n in BENCHES));
  if (unknown.length) {
    process.stderr.write(`bench: unknown ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}\n`);
    return 2;
  }
  for (const name of names.length ? names : Object.keys(BENCHES)) {
    const bench = await BENCHES[name]!();
    const rows = await bench.run();
    process.stdout.write(`== ${bench.name}\n${formatTable(rows)}\n\n`);
  }
  return 0;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
