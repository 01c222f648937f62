// Ctrl-C, SIGTERM and an uncaught error all detach everything: the tracefs
// entry our fallback created is gone from uprobe_events, and the perf fds
// were closed before the process exited.
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { uprobeEventsSkipReason, withKernelLock } from '../lib/kernel.js';
import { ElfSymbols } from '../../runtime/elf-symbols.js';
import { writeFileSync } from 'node:fs';
import { buildTarget, runTarget } from './lib/target.js';
import { TraceInstance, addUprobeEvent, eventFormat, removeUprobeEvent, traceBodies, uprobeEventsLines } from './lib/tracefs.js';

const skip = uprobeEventsSkipReason();
const fixture = fileURLToPath(new URL('./fixtures/hold-probe.js', import.meta.url));

async function runChild(path: string, offset: string, how: 'SIGINT' | 'SIGTERM' | 'throw') {
  const child = spawn(process.execPath, [fixture, path, offset, how === 'throw' ? 'throw' : 'wait'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  while (!out.includes('ready') && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  const whileRunning = uprobeEventsLines();
  if (how !== 'throw') child.kill(how);
  const code = await exit;
  return { out, err, code, whileRunning, after: uprobeEventsLines() };
}

t.test('SIGINT, SIGTERM and an uncaught error leave no probe or perf fd behind', { skip }, async (t) => {
  await withKernelLock(async () => {
    const target = buildTarget();
    try {
      const off = `0x${new ElfSymbols(target.path).resolve('kpb_hot').toString(16)}`;
      for (const how of ['SIGINT', 'SIGTERM', 'throw'] as const) {
        const r = await runChild(target.path, off, how);
        const ours = (lines: string[]) => lines.filter((l) => l.includes(`${target.path}:`));
        t.equal(ours(r.whileRunning).length, 1, `${how}: the tracefs entry existed while tracing`);
        t.match(r.out, /ready .* perf-fds=[1-9]/, `${how}: perf fds were open`);
        t.same(ours(r.after), [], `${how}: uprobe_events has nothing of ours afterwards`);
        if (how === 'throw') {
          t.equal(r.code, 1, 'uncaught error exits 1');
          t.match(r.err, /boom/, 'and reports the error');
        } else {
          t.equal(r.code, how === 'SIGINT' ? 130 : 143, `${how}: exit status 128+signo`);
          t.match(r.out, new RegExp(`stopped ${how} perf-fds=0\\n`), `${how}: every perf fd closed before exit`);
        }
      }
    } finally {
      target.cleanup();
    }
  });
});

const sessionChild = fileURLToPath(new URL('./fixtures/session-child.js', import.meta.url));

t.test('Ctrl-C during a trace session: drained, printed with the header, detached', { skip }, async (t) => {
  await withKernelLock(async () => {
    const target = buildTarget();
    const kgroup = `kpbsig${process.pid}`;
    const inst = new TraceInstance(kgroup);
    try {
      const off = `0x${new ElfSymbols(target.path).resolve('kpb_hot').toString(16)}`;
      addUprobeEvent(`p:${kgroup}/hot ${target.path}:${off} i=%di:s32`);
      inst.enable(kgroup, 'hot');
      const fmtFile = `${target.dir}/hot.format`;
      writeFileSync(fmtFile, eventFormat(kgroup, 'hot'));
      const child = spawn(process.execPath, [sessionChild, target.path, off, fmtFile, kgroup], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.setEncoding('latin1').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('latin1').on('data', (d: string) => (err += d));
      const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      while (!err.includes('ready') && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
      runTarget(target, ['0', '40']);
      child.kill('SIGINT');
      const code = await exit;
      t.equal(code, 130, 'exit status 130');
      t.match(err, /stopped signal printed=40/, 'the session drained every record before stopping');
      const kernelTrace = inst.trace();
      const header = (s: string) => s.split('\n').filter((l) => l.startsWith('#')).join('\n');
      t.equal(header(out), header(kernelTrace), 'the trace file header, counts included');
      t.same(traceBodies(out), traceBodies(kernelTrace), 'the lines the kernel printed');
      t.match(err, /^  hot {41} {14}40 {15}0$/m, 'the profile table on stderr');
      inst.enable(kgroup, 'hot', false);
    } finally {
      inst.remove();
      removeUprobeEvent(kgroup, 'hot');
      target.cleanup();
    }
  });
});
