// `t` events on this host: a tp_btf program needs no kprobes (this kernel has
// none), so a tracepoint probe traces here end to end. The judge is the
// kernel's own event on the same tracepoint, recording the same hits in a
// private instance: raw_syscalls/sys_enter's `NR n` against our
// `t sys_enter nr=$arg2` (the tracepoint's raw arguments: struct pt_regs *,
// long id), for the traced command's pid, from its execve on.
import t from 'tap';
import { TRACEFS, rootSkipReason, withKernelLock } from '../lib/kernel.js';
import { TraceInstance, parseTrace, type DynamicEvent } from '../guest/ftrace.js';
import { existsSync } from 'node:fs';
import { runCli } from './lib/runs.js';

const EXECVE = 59;
const skip = rootSkipReason() ?? (existsSync(`${TRACEFS}/events/raw_syscalls/sys_enter`) ? undefined : 'no raw_syscalls/sys_enter event');

/** The system call numbers of `pid`, from its last execve on. */
function fromExecve(nrs: readonly number[]): number[] {
  const at = nrs.lastIndexOf(EXECVE);
  return at < 0 ? [] : nrs.slice(at);
}

t.test('t sys_enter sees the system calls the kernel\'s own sys_enter event sees', { skip }, async (t) => {
  const r = await withKernelLock(async () => {
    const inst = new TraceInstance(TRACEFS);
    const event = { kind: 'kprobe', group: 'raw_syscalls', event: 'sys_enter', readback: '' } as DynamicEvent;
    try {
      inst.enable(event);
      inst.start();
      let cli;
      try {
        cli = await runCli(['trace', '-e', 't:kbpft/enter sys_enter nr=$arg2:s64', '-c', '/bin/true']);
      } finally {
        inst.stop();
      }
      return { cli, kernel: parseTrace(inst.read()) };
    } finally {
      inst.destroy();
    }
  });
  t.equal(r.cli.code, 0, 'trace exits 0', { stderr: r.cli.stderr });
  const ours = parseTrace(r.cli.stdout).lines;
  t.ok(ours.length > 0, `we traced ${ours.length} lines`);
  for (const l of ours) t.match(l.body, /^enter: \(__probestub_sys_enter\+0x[0-9a-f]+\/0x[0-9a-f]+\) nr=-?\d+$/, 'tprobe line form', { line: l.raw });
  const exec = [...ours].reverse().find((l) => l.body.endsWith(` nr=${EXECVE}`));
  t.ok(exec, 'we saw the command\'s execve');
  const pid = exec?.pid ?? -1;
  const oursNr = fromExecve(ours.filter((l) => l.pid === pid).map((l) => Number(/nr=(-?\d+)/.exec(l.body)![1])));
  const kernelNr = fromExecve(r.kernel.lines.filter((l) => l.pid === pid).map((l) => Number(/NR (\d+)/.exec(l.body)?.[1] ?? -1)));
  t.ok(oursNr.length >= 3, `${oursNr.length} system calls from execve on`);
  t.same(oursNr, kernelNr, 'the same system calls, in order, as raw_syscalls/sys_enter');
  t.equal(oursNr.at(-1), 231, 'ending in exit_group');
});
