// Ctrl-C and SIGTERM on `kprobe-bpf trace -c CMD` (and Ctrl-C on -p PID),
// the CLI as users run it, judged from the kernel's side:
//   - bpftool perf list: while tracing, the kprobe-bpf process holds a
//     uprobe perf event with a BPF program on the target; afterwards none
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
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { uprobeEventsSkipReason, withKernelLock, TRACEFS } from '../lib/kernel.js';
import { CLI, ourProfile, traceLines } from './lib/runs.js';
import { buildLoopTarget, tickProbe, type LoopTarget } from './lib/loop-target.js';

const skip = uprobeEventsSkipReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

/** The byte at the probed instruction as the process sees it (/proc/PID/mem), 0xcc while a uprobe is registered. */
function probedByte(pid: number, target: LoopTarget): number {
  const map = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')
    .map((l) => l.split(/\s+/))
    .find((f) => f[5] === target.path && f[2] === '00000000');
  if (!map) throw new Error(`${target.path} is not mapped in ${pid}`);
  const base = BigInt(`0x${map[0]!.split('-')[0]}`);
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, Number(base + target.tickOffset));
    return b[0]!;
  } finally {
    closeSync(fd);
  }
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

        // Attached: the kernel lists our perf event with its BPF program on the target.
        let ours: PerfEntry[] = [];
        for (let i = 0; i < 400 && child.exitCode === null; i++) {
          ours = perfList().filter((e) => e.pid === child.pid && e.filename === target.path);
          if (ours.length) break;
          await sleep(50);
        }
        t.equal(ours.length, 1, 'while tracing: one uprobe perf event with a BPF program, held by kprobe-bpf', { err });
        workload = own ? own.pid : childPids(child.pid!)[0];
        t.ok(workload, own ? 'the workload runs' : 'the workload runs as the child of kprobe-bpf');
        await sleep(400); // let hits accumulate
        t.equal(probedByte(workload!, target), 0xcc, 'while tracing: the probed instruction is the uprobe breakpoint');

        child.kill(sig);
        const { code } = await exited;
        t.equal(code, 128 + SIGNO[sig], `exit status 128+${SIGNO[sig]}`, { err });

        // Nothing of ours is left in the kernel.
        t.same(perfList().filter((e) => e.filename === target.path), [], 'no perf event on the target remains');
        for (const e of ours) t.notOk(progExists(e.prog_id), `program ${e.prog_id} is unloaded`);
        if (own) {
          t.equal(probedByte(workload!, target), fileByte(target), 'the probed instruction is restored in the still-running process: the uprobe is unregistered');
        } else {
          await sleep(200);
          t.notOk(existsSync(`/proc/${workload}/status`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${workload}/status`, 'utf8')),
            `the -c command was sent ${sig} too (as bpftrace -c and timeout(1) do), not waited for`);
        }
        const events = readFileSync(`${TRACEFS}/uprobe_events`, 'utf8');
        t.notOk(events.includes(target.path) || events.includes(`${group}/`), 'uprobe_events holds nothing of ours');

        // Drained: every hit up to the detach printed, none lost.
        const lines = traceLines(out);
        const values = lines.map((l) => Number(/ i=(\d+) /.exec(l.body)?.[1]));
        t.ok(lines.length > 10, `hits were traced before the signal (${lines.length})`);
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
