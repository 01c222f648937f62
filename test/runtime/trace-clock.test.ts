// runtime/trace-clock.ts on its own: mono needs no measurement, a missing
// tracefs is said, and measuring leaves no trace instance behind. (That the
// offsets are right is judged against the kernel's tracer by test/e2e/clock.test.ts.)
import t from 'tap';
import { readdirSync } from 'node:fs';
import { TRACEFS, ensureTracefs } from '../lib/kernel.js';
import { TraceClockError, measureClockOffset } from '../../runtime/trace-clock.js';

t.test('mono is the records\' own clock: offset 0, exact', async (t) => {
  t.same(measureClockOffset('mono', undefined), { clock: 'mono', offsetNs: 0, errorNs: 0 });
});

t.test('local without tracefs says how to get it', async (t) => {
  t.throws(() => measureClockOffset('local', undefined), TraceClockError);
  t.throws(() => measureClockOffset('boot', undefined), /needs tracefs .*--clock mono/);
});

t.test('measuring local and boot leaves no instance behind', { skip: ensureTracefs() }, async (t) => {
  for (const clock of ['local', 'boot'] as const) {
    const m = measureClockOffset(clock, TRACEFS);
    t.equal(m.clock, clock);
    t.ok(m.errorNs > 0, `${clock}: the bracket has a width (error ${m.errorNs} ns, offset ${m.offsetNs} ns)`);
  }
  t.same(readdirSync(`${TRACEFS}/instances`).filter((d) => d.startsWith(`kprobe_bpf_clock_${process.pid}`)), []);
});
