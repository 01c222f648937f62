// The flags column and return uprobes' function on Debian's 6.1 (run inside
// the guest; the host's 6.18 has test/e2e/flags.test.ts and
// uretprobe-func.test.ts). One target, traced at once by the kernel's
// uprobe_events (a private instance) and by `kprobe-bpf trace -c TARGET`:
// the target writes into a FIFO this test never reads, so it blocks alive
// after a few thousand calls and its records are printed while
// /proc/PID/maps still exists. Compared: the `(RET <- FUNC)`
// of the return lines (6.1 has no bpf_get_func_ip for uprobes: FUNC comes
// from the probe's place) and the flags column of the entry lines.
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { symbolFileOffset } from './elf-symbol.js';
import { fixture, notInGuestReason } from './env.js';
import { withKernelLock } from '../lib/kernel.js';
import { TraceInstance, addUprobeEvent, removeUprobeEvent } from '../runtime/lib/tracefs.js';
import { CLI } from '../e2e/lib/runs.js';
import { stampedLines } from '../e2e/lib/stamped-lines.js';

const skip = notInGuestReason();
const G = `kbpf_ff${process.pid}`;
const DURATION_S = 8;

/** The most frequent value and the set of values. */
function tally(xs: readonly string[]): { top: string | undefined; all: Set<string> } {
  const n = new Map<string, number>();
  for (const x of xs) n.set(x, (n.get(x) ?? 0) + 1);
  return { top: [...n].sort((a, b) => b[1] - a[1])[0]?.[0], all: new Set(xs) };
}

t.test('6.1: uprobe flags and return uprobe functions as the kernel prints them', { skip }, async (t) => {
  const target = fixture('uprobe_target');
  const off = `0x${symbolFileOffset(target, 'kbpf_target').toString(16)}`;
  const probes = (g: string) => [`p:${g}/ent ${target}:${off}`, `r:${g}/ret ${target}:${off}`];
  await withKernelLock(async () => {
    const inst = new TraceInstance(`${G}i`);
    try {
      for (const l of probes(G)) addUprobeEvent(l);
      inst.enable(G, 'ent');
      inst.enable(G, 'ret');
      // the target writes into a FIFO this test opens and never reads: it blocks, alive, once the pipe is full
      const dir = mkdtempSync(join(tmpdir(), 'kbpf-ff-'));
      const fifo = join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      const fifoFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      const script = join(dir, 'run.sh');
      writeFileSync(script, `#!/bin/sh\nexec ${target} 100000000 > ${fifo}\n`, { mode: 0o755 });
      const outFd = openSync(join(dir, 'out'), 'w');
      let pid: number | undefined;
      try {
        const args = ['trace', ...probes(`${G}o`).flatMap((l) => ['-e', l]), '-c', script, '--duration', String(DURATION_S)];
        const cli = spawn(CLI, args, { stdio: ['ignore', outFd, 'pipe'] });
        let err = '';
        cli.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        const exited = new Promise<number | null>((r) => cli.once('exit', r));
        // the trace file's header comes after the trace (it counts the lines); -c then waits for the command
        for (let i = 0; i < 600 && !readFileSync(join(dir, 'out'), 'latin1').includes('# tracer: nop'); i++) await sleep(200);
        inst.enable(G, 'ent', false);
        inst.enable(G, 'ret', false);
        pid = stampedLines(inst.trace()).find((l) => l.comm === 'uprobe_target')?.pid;
        killTarget(pid);
        t.equal(await exited, 0, 'kprobe-bpf trace exits 0 once the command is gone', { stderr: err });
      } finally {
        inst.enable(G, 'ent', false);
        inst.enable(G, 'ret', false);
        killTarget(pid);
        closeSync(fifoFd);
        closeSync(outFd);
      }
      const ours = stampedLines(readFileSync(join(dir, 'out'), 'latin1')).filter((l) => l.pid === pid);
      const kernel = stampedLines(inst.trace()).filter((l) => l.pid === pid);
      rmSync(dir, { recursive: true, force: true });
      t.ok(ours.length > 0 && kernel.length > 0, `both traced the target (${ours.length} and ${kernel.length} lines)`);
      const funcs = (ls: typeof ours) => tally(ls.filter((l) => l.body.startsWith('ret: ')).map((l) => /\(.*\)/.exec(l.body)![0]));
      const kf = funcs(kernel), of = funcs(ours);
      t.same([...of.all], [...kf.all], `return lines: ours ${[...of.all].join(' ')}, the kernel's ${[...kf.all].join(' ')}`);
      const flags = (ls: typeof ours) => tally(ls.filter((l) => l.body.startsWith('ent: ')).map((l) => l.flags));
      const kg = flags(kernel), og = flags(ours);
      t.equal(og.top, kg.top, `entry lines' usual flags: ours ${og.top}, the kernel's ${kg.top} (all: ${[...og.all]} / ${[...kg.all]})`);
      t.comment(`config: ${configLine()}`);
    } finally {
      inst.remove();
      for (const ev of ['ent', 'ret']) removeUprobeEvent(G, ev);
    }
  });
});

/** Kills the target by its pid (already gone is fine). */
function killTarget(pid: number | undefined): void {
  try {
    if (pid) process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

function configLine(): string {
  try {
    return readFileSync('/proc/config.gz').length > 0 ? '/proc/config.gz present' : '';
  } catch {
    return 'no /proc/config.gz: CONFIG_PREEMPTION assumed';
  }
}
