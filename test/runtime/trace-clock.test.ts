// runtime/trace-clock.ts on its own: mono needs no measurement, a missing
// tracefs is said, and measuring leaves no trace instance behind. (That the
// offsets are right is judged against the kernel's tracer by test/e2e/clock.test.ts.)
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync } from 'node:fs';
import { TRACEFS, ensureTracefs } from '../lib/kernel.js';
import { TraceClockError, clockInstancesRemoved, clockOffsetSoon } from '../../runtime/trace-clock.js';

t.test('mono is the records\' own clock: offset 0, exact', async (t) => {
  t.same(await clockOffsetSoon('mono', undefined), { clock: 'mono', offsetNs: 0, errorNs: 0 });
});

t.test('local without tracefs says how to get it', async (t) => {
  await t.rejects(clockOffsetSoon('local', undefined), TraceClockError);
  await t.rejects(clockOffsetSoon('boot', undefined), /needs tracefs .*--clock mono/);
});

t.test('measuring local and boot leaves no instance behind', { skip: ensureTracefs() }, async (t) => {
  for (const clock of ['local', 'boot'] as const) {
    const m = await clockOffsetSoon(clock, TRACEFS);
    t.equal(m.clock, clock);
    t.ok(m.errorNs > 0, `${clock}: the bracket has a width (error ${m.errorNs} ns, offset ${m.offsetNs} ns)`);
  }
  await clockInstancesRemoved();
  t.same(readdirSync(`${TRACEFS}/instances`).filter((d) => d.startsWith(`kprobe_bpf_clock_${process.pid}`)), []);
});

t.test('an instance a killed run left behind is removed by the next measurement', { skip: ensureTracefs() }, async (t) => {
  // a pid that is not running: a child that has exited and been reaped
  const dead = spawnSync('/bin/true').pid;
  const left = `${TRACEFS}/instances/kprobe_bpf_clock_${dead}`;
  mkdirSync(left);
  try {
    await clockOffsetSoon('local', TRACEFS);
    await clockInstancesRemoved();
    t.notOk(existsSync(left), `${left} removed`);
  } finally {
    if (existsSync(left)) rmdirSync(left);
  }
});
