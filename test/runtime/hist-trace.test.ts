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

t.test('expressions and variables: keys computed in the program as the kernel computes them', { skip }, async (t) => {
  const { divideByConstant } = await import('../../grammar/trigger/index.js');
  const target = buildLoopTarget();
  t.teardown(() => target.cleanup());
  const n = 12;
  const r = await withKernelLock(() => runCli(['trace', '-e', tickProbe(target, 'kpbh'),
    '--trigger', 'kpbh/tick:hist:keys=i/3:vals=hitcount,i*2:t0=common_timestamp.usecs:sort=i/3',
    '--trigger', 'kpbh/tick:hist:keys=-(i),seq+i:sort=seq+i.descending',
    '--trigger', 'kpbh/tick:hist:keys=$k:k=seq:vals=$v:v=i',
    '--no-trace', '-c', `${target.path} ${n}`]));
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, '# trigger info: hist:keys=i/3:vals=hitcount,i*2:t0=common_timestamp.usecs:sort=i/3:size=2048:clock=global [active]\n');
  // i/3 by multiply-and-shift (the kernel's div_by_mult_and_shift), not by an exact division; the i*2 sums never print
  const byKey = new Map<bigint, number>();
  for (let i = 0n; i < BigInt(n); i++) { const k = divideByConstant(3n)(i); byKey.set(k, (byKey.get(k) ?? 0) + 1); }
  const want = [...byKey].sort((a, b) => Number(a[0] - b[0])).map(([k, c]) => `{ i/3: ${String(k).padStart(10)} } hitcount: ${String(c).padStart(10)}\n`).join('');
  t.match(r.stdout, want, 'one line per i/3, no i*2 column');
  t.match(r.stdout, `{ -(i): 18446744073709551605, seq+i:         18 } hitcount:          1\n`, 'unary minus as a u64; seq+i descending first');
  t.match(r.stdout, '# trigger info: hist:keys=seq:vals=hitcount,i:k=seq,v=i:sort=hitcount:size=2048 [active]\n');
  t.match(r.stdout, `{ seq:          7 } hitcount:         ${n}  i:         ${(n * (n - 1)) / 2}\n`, '$k and $v read the fields they name');
});

t.test('name=: triggers of one name on two events fill one table, printed under each', { skip }, async (t) => {
  const target = buildLoopTarget();
  t.teardown(() => target.cleanup());
  const r = await withKernelLock(() => runCli(['trace', '-e', tickProbe(target, 'kpbh', 'one'), '-e', tickProbe(target, 'kpbh', 'two'),
    '--trigger', 'kpbh/one:hist:name=both:keys=seq:vals=i',
    '--trigger', 'kpbh/two:hist:name=both:keys=seq:vals=i if i < 5',
    '--no-trace', '-c', `${target.path} 10`]));
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, '==> events/kpbh/one/hist <==\n# event histogram\n#\n# trigger info: hist:name=both:keys=seq:vals=hitcount,i:sort=hitcount:size=2048 [active]\n');
  t.match(r.stdout, '==> events/kpbh/two/hist <==\n# event histogram\n#\n# trigger info: hist:name=both:keys=seq:vals=hitcount,i:sort=hitcount:size=2048 if i < 5 [active]\n');
  const table = '{ seq:          7 } hitcount:         15  i:         55\n';
  t.equal(r.stdout.split(table).length, 3, 'the same table (10 + 5 hits) under both events');
  const bad = await runCli(['trace', '-e', tickProbe(target, 'kpbh', 'one'), '-e', tickProbe(target, 'kpbh', 'two'),
    '--trigger', 'kpbh/one:hist:name=both:keys=seq', '--trigger', 'kpbh/two:hist:name=both:keys=i', '--no-trace', '-c', `${target.path} 1`]);
  t.equal(bad.code, 1);
  t.equal(bad.stderr, "hist:kpbh:two: error: Named hist trigger doesn't match existing named trigger (includes variables)\n  Command: hist:name=both:keys=i\n                ^\n");
});

t.test('compile --trigger -o OBJ.o, then trace OBJ.o: the object carries its triggers and prints their tables', { skip }, async (t) => {
  const target = buildLoopTarget();
  t.teardown(() => target.cleanup());
  const obj = `${target.dir}/hist.o`;
  const c = await runCli(['compile', '-e', tickProbe(target, 'kpbh'), '--trigger', 'kpbh/tick:hist:keys=seq:vals=hitcount,i',
    '--trigger', 'kpbh/tick:hist:keys=i/4:sort=i/4 if i < 8', '--trigger', 'kpbh/tick:hist:keys=i/4:sort=i/4:pause if i < 8', '-o', obj]);
  t.equal(c.code, 0, c.stderr);
  const r = await withKernelLock(() => runCli(['trace', obj, '--no-trace', '-c', `${target.path} 10`]));
  t.equal(r.code, 0, r.stderr);
  t.notMatch(r.stdout, / tick: /, '--no-trace: no trace line');
  t.match(r.stdout, '# trigger info: hist:keys=seq:vals=hitcount,i:sort=hitcount:size=2048 [active]\n#\n\n{ seq:          7 } hitcount:         10  i:         45\n');
  t.match(r.stdout, '# trigger info: hist:keys=i/4:vals=hitcount:sort=i/4:size=2048 if i < 8 [paused]\n#\n\n\nTotals:\n    Hits: 0\n', 'a later pause write is kept');
  const plain = await runCli(['trace', obj, '--no-trace', '--interval', '1', '-c', 'true']);
  t.equal(plain.code, 0, plain.stderr);
});

t.test('per-CPU sums (KPROBE_BPF_HIST_SUMS=percpu) print what atomic sums print: sums, comm, entry order, drops', { skip }, async (t) => {
  const target = buildLoopTarget();
  t.teardown(() => target.cleanup());
  const args = ['trace', '-e', tickProbe(target, 'kpbh'),
    '--trigger', 'kpbh/tick:hist:keys=common_pid.execname,seq:vals=hitcount,i',
    '--trigger', 'kpbh/tick:hist:keys=i.buckets=10:vals=i:size=128',
    '--no-trace', '-c', `${target.path} 2000`];
  const run = async (sums: string) => {
    process.env.KPROBE_BPF_HIST_SUMS = sums;
    try { return await withKernelLock(() => runCli(args)); } finally { delete process.env.KPROBE_BPF_HIST_SUMS; }
  };
  const atomic = await run('atomic');
  const percpu = await run('percpu');
  t.equal(percpu.code, 0, percpu.stderr);
  const pidless = (s: string) => s.replace(/\[\s*\d+\]/g, '[pid]');
  t.equal(pidless(percpu.stdout), pidless(atomic.stdout), 'the same tables');
  t.match(percpu.stdout, 'Dropped: 720\n', 'each hit of a bucket the full map refused is a drop, either way');
});
