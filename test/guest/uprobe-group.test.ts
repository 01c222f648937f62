// Shared uprobe_multi links (runtime/attach/uprobe-group.ts) on the guests'
// kernels: 6.12 has the link (6.1 has not: skipped there, its uprobes are
// perf events), but neither the prog-array owner's expected_attach_type
// check nor the sleepable one of newer kernels, so what it accepts is its
// own answer. The kernel's uprobe tracer judges the lines of entry and
// return events on one site sharing links; the dispatcher is asked directly
// for what the kernel lets share (non-sleepable must, sleepable may not).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { release } from 'node:os';
import { symbolFileOffset } from './elf-symbol.js';
import { fixture, notInGuestReason } from './env.js';
import { comparable, dynamicEventsSkipReason, traceWithKernel } from './ftrace.js';
import { runCli } from './kdiff.js';
import { withKernelLock } from '../lib/kernel.js';
import { stampedLines } from '../e2e/lib/stamped-lines.js';
import { UprobeGroupLink, uprobeMultiProblem } from '../../runtime/attach/index.js';
import { loadUprobeMultiProgram } from '../../runtime/attach/uprobe-multi.js';
import { closeFd } from '../../runtime/sys/index.js';

const skip = notInGuestReason() ?? dynamicEventsSkipReason('uprobe') ?? uprobeMultiProblem(false);
const CALLS = 3;

t.test(`${release()}: events on one site sharing links print what uprobe_events prints, in its order`, { skip }, async (t) => {
  const target = fixture('uprobe_target');
  const at = `${target}:0x${symbolFileOffset(target, 'kbpf_target').toString(16)}`;
  const lines = (g: string) => [`p:${g}/a ${at} a=%di:x32`, `r:${g}/r ${at} ret=$retval:s64`, `p:${g}/b ${at} b=%si:s64 a=%di:u32`, `r:${g}/r2 ${at} low=$retval:u8`];
  const command = ['setarch', '-R', target, String(CALLS)];
  const kernel = await withKernelLock(() => traceWithKernel({ kind: 'uprobe', definitions: lines(`kug${process.pid}`), action: () => void spawnSync(command[0]!, command.slice(1)) }));
  const ours = await runCli(['trace', ...lines(`kugo${process.pid}`).flatMap((l) => ['-e', l]), '--no-sleepable', '-c', command.join(' ')]);
  t.equal(ours.code, 0, 'trace exits 0', { stderr: ours.stderr });
  const k = kernel.lines.filter((l) => l.comm === 'uprobe_target').map((l) => l.body);
  t.equal(k.length, CALLS * 4, 'the kernel traced every hit');
  t.same(stampedLines(ours.stdout).map((l) => l.body), k, 'same lines in the same order (event, addresses, values)', { kernel: kernel.lines.map((l) => comparable(l)) });
});

t.test(`${release()}: the kernel takes the dispatcher for non-sleepable programs`, { skip }, async (t) => {
  const target = fixture('uprobe_target');
  const site = { path: target, offset: BigInt(symbolFileOffset(target, 'kbpf_target')), isReturn: false };
  const ret0 = Uint8Array.of(0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0);
  for (const sleepable of [false, true]) {
    const progs = [loadUprobeMultiProgram(ret0, sleepable, 'kpb_t_a'), loadUprobeMultiProgram(ret0, sleepable, 'kpb_t_b')];
    const g = new UprobeGroupLink(progs.map((progFd) => ({ target: site, progFd, sleepable })));
    try {
      g.enable();
      if (!sleepable) t.ok(g.shared, 'non-sleepable: one link for both', { refusal: g.refusal });
      else t.comment(`sleepable: ${g.shared ? 'one link for both' : `a link each (${g.refusal})`}`);
      t.equal(g.fds.length, g.shared ? 1 : 2, `${sleepable ? 'sleepable' : 'non-sleepable'}: one fd a link`);
    } finally {
      g.close();
      for (const p of progs) closeFd(p);
    }
  }
});
