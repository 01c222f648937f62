// Timestamps on the kernel's trace clocks. In one run of a target, the same
// uprobe is traced by the kernel's uprobe_events tracer (a private instance
// set to trace_clock CLOCK) and by `kprobe-bpf trace --clock CLOCK`. Both
// handlers run for each hit in the same uprobe dispatch (ours first: the
// kernel calls the newest consumer first), so for the same hit the two
// stamps differ by the time between the handlers plus our offset's error
// (the half-width of the bracket runtime/trace-clock.ts measured it in).
// The target sleeps 2 ms between hits, so the check that can fail without
// timing anything: every one of our stamps lies between the kernel's stamps
// of the hits before and after it (and the order of hits is the same). A
// stamp on another clock misses that window by the clocks' offset (here
// sched_clock - CLOCK_MONOTONIC was 22 ms); the largest difference found is
// reported.
import t, { type Test } from 'tap';
import { uprobeEventsSkipReason } from '../lib/kernel.js';
import { runCli } from './lib/runs.js';
import { loopRun } from './lib/same-run.js';
import type { StampedLine } from './lib/stamped-lines.js';

const skip = uprobeEventsSkipReason();
const HITS = 20;
const NAP_US = 2000;

/** Checks ours against the kernel's lines of the same hits; returns the largest |difference| in µs. */
function compareStamps(t: Test, kernel: readonly StampedLine[], ours: readonly StampedLine[]): number {
  t.same(ours.map((l) => l.body), kernel.map((l) => l.body), 'the same hits in the same order');
  let worst = 0;
  let outside = 0;
  for (let i = 0; i < Math.min(kernel.length, ours.length); i++) {
    const lo = i > 0 ? kernel[i - 1]!.us : -Infinity;
    const hi = i + 1 < kernel.length ? kernel[i + 1]!.us : Infinity;
    const o = ours[i]!.us;
    worst = Math.max(worst, Math.abs(o - kernel[i]!.us));
    if (!(o > lo && o < hi)) {
      outside++;
      t.fail(`hit ${i}: our stamp is not between the kernel's stamps of the hits around it`, { lo, ours: o, kernel: kernel[i]!.us, hi });
    }
  }
  t.equal(outside, 0, `each of our ${ours.length} stamps lies between the kernel's stamps of its neighbour hits`);
  return worst;
}

for (const clock of ['local', 'mono', 'boot'] as const) {
  t.test(`--clock ${clock}: stamps agree with the kernel's trace_clock ${clock} for the same hits`, { skip }, async (t) => {
    // the default clock is local, as ftrace's: say it only for the others
    const run = await loopRun({ tag: `clk${clock}`, clock, hits: HITS, spin: 0, napUs: NAP_US, args: clock === 'local' ? [] : ['--clock', clock] });
    t.equal(run.cli.code, 0, 'kprobe-bpf trace exits 0', { stderr: run.cli.stderr });
    t.equal(run.kernel.length, HITS, `the kernel traced the ${HITS} hits`);
    const worst = compareStamps(t, run.kernel, run.ours);
    t.ok(Number.isFinite(worst), `largest difference from the kernel's stamp of the same hit: ${worst} µs`);
  });
}

t.test('--clock refuses a clock it does not know', async (t) => {
  const r = await runCli(['trace', '-e', 'p:g/e /bin/true:0x0', '--clock', 'x86-tsc']);
  t.equal(r.code, 2);
  t.match(r.stderr, /--clock: not one of local, mono, boot: x86-tsc/);
});
