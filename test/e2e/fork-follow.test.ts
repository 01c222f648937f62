// trace -c follows what the command starts, as `perf record -- CMD` does: a
// shell running the probed binary twice gets both runs traced, each line as
// the kernel's uprobe tracer prints it for the same command; a process the
// command did not start, running at the same time, is not traced.
import t from 'tap';
import { spawn } from 'node:child_process';
import { uprobeEventsSkipReason, withKernelLock } from '../lib/kernel.js';
import { buildLoopTarget } from './lib/loop-target.js';
import { kernelRun, runCli, setarchWorks, traceLines } from './lib/runs.js';

const CALLS = 3;

t.test('trace -c "sh -c ..." traces the processes the command starts', { skip: uprobeEventsSkipReason() }, async (t) => {
  const noSetarch = setarchWorks();
  if (noSetarch) return void t.fail(`cannot run the target without ASLR: ${noSetarch}`);
  const target = buildLoopTarget();
  t.teardown(() => target.cleanup());
  const group = `kff${process.pid % 100000}`;
  const line = `p:${group}/tick ${target.path}:0x${target.tickOffset.toString(16)} i=%di:s64 seq=%si:u32`;
  // two children of the shell, one after the other (neither exec'd in the shell's place)
  const script = `${target.path} ${CALLS}; ${target.path} ${CALLS}; true`;
  await withKernelLock(async () => {
    const kernel = kernelRun(group, [['tick', line]], ['sh', '-c', script]);
    const k = traceLines(kernel.trace);
    t.equal(k.length, 2 * CALLS, 'the kernel traced both runs');
    // the same binary run beside the trace, started by us, not by the command: out of scope
    const stranger = spawn(target.path, ['200000', '0', '50'], { stdio: 'ignore' });
    try {
      const ours = await runCli(['trace', '-e', line, '-c', `sh -c '${script}'`], { setarch: true });
      t.equal(ours.code, 0, 'trace exits 0', { stderr: ours.stderr });
      const o = traceLines(ours.stdout);
      t.same(o, k, "both children's lines, as the kernel's");
      const pids = new Set(ours.stdout.split('\n').flatMap((l) => /^\s*\S+-(\d+)\s+\[/.exec(l)?.[1] ?? []));
      t.equal(pids.size, 2, 'from two processes');
      t.notOk(pids.has(String(stranger.pid)), 'none from the process the command did not start');
    } finally {
      stranger.kill('SIGKILL');
    }
  });
});
