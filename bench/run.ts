// Benchmark runner: `node dist/bench/run.js [NAME...]` runs every registered
// bench (or the named ones) and prints one table per bench. A bench module's
// default export is a Bench (table.ts); add yours to BENCHES.

import { type Bench, formatTable } from './table.js';

const BENCHES: Record<string, () => Promise<Bench>> = {
  parse: async () => (await import('./parse.bench.js')).default,
  print: async () => (await import('./print.bench.js')).default,
  compile: async () => (await import('./compile.bench.js')).default,
  load: async () => (await import('./load.bench.js')).default,
  trace: async () => (await import('./trace.bench.js')).default,
  filter: async () => (await import('./filter.bench.js')).default,
  startup: async () => (await import('./startup.bench.js')).default,
  loss: async () => (await import('./loss.bench.js')).default,
  hist: async () => (await import('./hist.bench.js')).default,
  'hist-guest': async () => (await import('./hist-guest.bench.js')).default,
  detach: async () => (await import('./detach.bench.js')).default,
  // boots the 6.12 guest (a skipped row without its images)
  fprobe: async () => (await import('./fprobe-guest.js')).default,
};

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
