// `kprobe-bpf trace --trigger` end to end on this host (uprobes): a loop
// calls kpb_tick(i, 7) for i < N, so every table is known in advance
// (hitcounts, sums, buckets, the size= cap and its drops); --no-trace
// prints the tables only, a refused trigger exits 1 with nothing attached.
// The kernel's own hist file is the judge in test/guest/hist.test.ts.
import t from 'tap';
import { uprobeEventsSkipReason, withKernelLock } from '../lib/kernel.js';
import { runCli } from '../e2e/lib/runs.js';
import { buildLoopTarget, tickProbe } from '../e2e/lib/loop-target.js';

const skip = uprobeEventsSkipReason();
const N = 300;

t.test('hist tables of a known workload', { skip }, async (t) => {
  const target = buildLoopTarget();
  t.teardown(() => target.cleanup());
  const probe = tickProbe(target, 'kpbh');
  const r = await withKernelLock(() => runCli(['trace', '-e', probe,
    '--trigger', 'kpbh/tick:hist:keys=seq:vals=hitcount,i',
    '--trigger', 'kpbh/tick:hist:keys=i.buckets=100:sort=i.descending',
    '--trigger', 'kpbh/tick:hist:keys=i:sort=i:size=128',
    '--no-trace', '-c', `${target.path} ${N}`]));
  t.equal(r.code, 0, r.stderr);
  t.notMatch(r.stdout, / tick: /, '--no-trace: no trace line');
  const sum = (N * (N - 1)) / 2;
  t.match(r.stdout, `# trigger info: hist:keys=seq:vals=hitcount,i:sort=hitcount:size=2048 [active]\n#\n\n`
    + `{ seq:          7 } hitcount:        300  i:      ${sum}\n\nTotals:\n    Hits: 300\n    Entries: 1\n    Dropped: 0\n`);
  t.match(r.stdout, '{ i: ~ 200-299 } hitcount:        100\n{ i: ~ 100-199 } hitcount:        100\n{ i: ~ 0-99 } hitcount:        100\n');
  const capped = r.stdout.slice(r.stdout.indexOf('keys=i:vals=hitcount:sort=i:size=128'));
  t.match(capped, '{ i:          0 } hitcount:          1\n', 'the first entries made are kept');
  t.match(capped, '{ i:        127 } hitcount:          1\n\nTotals:\n    Hits: 128\n    Entries: 128\n    Dropped: 172\n', 'a full table drops the rest');
});

t.test('a refused trigger: the kernel\'s error_log entry, exit 1', { skip }, async (t) => {
  const target = buildLoopTarget();
  t.teardown(() => target.cleanup());
  const r = await runCli(['trace', '-e', tickProbe(target, 'kpbh'), '--trigger', 'kpbh/tick:hist:keys=nope', '--no-trace', '-c', `${target.path} 1`]);
  t.equal(r.code, 1);
  t.equal(r.stderr, "hist:kpbh:tick: error: Couldn't find field\n  Command: hist:keys=nope\n                     ^\n");
  t.equal(r.stdout, '');
});

t.test('a trigger sees every hit, the event\'s filter only decides what is printed', { skip }, async (t) => {
  const target = buildLoopTarget();
  t.teardown(() => target.cleanup());
  const r = await withKernelLock(() => runCli(['trace', '-e', `${tickProbe(target, 'kpbh')} if i >= 8`,
    '--trigger', 'kpbh/tick:hist:keys=seq', '--pipe', '-c', `${target.path} 10`]));
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout.split('\n').filter((l) => l.includes(' tick: ')).length, 2, 'two lines pass the event filter');
  t.match(r.stdout, '{ seq:          7 } hitcount:         10\n', 'the trigger counted all ten hits');
});
