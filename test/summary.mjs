#!/usr/bin/env node
// Passes tap's TAP stream through and closes with the plain line CI reads:
// "tests: N passed, N failed, N skipped". tap's own closing comment
// ("# { total: 5, pass: 3, skip: 2, fail: 0 }") carries the counts.
import { createInterface } from 'node:readline';

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
let counts = null;
for await (const line of rl) {
  process.stdout.write(line + '\n');
  const m = /^# (\{ total: .*\})$/.exec(line);
  if (m) counts = Object.fromEntries([...m[1].matchAll(/(\w+): (\d+)/g)].map(([, k, v]) => [k, Number(v)]));
}
if (!counts) {
  process.stdout.write('tests: 0 passed, 1 failed (tap printed no totals)\n');
  process.exit(1);
}
const failed = counts.fail ?? 0;
process.stdout.write(`tests: ${counts.pass ?? 0} passed, ${failed} failed, ${counts.skip ?? 0} skipped\n`);
