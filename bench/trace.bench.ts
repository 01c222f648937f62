// `kprobe-bpf trace` end to end, as users run it (the CLI as a subprocess):
// a gcc-built loop calls a probed function N times, our BPF program records
// each hit, the runtime reads the per-CPU rings, decodes and prints every
// line (--pipe, into a file). Measured per producer speed (spin iterations
// between calls): events/s from the first to the last event's timestamp,
// events lost, the peak RSS of the kprobe-bpf process (/proc/PID/status
// VmHWM). The same probe traced by bpftrace (`uprobe:PATH:kpb_tick {
// printf(...) }`, one line per hit with the same fields) in the same run is
// the peer, with ratios.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ratio, type Bench, type Row } from './table.js';
import { uprobeEventsSkipReason, withKernelLock } from '../test/lib/kernel.js';
import { CLI } from '../test/e2e/lib/runs.js';
import { buildLoopTarget, tickProbe, type LoopTarget } from '../test/e2e/lib/loop-target.js';

const N = 200_000;
const SPINS = [0, 30, 100, 300, 1000];

interface RunResult {
  readonly events: number;
  readonly lost: number;
  /** Events per second between the first and the last event's timestamp. */
  readonly rate: number;
  readonly hwmKiB: number;
}

function vmHwmKiB(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

interface Sampled {
  readonly child: ChildProcess;
  /** stderr so far. */
  stderr(): string;
  /** Peak VmHWM seen so far, KiB. */
  hwmKiB(): number;
  /** Resolves with the exit code once the process has closed; sampling stops then. */
  readonly closed: Promise<number | null>;
}

/** Starts argv with stdout into `outFile`, sampling its VmHWM every 50 ms until it exits. */
function spawnSampled(argv: readonly string[], outFile: string): Sampled {
  const out = openSync(outFile, 'w');
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', out, 'pipe'] });
  closeSync(out);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let hwm = 0;
  const timer = setInterval(() => (hwm = Math.max(hwm, vmHwmKiB(child.pid!))), 50);
  const closed = new Promise<number | null>((resolve, reject) => {
    child.once('error', (e) => { clearInterval(timer); reject(e); });
    child.once('close', (code) => { clearInterval(timer); resolve(code); });
  });
  return { child, stderr: () => stderr, hwmKiB: () => hwm, closed };
}

/** Runs argv to completion with stdout into `outFile`; resolves with stderr and the peak. */
async function runSampled(argv: readonly string[], outFile: string): Promise<{ stderr: string; hwmKiB: number; code: number | null }> {
  const s = spawnSampled(argv, outFile);
  const code = await s.closed;
  return { stderr: s.stderr(), hwmKiB: s.hwmKiB(), code };
}

/** Rate from the first and last timestamps (seconds) of n events. */
const rateOf = (n: number, first: number, last: number): number => (n > 1 && last > first ? (n - 1) / (last - first) : 0);

async function ours(target: LoopTarget, spin: number, dir: string): Promise<RunResult> {
  const file = join(dir, `ours-${spin}.txt`);
  const r = await runSampled([CLI, 'trace', '-e', tickProbe(target, 'kpbbench'), '-c', `${target.path} ${N} ${spin}`, '--pipe'], file);
  if (r.code !== 0) throw new Error(`kprobe-bpf trace exited ${r.code}: ${r.stderr}`);
  const text = readFileSync(file, 'latin1');
  let events = 0;
  let first = 0;
  let last = 0;
  // "   kpbloop-123   [001] .....  12.345678: tick: ..." : the timestamp column is seconds.microseconds
  for (const m of text.matchAll(/\] \S+ +(\d+\.\d{6}): tick: /g)) {
    const ts = Number(m[1]);
    if (events++ === 0) first = ts;
    last = ts;
  }
  return { events, lost: N - events, rate: rateOf(events, first, last), hwmKiB: r.hwmKiB };
}

async function bpftrace(target: LoopTarget, spin: number, dir: string): Promise<RunResult> {
  const file = join(dir, `bpftrace-${spin}.txt`);
  // The same fields our line carries: comm, pid, cpu, time, ip, both arguments.
  const script = BPFTRACE_SCRIPT(target);
  const r = await runSampled(['bpftrace', '-e', script, '-c', `${target.path} ${N} ${spin}`], file);
  if (r.code !== 0) throw new Error(`bpftrace exited ${r.code}: ${r.stderr}`);
  const text = readFileSync(file, 'latin1');
  let events = 0;
  let first = 0;
  let last = 0;
  for (const m of text.matchAll(/\] (\d+): tick: /g)) {
    const ns = Number(m[1]) / 1e9;
    if (events++ === 0) first = ns;
    last = ns;
  }
  return { events, lost: N - events, rate: rateOf(events, first, last), hwmKiB: r.hwmKiB };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `count` copies of the loop at full speed (spin 0), each calling kpb_tick N / count times; resolves when all exit. */
function producers(target: LoopTarget, count: number): Promise<void> {
  return Promise.all(Array.from({ length: count }, () => new Promise<void>((resolve, reject) => {
    const c = spawn(target.path, [String(Math.floor(N / count)), '0'], { stdio: 'ignore' });
    c.once('error', reject);
    c.once('close', () => resolve());
  }))).then(() => undefined);
}

/**
 * System-wide tracing (no -c/-p: every process running the loop) with one
 * producer per CPU: the tracer, not the producer, becomes the bound. The
 * tracer is started, `ready` says when it is attached, the producers run, then
 * SIGINT ends it (as Ctrl-C would) and its output is counted.
 */
async function systemWide(argv: readonly string[], file: string, ready: (pid: number) => boolean,
  target: LoopTarget, count: number, parse: (text: string) => { events: number; rate: number }): Promise<RunResult> {
  const s = spawnSampled(argv, file);
  const { child } = s;
  try {
    for (let i = 0; i < 600 && !ready(child.pid!); i++) {
      if (child.exitCode !== null) throw new Error(`${argv[0]} exited early: ${s.stderr()}`);
      await sleep(50);
    }
    await producers(target, count);
    await sleep(500); // let the reader catch up before the stop
    child.kill('SIGINT');
    await s.closed;
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  const { events, rate } = parse(readFileSync(file, 'latin1'));
  return { events, lost: Math.floor(N / count) * count - events, rate, hwmKiB: s.hwmKiB() };
}

function parseOurs(text: string): { events: number; rate: number } {
  let events = 0, first = 0, last = 0;
  for (const m of text.matchAll(/\] \S+ +(\d+\.\d{6}): tick: /g)) {
    const ts = Number(m[1]);
    if (events++ === 0) first = ts;
    last = ts;
  }
  return { events, rate: rateOf(events, first, last) };
}

function parseBpftrace(text: string): { events: number; rate: number } {
  let events = 0, first = 0, last = 0;
  for (const m of text.matchAll(/\] (\d+): tick: /g)) {
    const s = Number(m[1]) / 1e9;
    if (events++ === 0) first = s;
    last = s;
  }
  return { events, rate: rateOf(events, first, last) };
}

/** Whether the kernel lists a perf event with a BPF program of `pid` on the target (bpftool perf list). */
function attachedBy(pid: number, target: LoopTarget): boolean {
  try {
    const list = JSON.parse(execFileSync('bpftool', ['-j', 'perf', 'list'], { encoding: 'utf8' }) || '[]') as { pid: number; filename?: string }[];
    return list.some((e) => e.pid === pid && e.filename === target.path);
  } catch {
    return false;
  }
}

const BPFTRACE_SCRIPT = (t: LoopTarget) =>
  `uprobe:${t.path}:kpb_tick { printf("%s-%d [%03d] %llu: tick: (0x%lx) i=%ld seq=%u\\n", comm, pid, cpu, nsecs, reg("ip"), arg0, arg1); }`;

const haveBpftrace = async (): Promise<boolean> =>
  new Promise((resolve) => {
    const c = spawn('bpftrace', ['--version'], { stdio: 'ignore' });
    c.once('error', () => resolve(false));
    c.once('close', (code) => resolve(code === 0));
  });

const mib = (kib: number): number => +(kib / 1024).toFixed(1);

const bench: Bench = {
  name: `trace: kprobe-bpf trace end to end (CLI, uprobe + BPF + rings + print), ${N.toLocaleString('en-US')} hits per run, bpftrace as the peer`,
  async run() {
    const why = uprobeEventsSkipReason();
    if (why) return [{ measure: 'trace end to end', result: `skipped: ${why}` }];
    const peer = await haveBpftrace();
    return withKernelLock(async () => {
      const target = buildLoopTarget();
      const dir = mkdtempSync(join(tmpdir(), 'kpb-tbench-'));
      const rows: Row[] = [];
      let bestOurs: RunResult | undefined;
      let bestPeer: RunResult | undefined;
      let hwmOurs = 0;
      let hwmPeer = 0;
      try {
        // Fastest producer first; a run with zero lost is a rate sustained.
        for (const spin of SPINS) {
          const o = await ours(target, spin, dir);
          const p = peer ? await bpftrace(target, spin, dir) : undefined;
          hwmOurs = Math.max(hwmOurs, o.hwmKiB);
          hwmPeer = Math.max(hwmPeer, p?.hwmKiB ?? 0);
          if (o.lost === 0 && o.rate > (bestOurs?.rate ?? 0)) bestOurs = o;
          if (p && p.lost === 0 && p.rate > (bestPeer?.rate ?? 0)) bestPeer = p;
          rows.push({
            measure: `spin ${spin}`,
            'events/s': Math.round(o.rate),
            lost: o.lost,
            'VmHWM MiB': mib(o.hwmKiB),
            'bpftrace events/s': p ? Math.round(p.rate) : '-',
            'bpftrace lost': p ? p.lost : '-',
            'bpftrace VmHWM MiB': p ? mib(p.hwmKiB) : '-',
            'ours/bpftrace': p ? ratio(o.rate, p.rate) : '-',
          });
        }
        // One producer per CPU, system-wide: the tracer competes with them for the CPUs.
        const cpus = (await import('node:os')).availableParallelism();
        const sw = await systemWide([CLI, 'trace', '-e', tickProbe(target, 'kpbbench'), '--pipe'], join(dir, 'ours-sw.txt'),
          (pid) => attachedBy(pid, target), target, cpus, parseOurs);
        const swPeer = peer
          ? await systemWide(['bpftrace', '-e', BPFTRACE_SCRIPT(target)], join(dir, 'bpftrace-sw.txt'),
            (pid) => attachedBy(pid, target), target, cpus, parseBpftrace)
          : undefined;
        hwmOurs = Math.max(hwmOurs, sw.hwmKiB);
        hwmPeer = Math.max(hwmPeer, swPeer?.hwmKiB ?? 0);
        rows.push({
          measure: `${cpus} producers at spin 0, system-wide`,
          'events/s': Math.round(sw.rate),
          lost: sw.lost,
          'VmHWM MiB': mib(sw.hwmKiB),
          'bpftrace events/s': swPeer ? Math.round(swPeer.rate) : '-',
          'bpftrace lost': swPeer ? swPeer.lost : '-',
          'bpftrace VmHWM MiB': swPeer ? mib(swPeer.hwmKiB) : '-',
          'ours/bpftrace': swPeer ? ratio(sw.rate, swPeer.rate) : '-',
        });
        if (sw.lost === 0 && sw.rate > (bestOurs?.rate ?? 0)) bestOurs = sw;
        if (swPeer && swPeer.lost === 0 && swPeer.rate > (bestPeer?.rate ?? 0)) bestPeer = swPeer;
        rows.push({
          // With nothing lost even with a producer per CPU, the bound is the producers (hitting the uprobe back to back), not the tracer.
          measure: sw.lost === 0 && rows.every((r) => r['lost'] === 0) ? 'highest rate with zero lost (producer-bound: nothing lost anywhere)' : 'highest rate with zero lost',
          'events/s': Math.round(bestOurs?.rate ?? 0),
          lost: bestOurs ? 0 : '-',
          'VmHWM MiB': mib(hwmOurs),
          'bpftrace events/s': peer ? Math.round(bestPeer?.rate ?? 0) : 'bpftrace not installed',
          'bpftrace lost': bestPeer ? 0 : '-',
          'bpftrace VmHWM MiB': peer ? mib(hwmPeer) : '-',
          'ours/bpftrace': peer ? ratio(bestOurs?.rate ?? 0, bestPeer?.rate ?? 0) : '-',
        });
        rows.push({
          measure: 'peak RSS of the tracer (VmHWM, all runs)',
          'VmHWM MiB': mib(hwmOurs),
          'bpftrace VmHWM MiB': peer ? mib(hwmPeer) : '-',
          'ours/bpftrace': peer ? ratio(hwmOurs, hwmPeer) : '-',
        });
        return rows;
      } finally {
        rmSync(dir, { recursive: true, force: true });
        target.cleanup();
      }
    });
  },
};
export default bench;
