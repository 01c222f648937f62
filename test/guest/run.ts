// The guest suite's entry point: ONE node process that imports every guest
// test file, so the guest (~18x slower than the host; a node start costs
// ~1 s, loading tap ~10-20 s there) pays for node and tap once. Each file
// registers its subtests on tap's root test, which runs them in order and
// prints one TAP stream; test/vm.test.ts boots the guest, runs this file,
// and relays the stream as host subtests.
//
//   node dist/test/guest/run.js [NAME-SUBSTRING...]   (inside the guest)
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = new URL('.', import.meta.url);
const wanted = process.argv.slice(2);
const files = readdirSync(fileURLToPath(here))
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort();
if (files.length === 0) process.stdout.write(`TAP version 14\n1..0 # SKIP no guest test file matches ${wanted.join(' ')}\n`);
for (const f of files) await import(new URL(f, here).href);
