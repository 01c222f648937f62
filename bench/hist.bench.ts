// Per-hit cost of a hist trigger: a gcc-built loop calls a uprobed function
// N times; the loop's own run time with the probe attached, minus its run
// time with nothing attached, divided by N. Peers in the same run:
// `hist:keys=common_pid:vals=hitcount` with --no-trace (no record leaves the
// program), the same event printing every hit (`--pipe` into a file), and
// bpftrace's `@[pid] = count()`. Each tracer runs system-wide (the probe is
// on the loop's own binary) and is given time to attach before the loop
// starts, so only the loop's time is measured. The kernel's own hist
// trigger is measured in the guest only (this host has no CONFIG_HIST_TRIGGERS).
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Bench, Row } from './table.js';
import { uprobeEventsSkipReason, withKernelLock } from '../test/lib/kernel.js';
import { CLI } from '../test/e2e/lib/runs.js';
import { buildLoopTarget, tickProbe, type LoopTarget } from '../test/e2e/lib/loop-target.js';

const N = 500_000;
const ROUNDS = 3;
/** Time a tracer gets to start and attach before the loop runs. */
const ATTACH_MS = 4000;

/** The loop's wall time in ns (run to completion). */
function loopNs(t: LoopTarget): number {
  const start = process.hrtime.bigint();
  execFileSync(t.path, [String(N), '0'], { stdio: 'ignore' });
  return Number(process.hrtime.bigint() - start);
}

/** Starts `argv` (stdout into a file), lets it attach, times the loop, stops it with SIGINT; the loop's time and the tracer's stdout. */
async function underTracer(t: LoopTarget, argv: readonly string[], dir: string, name: string, env: Record<string, string> = {}): Promise<{ ns: number; out: string }> {
  const file = join(dir, `${name}.out`);
  const fd = openSync(file, 'w');
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', fd, 'pipe'], env: { ...process.env, ...env } });
  closeSync(fd);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
  await sleep(ATTACH_MS);
  const ns = loopNs(t);
  await sleep(500);
  child.kill('SIGINT');
  await closed;
  if (/error|refus/i.test(stderr) && !/^\s*$/.test(stderr)) process.stderr.write(`${name}: ${stderr}\n`);
  return { ns, out: readFileSync(file, 'latin1') };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const bench: Bench = {
  name: `hist trigger per-hit cost (uprobe, ${N.toLocaleString('en-US')} calls, median of ${ROUNDS} round(s))`,
  async run(): Promise<Row[]> {
    const skip = uprobeEventsSkipReason();
    if (skip) return [{ skipped: skip }];
    const t = buildLoopTarget();
    const dir = mkdtempSync(join(tmpdir(), 'kpb-hist-bench-'));
    try {
      return await withKernelLock(async () => {
        const probe = tickProbe(t, 'kpbhist');
        const runs: Record<string, { argv: string[]; check: (out: string) => string; env?: Record<string, string> }> = {
          'kprobe-bpf hist --no-trace': {
            argv: [CLI, 'trace', '-e', probe, '--trigger', 'kpbhist/tick:hist:keys=common_pid:vals=hitcount', '--no-trace'],
            check: (out) => /Hits: (\d+)/.exec(out)?.[1] ?? '?',
          },
          // the other way to sum: a PERCPU_HASH, plain adds, summed when read (compiler/hist-layout.ts HistSums)
          'kprobe-bpf hist --no-trace, per-CPU sums': {
            argv: [CLI, 'trace', '-e', probe, '--trigger', 'kpbhist/tick:hist:keys=common_pid:vals=hitcount', '--no-trace'],
            check: (out) => /Hits: (\d+)/.exec(out)?.[1] ?? '?',
            env: { KPROBE_BPF_HIST_SUMS: 'percpu' },
          },
          'kprobe-bpf hist --no-trace --no-sleepable': {
            argv: [CLI, 'trace', '-e', probe, '--trigger', 'kpbhist/tick:hist:keys=common_pid:vals=hitcount', '--no-trace', '--no-sleepable'],
            check: (out) => /Hits: (\d+)/.exec(out)?.[1] ?? '?',
          },
          'kprobe-bpf hist + every hit printed': {
            argv: [CLI, 'trace', '-e', probe, '--trigger', 'kpbhist/tick:hist:keys=common_pid:vals=hitcount', '--pipe'],
            check: (out) => /Hits: (\d+)/.exec(out)?.[1] ?? '?',
          },
          'kprobe-bpf, every hit printed': {
            argv: [CLI, 'trace', '-e', probe, '--pipe'],
            check: (out) => String(out.split('\n').filter((l) => l.includes(' tick: ')).length),
          },
          'bpftrace @[pid] = count()': {
            argv: ['sh', '-c', 'ulimit -l unlimited 2>/dev/null; exec bpftrace -e "$0"', `uprobe:${t.path}:kpb_tick { @[pid] = count(); }`],
            check: (out) => /@\[\d+\]: (\d+)/.exec(out)?.[1] ?? '?',
          },
        };
        const base: number[] = [];
        const traced = new Map<string, number[]>();
        const counted = new Map<string, string>();
        for (let r = 0; r < ROUNDS; r++) {
          base.push(loopNs(t));
          for (const [name, run] of Object.entries(runs)) {
            const got = await underTracer(t, run.argv, dir, name.replace(/\W+/g, '_'), run.env);
            traced.set(name, [...(traced.get(name) ?? []), got.ns]);
            counted.set(name, run.check(got.out));
          }
        }
        const b = median(base);
        const rows: Row[] = [{ tracer: 'no probe (loop alone)', 'loop ms': b / 1e6, 'ns per hit': 0, 'hits counted': '-' }];
        const ours = median(traced.get('kprobe-bpf hist --no-trace')!);
        for (const [name, ns] of traced) {
          const perHit = (median(ns) - b) / N;
          rows.push({ tracer: name, 'loop ms': median(ns) / 1e6, 'ns per hit': perHit, 'hits counted': counted.get(name)!, 'vs hist --no-trace': perHit / ((ours - b) / N) });
        }
        return rows;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
      t.cleanup();
    }
  },
};
export default bench;
