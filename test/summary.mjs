#!/usr/bin/env node
// Passes tap's TAP stream through and closes with the plain line CI reads:
// "tests: N passed, N failed, N skipped, N todo". tap's own closing comment
// ("# { total: 5, pass: 2, todo: 1, skip: 2 }") carries the counts; its todo
// count includes the guest suite's todos, which test/vm/relay.ts replays as
// host todos. A todo hides a failing check, so their number may not grow past
// test/todo-budget.json: over it, this exits 1 with a line saying so.
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';

const BUDGET_FILE = new URL('./todo-budget.json', import.meta.url);

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
const todo = counts.todo ?? 0;
process.stdout.write(`tests: ${counts.pass ?? 0} passed, ${counts.fail ?? 0} failed, ${counts.skip ?? 0} skipped, ${todo} todo\n`);
const budget = JSON.parse(readFileSync(BUDGET_FILE, 'utf8')).max;
if (!Number.isInteger(budget)) {
  process.stdout.write(`todo budget: test/todo-budget.json has no integer "max"\n`);
  process.exit(1);
}
if (todo > budget) {
  process.stdout.write(`todo budget exceeded: ${todo} todo, at most ${budget} allowed by test/todo-budget.json (a new todo hides a failure: fix it, or raise the budget in the same commit and say why)\n`);
  process.exit(1);
}
