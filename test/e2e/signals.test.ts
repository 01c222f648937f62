// Ctrl-C and SIGTERM on `kprobe-bpf trace -c CMD` (and Ctrl-C on -p PID),
// the CLI as users run it, judged from the kernel's side:
//   - bpftool perf list and the process's fdinfo: while tracing, the
//     kprobe-bpf process holds a uprobe perf event with a BPF program on the
//     target, or a uprobe_multi link on it (6.6+); afterwards no perf event
//     exists for the target, and the programs are gone (bpftool prog show id);
//   - the probed instruction in the workload: 0xcc (the uprobe breakpoint)
//     while attached and, with -p (the workload outlives the tracer), the
//     file's own byte afterwards — the kernel unregistered the uprobe; with
//     -c the command is sent the same signal and is gone;
//   - uprobe_events: nothing of ours (we attach through the PMU, but check);
//   - the output was drained: the header's entries equal the lines printed,
//     the lines are i=0..n-1 with no gap, the profile's hits equal n;
//   - the exit status is 128+signo.
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { uprobeEventsSkipReason, withKernelLock, TRACEFS } from '../lib/kernel.js';
import { CLI, ourProfile, traceLines } from './lib/runs.js';
import { buildLoopTarget, tickProbe, type LoopTarget } from './lib/loop-target.js';
import { uprobeMultiLinks } from './lib/uprobe-links.js';

const skip = uprobeEventsSkipReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until cond() holds, looking every 20 ms. The limit only guards
 * against a hang (the caller asserts cond afterwards); nothing here depends
 * on how fast the machine is.
 */
async function until(cond: () => boolean, limitMs = 60_000): Promise<boolean> {
  for (const end = Date.now() + limitMs; Date.now() < end; await sleep(20)) if (cond()) return true;
  return cond();
}

/** Hits printed before the signal is sent: enough to see a gap or a reorder in the drained output. */
const HITS_BEFORE_SIGNAL = 20;

/** The -c command is gone: no /proc entry, or a zombie not yet reaped. */
function gone(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

interface PerfEntry { pid: number; fd: number; prog_id: number; fd_type: string; filename?: string; offset?: number }

function perfList(): PerfEntry[] {
  return JSON.parse(execFileSync('bpftool', ['-j', 'perf', 'list'], { encoding: 'utf8' }) || '[]') as PerfEntry[];
}

function progExists(id: number): boolean {
  try {
    execFileSync('bpftool', ['prog', 'show', 'id', String(id)], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** n bytes at vaddr (PIE: relative to where the file's first page is mapped) in the process, through /proc/PID/mem. */
function readMem(pid: number, target: LoopTarget, vaddr: bigint, n: number): Buffer {
  const map = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')
    .map((l) => l.split(/\s+/))
    .find((f) => f[5] === target.path && f[2] === '00000000');
  if (!map) throw new Error(`${target.path} is not mapped in ${pid}`);
  const base = BigInt(`0x${map[0]!.split('-')[0]}`);
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const b = Buffer.alloc(n);
    readSync(fd, b, 0, n, Number(base + vaddr));
    return b;
  } finally {
    closeSync(fd);
  }
}

/** The byte at the probed instruction as the process sees it, 0xcc while a uprobe is registered. */
function probedByte(pid: number, target: LoopTarget): number {
  return readMem(pid, target, target.tickOffset, 1)[0]!;
}

/** Calls of kpb_tick the workload has made: kpb_sink = sum of (i + 7) for i < n = n(n + 13)/2. */
function callsMade(pid: number, target: LoopTarget): number {
  const sum = Number(readMem(pid, target, target.sinkVaddr, 8).readBigInt64LE());
  return Math.round((Math.sqrt(169 + 8 * sum) - 13) / 2);
}

function fileByte(target: LoopTarget): number {
  return readFileSync(target.path)[Number(target.tickOffset)]!;
}

const childPids = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

const SIGNO = { SIGINT: 2, SIGTERM: 15 } as const;

const CASES = [
  { sig: 'SIGINT', how: '-c' },
  { sig: 'SIGTERM', how: '-c' },
  { sig: 'SIGINT', how: '-p' },
] as const;

for (const { sig, how } of CASES) {
  t.test(`${sig} on kprobe-bpf trace ${how}: detached, drained, exit ${128 + SIGNO[sig]}`, { skip }, async (t) => {
    await withKernelLock(async () => {
      const target = buildLoopTarget();
      let workload: number | undefined;
      try {
        const group = `kpbsig${process.pid}${sig === 'SIGINT' ? 'i' : 't'}`;
        // 100 000 calls, 1 ms apart: far longer than the test.
        const loop = [target.path, '100000', '0', '1000'];
        // -p: the workload is ours and outlives the tracer, so its code can be inspected after the detach.
        const own = how === '-p' ? spawn(loop[0]!, loop.slice(1), { stdio: 'ignore' }) : undefined;
        const scope = own ? ['-p', String(own.pid)] : ['-c', loop.join(' ')];
        const child = spawn(CLI, ['trace', '-e', tickProbe(target, group), ...scope, '--profile'],
          { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.setEncoding('latin1').on('data', (d: string) => (out += d));
        child.stderr.setEncoding('latin1').on('data', (d: string) => (err += d));
        const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
          child.once('close', (code, signal) => resolve({ code, signal })));

        // Attached: the kernel lists our perf event with its BPF program on the target, or our uprobe_multi link.
        let ours: { prog_id: number }[] = [];
        await until(() => {
          ours = [
            ...perfList().filter((e) => e.pid === child.pid && e.filename === target.path),
            ...uprobeMultiLinks(child.pid!).filter((l) => l['path'] === target.path).map((l) => ({ prog_id: Number(l['prog_id']) })),
          ];
          return ours.length > 0 || child.exitCode !== null;
        });
        t.equal(ours.length, 1, 'while tracing: one uprobe perf event or uprobe_multi link with a BPF program, held by kprobe-bpf', { err });
        workload = own ? own.pid : childPids(child.pid!)[0];
        t.ok(workload, own ? 'the workload runs' : 'the workload runs as the child of kprobe-bpf');
        t.ok(await until(() => probedByte(workload!, target) === 0xcc), 'while tracing: the probed instruction is the uprobe breakpoint');
        // The trace file form holds its lines until the end (its header counts
        // them first), so the hits are counted on the workload's side: N calls
        // made once the breakpoint is in are N hits the output must show.
        const callsAttached = callsMade(workload!, target);
        const hitsBeforeSignal = callsAttached + HITS_BEFORE_SIGNAL;
        t.ok(await until(() => callsMade(workload!, target) >= hitsBeforeSignal), `the workload made ${HITS_BEFORE_SIGNAL} calls while traced`);
        const hitsSure = own ? HITS_BEFORE_SIGNAL : hitsBeforeSignal;

        child.kill(sig);
        const { code } = await exited;
        t.equal(code, 128 + SIGNO[sig], `exit status 128+${SIGNO[sig]}`, { err });

        // Nothing of ours is left in the kernel.
        t.same(perfList().filter((e) => e.filename === target.path), [], 'no perf event on the target remains');
        // a uprobe_multi link frees its program after an RCU tasks-trace grace period (bpf_link's dealloc_deferred): soon, not at once
        for (const e of ours) t.ok(await until(() => !progExists(e.prog_id), 10_000), `program ${e.prog_id} is unloaded`);
        if (own) {
          t.equal(probedByte(workload!, target), fileByte(target), 'the probed instruction is restored in the still-running process: the uprobe is unregistered');
        } else {
          // The command dies of the signal on its own; kprobe-bpf does not wait for it.
          t.ok(await until(() => gone(workload!)), `the -c command was sent ${sig} too (as bpftrace -c and timeout(1) do), not waited for`);
        }
        const events = readFileSync(`${TRACEFS}/uprobe_events`, 'utf8');
        t.notOk(events.includes(target.path) || events.includes(`${group}/`), 'uprobe_events holds nothing of ours');

        // Drained: every hit up to the detach printed, none lost.
        const lines = traceLines(out);
        const values = lines.map((l) => Number(/ i=(\d+) /.exec(l.body)?.[1]));
        t.ok(lines.length >= hitsSure, `at least the ${hitsSure} hits made before the signal are printed (${lines.length})`);
        const from = own ? values[0]! : 0;
        t.same(values, values.map((_, i) => from + i), `lines are i=${from}..${from}+n-1: nothing lost, nothing out of order`);
        t.match(out, new RegExp(`# entries-in-buffer/entries-written: ${lines.length}/${lines.length} `), 'the header counts what was printed');
        t.equal(ourProfile(err).get('tick')?.hits, lines.length, 'the profile counts every printed hit');
        t.notMatch(err, /lost/, 'no lost events reported');
      } finally {
        if (workload) {
          try {
            process.kill(workload, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
        target.cleanup();
      }
    });
  });
}
