// The flags column against the kernel's uprobe tracer, hit by hit: one run
// of a target, the same uprobe traced by uprobe_events and by `kprobe-bpf
// trace` (test/e2e/lib/same-run.ts). The kernel stores tracing_gen_ctx_dec()
// of its uprobe handler: preemptible, so under CONFIG_PREEMPTION the borrow
// of the decrement shows as preempt count 0xff and flags one less ("DBZff"
// with nothing pending). The only input that changes from hit to hit is
// need-resched, which can change between the two handlers of one hit (ours
// runs first): a hit whose lines differ is accepted only when both lines are
// need-resched variants of the same context, and such hits are counted; of
// the hits the kernel shows need-resched on, ours must agree on most (a wrong
// TIF bit, as 6.18's move to the generic bits made, disagrees on all).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { uprobeEventsSkipReason } from '../lib/kernel.js';
import { loopRun } from './lib/same-run.js';

const skip = uprobeEventsSkipReason();
const HITS = 300;

/**
 * The columns of a uprobe handler's line for each pending-reschedule state,
 * worked out by hand from trace_print_lat_fmt (with the borrow, flags F
 * become F-1), keyed to the TIF bits they show: nothing, TIF_NEED_RESCHED,
 * TIF_NEED_RESCHED_LAZY, both. Each TIF state has two lines, with and without
 * PREEMPT_RESCHED (the per-CPU bit a BPF program cannot read).
 */
type Tif = 'none' | 'resched' | 'lazy' | 'both';
const VARIANTS: Readonly<Record<'preemption' | 'none', Readonly<Record<string, Tif>>>> = {
  preemption: { 'DBZff': 'none', 'dbHff': 'none', 'dl.ff': 'resched', 'dL.ff': 'resched', 'd..ff': 'lazy', 'dp.ff': 'lazy', 'dn.ff': 'both', 'dN.ff': 'both' },
  none: { '.....': 'none', '.p...': 'none', '.n...': 'resched', '.N...': 'resched', '.l...': 'lazy', '.L...': 'lazy', '.b...': 'both', '.B...': 'both' },
};

function preemptionConfigured(): boolean {
  try {
    return /^CONFIG_PREEMPTION=y$/m.test(gunzipSync(readFileSync('/proc/config.gz')).toString('latin1'));
  } catch {
    return true;
  }
}

t.test("the flags column is the kernel's uprobe tracer's, hit by hit", { skip }, async (t) => {
  const tifOf = VARIANTS[preemptionConfigured() ? 'preemption' : 'none'];
  const run = await loopRun({ tag: 'flg', clock: 'local', hits: HITS, spin: 20000, napUs: 0 });
  t.equal(run.cli.code, 0, 'kprobe-bpf trace exits 0', { stderr: run.cli.stderr });
  t.equal(run.kernel.length, HITS, `the kernel traced the ${HITS} hits`);
  t.same(run.ours.map((l) => l.body), run.kernel.map((l) => l.body), 'the same hits in the same order');
  const count = { same: 0, preemptResched: 0, raced: 0, pending: 0, pendingSame: 0 };
  const seen = new Map<string, number>();
  for (let i = 0; i < Math.min(run.kernel.length, run.ours.length); i++) {
    const k = run.kernel[i]!.flags;
    const o = run.ours[i]!.flags;
    seen.set(k, (seen.get(k) ?? 0) + 1);
    const kt = tifOf[k];
    const ot = tifOf[o];
    if (!kt) t.fail(`hit ${i}: the kernel printed ${k}, not a uprobe handler's context this test knows`);
    if (!ot) t.fail(`hit ${i}: we printed ${o}, not a uprobe handler's context`, { kernel: k });
    if (kt && kt !== 'none') {
      count.pending++;
      if (kt === ot) count.pendingSame++;
    }
    if (k === o) count.same++;
    else if (kt && kt === ot) count.preemptResched++;
    else if (kt && ot) count.raced++;
    if (k !== o) t.comment(`hit ${i}: kernel ${k}, ours ${o}`);
  }
  t.equal(count.same + count.preemptResched + count.raced, HITS,
    `${count.same} hits identical, ${count.preemptResched} differing in PREEMPT_RESCHED only, ${count.raced} by need-resched changing between the handlers`);
  t.ok(count.same > count.preemptResched + count.raced, 'most hits identical');
  // the hits that tell whether the right TIF bits are read: a wrong bit does not race on some, it disagrees on all
  if (count.pending > 0) t.ok(count.pendingSame * 2 > count.pending, `TIF bits read right: ours agrees on ${count.pendingSame} of the ${count.pending} hits the kernel shows need-resched on`);
  else t.comment('no hit had need-resched pending in this run');
  t.comment(`the kernel's flags columns: ${[...seen].map(([f, n]) => `${f} x${n}`).join(', ')}`);
});
