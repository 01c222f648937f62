#!/usr/bin/env node
// Passes tap's TAP stream through and closes with the plain line CI reads:
// "tests: N passed, N failed, N skipped, N todo". tap's own closing comment
// ("# { total: 5, pass: 2, todo: 1, skip: 2 }") carries the counts; its todo
// count includes the guest suite's todos, which test/vm/relay.ts replays as
// host todos. A todo hides a failing check, so their number may not grow past
// test/todo-budget.json: over it, this exits 1 with a line saying so.
//
// Before that line it repeats each failing check with its YAML diagnostic
// (cut short): a CI log is often read from its end, and a failure deep in a
// long stream (a guest kernel's panic with its console) must be seen there.
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';

const BUDGET_FILE = new URL('./todo-budget.json', import.meta.url);
const RECAP_FAILURES = 8;
const RECAP_DIAG_LINES = 60;

/** A failing check not marked todo: its line and, once read, its YAML block. */
let open = null;
const failed = [];
/** Failing checks marked todo: named in the recap, one line each. */
const todos = [];

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
let counts = null;
for await (const line of rl) {
  process.stdout.write(line + '\n');
  if (open) {
    if (open.diag === null && line === `${open.indent}  ---`) { open.diag = []; continue; }
    if (open.diag !== null && line !== `${open.indent}  ...`) { open.diag.push(line.slice(open.indent.length + 2)); continue; }
    open = null;
  }
  const f = /^(\s*)not ok \d+ - (.*)$/.exec(line);
  if (f && /# TODO\b/.test(f[2])) todos.push(f[2]);
  else if (f) {
    open = { indent: f[1], name: f[2], diag: null };
    failed.push(open);
  }
  const m = /^# (\{ total: .*\})$/.exec(line);
  if (m) counts = Object.fromEntries([...m[1].matchAll(/(\w+): (\d+)/g)].map(([, k, v]) => [k, Number(v)]));
}
recap(failed);
if (todos.length > 0) process.stdout.write(`# todo (${todos.length}):\n${todos.slice(0, RECAP_FAILURES).map((n) => `#   ${n}`).join('\n')}\n`);
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

/** The innermost failures, each with its diagnostic cut short. */
function recap(all) {
  if (all.length === 0) return;
  // tap prints a subtest's results before its parent's line, so a failure
  // right after a deeper one is the parent failing for it: keep the deeper.
  const leaves = all.filter((f, i) => i === 0 || all[i - 1].indent.length <= f.indent.length);
  const out = ['', `# failures (${leaves.length}), repeated from above:`];
  for (const f of leaves.slice(0, RECAP_FAILURES)) {
    out.push(`#   not ok - ${f.name}`);
    const diag = f.diag ?? [];
    for (const l of diag.slice(0, RECAP_DIAG_LINES)) out.push(`#     ${l}`);
    if (diag.length > RECAP_DIAG_LINES) out.push(`#     … ${diag.length - RECAP_DIAG_LINES} more lines above`);
  }
  if (leaves.length > RECAP_FAILURES) out.push(`#   … and ${leaves.length - RECAP_FAILURES} more`);
  process.stdout.write(out.join('\n') + '\n');
}
