// Event filters, what a hit costs the traced process: a gcc-built loop calls
// a probed function N times and times the loop itself in its own CPU time
// (CLOCK_THREAD_CPUTIME_ID around it, written to a file): the uprobe's
// handler, the kernel's tracer or our BPF program, runs in that thread, while
// tracer start-up, our reader and other load on the machine stay outside the
// measure. Per hit: (loop time traced - loop time untraced) / N. The
// event records a number and a string; cases: unfiltered, a filter that
// drops every hit on the number (our program tests it before fetching the
// string, compiler/filter-order.ts), one that drops every hit on the string,
// and one that keeps 1% (as hits/s). Each under `kprobe-bpf trace -c` (the
// default sleepable ring-buffer program, and --no-sleepable's perf ring) and
// under the kernel's own uprobe tracer (uprobe_events, the filter in a
// private instance's events/GRP/EVENT/filter) in the same run; the target
// is pinned to CPU 0 and each case's median of REPS runs is kept.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ratio, type Bench, type Row } from './table.js';
import { uprobeEventsSkipReason, withKernelLock } from '../test/lib/kernel.js';
import { ourProfile, runCli } from '../test/e2e/lib/runs.js';
import { addUprobeEvent, removeUprobeEvent, TraceInstance } from '../test/runtime/lib/tracefs.js';
import { resolveFileSymbol } from '../runtime/elf-symbols.js';

const N = 20_000;
const REPS = 5;
const KEEP = N / 100;

const TARGET_C = `
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
volatile long kpbf_sink;
static const char *names[] = { "/usr/lib/libc.so.6", "alpha", "beta.txt", "gamma/delta" };
__attribute__((noinline)) long kpbf_hit(long i, const char *name)
{
	asm volatile("" ::: "memory");
	return i + name[0];
}
/* argv: count outfile */
int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000;
	struct timespec a, b;
	for (int k = 0; k < 4; k++)
		kpbf_sink += names[k][0];
	/* the thread's CPU time: the probe's handler runs in it, the tracer's reader and the machine's other load do not */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	for (long i = 0; i < n; i++)
		kpbf_sink += kpbf_hit(i, names[i & 3]);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	FILE *f = fopen(argv[2], "w");
	if (!f)
		return 1;
	fprintf(f, "%lld\\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
	return fclose(f) ? 1 : 0;
}
`;

interface Case {
  readonly measure: string;
  /** undefined: unfiltered. */
  readonly filter?: string;
  /** Records the filter keeps of N. */
  readonly kept: number;
  /** Hits per second instead of ns per hit. */
  readonly throughput?: boolean;
}

const CASES: readonly Case[] = [
  { measure: 'unfiltered', kept: N },
  { measure: 'filter drops every hit, on the number', filter: 'i < 0 && name ~ "*.so*"', kept: 0 },
  { measure: 'filter drops every hit, on the string', filter: 'name ~ "*.zip"', kept: 0 },
  { measure: 'filter keeps 1% (hits per CPU-second of the traced thread)', filter: `i < ${KEEP}`, kept: KEEP, throughput: true },
];

interface Target { readonly dir: string; readonly path: string; readonly offset: bigint }

function buildTarget(): Target {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-fbench-'));
  const path = join(dir, 'kpbfloop');
  writeFileSync(join(dir, 'loop.c'), TARGET_C);
  execFileSync('gcc', ['-O1', '-o', path, join(dir, 'loop.c')], { stdio: 'pipe' });
  return { dir, path, offset: resolveFileSymbol(path, 'kpbf_hit', 0n) };
}

const GROUP = `kpbfbench${process.pid}`;
const definition = (t: Target) => `p:${GROUP}/hit ${t.path}:0x${t.offset.toString(16)} i=%di:s64 name=+0(%si):string`;
const command = (t: Target, out: string) => ['taskset', '-c', '0', t.path, String(N), out];
const loopNs = (out: string): number => Number(readFileSync(out, 'utf8').trim());
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The loop's time with nothing attached. */
function bare(t: Target): number {
  const out = join(t.dir, 'bare.ns');
  execFileSync(command(t, out)[0]!, command(t, out).slice(1), { stdio: 'ignore' });
  return loopNs(out);
}

/** One run under `kprobe-bpf trace`: the loop's time, the records printed and the misses. */
async function ours(t: Target, c: Case, sleepable: boolean): Promise<{ ns: number; records: number; misses: number }> {
  const out = join(t.dir, 'ours.ns');
  const r = await runCli(['trace', '-e', definition(t), ...(c.filter ? ['--filter', `${GROUP}/hit:${c.filter}`] : []), '--pipe', '--profile',
    ...(sleepable ? [] : ['--no-sleepable']), '-c', command(t, out).join(' ')], { timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`kprobe-bpf trace exited ${r.code}: ${r.stderr}`);
  const records = r.stdout.split('\n').filter((l) => l.includes(' hit: ')).length;
  return { ns: loopNs(out), records, misses: ourProfile(r.stderr).get('hit')?.misses ?? 0 };
}

/** One run under the kernel's uprobe tracer, in a private instance: the loop's time and the records in its buffer. */
function kernel(t: Target, c: Case): { ns: number; records: number } {
  const out = join(t.dir, 'kernel.ns');
  const inst = new TraceInstance(`${GROUP}i`);
  try {
    addUprobeEvent(definition(t));
    if (c.filter) writeFileSync(`${inst.dir}/events/${GROUP}/hit/filter`, c.filter);
    inst.enable(GROUP, 'hit');
    try {
      execFileSync(command(t, out)[0]!, command(t, out).slice(1), { stdio: 'ignore' });
    } finally {
      inst.enable(GROUP, 'hit', false);
    }
    const entries = /entries-in-buffer\/entries-written: \d+\/(\d+)/.exec(readFileSync(`${inst.dir}/trace`, 'utf8'));
    return { ns: loopNs(out), records: Number(entries?.[1] ?? -1) };
  } finally {
    inst.remove();
    removeUprobeEvent(GROUP, 'hit');
  }
}

const bench: Bench = {
  name: `filter: per-hit cost to the traced process of a filtered uprobe event (i=%di:s64 name=+0(%si):string), ${N.toLocaleString('en-US')} hits per run, `
    + `median of ${REPS}, kprobe-bpf trace -c (sleepable ring buffer; --no-sleepable perf ring) against the kernel's uprobe tracer with the same filter`,
  async run() {
    const why = uprobeEventsSkipReason();
    if (why) return [{ measure: 'filters', result: `skipped: ${why}` }];
    return withKernelLock(async () => {
      const t = buildTarget();
      try {
        const base = median(Array.from({ length: REPS }, () => bare(t)));
        const rows: Row[] = [{ measure: `untraced loop: ${(base / N).toFixed(1)} ns per call; below, ns per hit over it` }];
        for (const c of CASES) {
          const runs = { ring: [] as number[], perf: [] as number[], kernel: [] as number[] };
          // what each run recorded, where it is not what the filter keeps (a miss may be a hit the filter would have dropped)
          const wrong = new Set<string>();
          let misses = 0;
          for (let i = 0; i < REPS; i++) {
            for (const sleepable of [true, false]) {
              const o = await ours(t, c, sleepable);
              runs[sleepable ? 'ring' : 'perf'].push(o.ns);
              if (o.records > c.kept || o.records + o.misses < c.kept) wrong.add(`${sleepable ? 'ring' : 'perf'} ${o.records}`);
              misses = Math.max(misses, o.misses);
            }
            const k = kernel(t, c);
            runs.kernel.push(k.ns);
            if (k.records !== c.kept) wrong.add(`kernel ${k.records}`);
          }
          const [ring, perf, kern] = [median(runs.ring), median(runs.perf), median(runs.kernel)];
          // ns per hit over the untraced loop, or the traced loop's hits per second
          const value = (ns: number) => (c.throughput ? Math.round(N / (ns / 1e9)) : +((ns - base) / N).toFixed(1));
          rows.push({
            measure: `${c.measure}${c.filter ? `: ${c.filter}` : ''}`,
            'kprobe-bpf': value(ring), 'kprobe-bpf perf': value(perf), kernel: value(kern),
            // a lower cost, or a higher rate, is better: ratios as ours over the kernel's either way
            'ours/kernel': ratio(value(ring), value(kern)), 'perf/kernel': ratio(value(perf), value(kern)),
            records: wrong.size === 0 ? c.kept : [...wrong].join(', '), 'most misses (ours)': misses,
          });
        }
        return rows;
      } finally {
        rmSync(t.dir, { recursive: true, force: true });
      }
    });
  },
};
export default bench;
