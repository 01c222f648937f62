// Inside the guest (kernels with BTF arguments: 6.12): BTF kprobe events end
// to end against the kernel's own tracer on the same hits (kdiff.ts): bare
// parameter names typed from BTF (u32 fd, u64 size_t, x64 pointers), a typed
// $retval (ssize_t prints signed), member chains through struct pointers,
// :string/:ustring through char pointers, %pD. Trace lines must be identical
// (timestamps and flags aside) and `compile --format` must print the
// kernel's format files, entry arguments at the return (6.9+) included.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelRules } from '../../grammar/index.js';
import { withKernelLock } from '../lib/kernel.js';
import { fixture, notInGuestReason } from './env.js';
import { dynamicEventsSkipReason, formatWithoutId } from './ftrace.js';
import { diffRun, realReturnAddress, runCli, splitFormats } from './kdiff.js';

const btfArgs = kernelRules(release()).probe.btfArgs;
const skip = notInGuestReason() ?? dynamicEventsSkipReason('kprobe') ?? (btfArgs ? undefined : `${release()} has no BTF arguments`);
/** A scratch directory made inside a test and removed at its end: no root-level teardown (run.ts imports files one by one). */
function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'kbpf-btf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The workload (kprobe_workload.c) opens, reads, sleeps and calls getpid each round. */
const DEFINITIONS = [
  'p:kbtfm.exec __x64_sys_execve',
  'p:kbtft/read ksys_read fd buf count',
  'r:kbtft/read_ret ksys_read $retval ip=%ip:symbol',
  // 6.9+: entry arguments by BTF name at the return (the kernel's entry data; ours an entry program and a map)
  'r:kbtft/read_ent ksys_read fd count $retval ip=%ip:symbol',
  'p:kbtft/open do_sys_openat2 dfd filename:ustring how->flags how->mode how',
  'r:kbtft/open_ret do_sys_openat2 $retval ip=%ip:symbol',
  'p:kbtft/filp do_filp_open dfd pathname->name:string name=pathname->name op->open_flag op->mode',
  'p:kbtft/sleep hrtimer_nanosleep $arg*',
];

t.test('BTF kprobe events: our trace lines and format files are the kernel\'s', { skip }, async (t) => {
  const defsFile = join(scratch(t), 'defs.txt');
  const run = await withKernelLock(() => diffRun({
    definitions: DEFINITIONS, defsFile, command: `${fixture('kprobe_workload')} 2`, marker: 'exec',
    // two kretprobes on a function (the kernel's and ours): the kernel prints [unknown/kretprobe'd] for one (kdiff.ts)
    kernelLineFix: realReturnAddress,
  }));
  t.equal(run.ours.code, 0, 'kprobe-bpf trace exited 0', { stderr: run.ours.stderr });
  t.same(run.kernel.other, [], 'the kernel lost nothing');
  t.ok(run.kernelWindow.length >= 8, `${run.kernelWindow.length} kernel lines in the window`);
  t.same(run.oursWindow, run.kernelWindow, 'every line equal (timestamps and flags aside), in order');
  const diffs: string[] = [];
  for (let i = 0; i < Math.max(run.oursWindow.length, run.kernelWindow.length) && diffs.length < 8; i++) {
    if (run.oursWindow[i] !== run.kernelWindow[i]) diffs.push(`#${i}\n  kernel: ${run.kernelWindow[i]}\n  ours:   ${run.oursWindow[i]}`);
  }
  if (diffs.length) t.comment(diffs.join('\n'));
  const c = await runCli(['compile', '--format', '-f', defsFile]);
  t.equal(c.code, 0, 'compile --format exited 0', { stderr: c.stderr });
  const ours = splitFormats(c.stdout);
  for (const e of run.kernel.events) {
    const mine = ours.get(e.event);
    t.equal(mine === undefined ? '' : formatWithoutId(mine), formatWithoutId(run.kernel.formats[`${e.group}/${e.event}`]!), `${e.group}/${e.event}: format file identical (ID aside)`);
  }
});

