// The trampoline fallback on this host, whose kernel refuses fentry/fexit
// programs (EPERM at load) and has no kprobes: `trace` with f events on two
// functions and a t event says once which events fell back to
// kprobe/kretprobe programs and why, then (no kprobes here) traces the t
// event alone, and leaves no BPF program or link of its own behind. Whether
// the kernel refuses fentry is asked of bpftool (`prog loadall` of our object),
// not assumed; a kernel that runs them has nothing to fall back from (skip).
import t from 'tap';
import { rootSkipReason, withKernelLock } from '../lib/kernel.js';
import { run, toolSkipReason } from '../bpf/tools.js';
import { runCli } from './lib/runs.js';
import { fentryRefusal } from '../lib/fentry.js';

const G = 'kbfb';
const LINES = [`f:${G}/rd vfs_read count`, `f:${G}/rr ksys_read%return count $retval`, `t:${G}/sw sched_switch prev->pid`];
const skip = rootSkipReason() ?? toolSkipReason('bpftool');

/** Names of the loaded BPF programs and links of ours (program names start with the group). */
function ours(): string[] {
  const progs = JSON.parse(run('bpftool', ['--json', 'prog', 'show']).stdout || '[]') as { id: number; name?: string }[];
  const mine = progs.filter((p) => p.name?.startsWith(`${G}__`));
  const ids = new Set(mine.map((p) => p.id));
  const links = JSON.parse(run('bpftool', ['--json', 'link', 'show']).stdout || '[]') as { id: number; prog_id?: number }[];
  return [...mine.map((p) => `prog ${p.name}`), ...links.filter((l) => l.prog_id !== undefined && ids.has(l.prog_id)).map((l) => `link ${l.id}`)];
}


t.test('a kernel that refuses fentry: f events fall back, said once, nothing left attached', { skip }, async (t) => {
  const refusal = await withKernelLock(async () => fentryRefusal(LINES[0]));
  if (refusal === undefined) {
    t.pass('this kernel loads fentry programs: nothing to fall back from');
    return;
  }
  t.comment(`bpftool: ${refusal}`);
  t.same(ours(), [], 'nothing of ours loaded before');
  const r = await withKernelLock(() => runCli(['trace', ...LINES.flatMap((l) => ['-e', l]), '-c', '/bin/true']));
  const said = r.stderr.split('\n').filter((l) => /kprobe\/kretprobe programs instead of fentry\/fexit/.test(l));
  t.equal(said.length, 1, 'the fallback is said once', { stderr: r.stderr });
  t.match(said[0] ?? '', new RegExp(`events ${G}/rd, ${G}/rr: .*vfs_read: loading program ${G}__rd \\(fentry/vfs_read\\) failed with EPERM.*ksys_read: loading program ${G}__rr \\(fexit/ksys_read\\) failed with EPERM`), 'naming both events, their functions and the errno');
  t.notMatch(said[0] ?? '', new RegExp(`${G}/sw`), 'the tp_btf event has no fallback and needs none');
  t.equal(r.code, 0, 'the t event still traced', { stderr: r.stderr });
  t.match(r.stdout, new RegExp(`sw: \\(__probestub_sched_switch`), 'with lines of the t event');
  t.same(ours(), [], 'no program or link of ours left afterwards');
});

t.test('check: a refused fentry/fexit program is checked again as the kprobe program trace falls back to', { skip }, async (t) => {
  const refusal = await withKernelLock(async () => fentryRefusal(LINES[0]));
  if (refusal === undefined) {
    t.pass('this kernel loads fentry programs: nothing to fall back from');
    return;
  }
  const r = await withKernelLock(() => runCli(['check', ...LINES.slice(0, 2).flatMap((l) => ['-e', l])]));
  t.equal(r.code, 0, 'check passes: what trace would run loads', { stdout: r.stdout, stderr: r.stderr });
  t.match(r.stdout, new RegExp(`${G}/rd\\s+fentry/vfs_read .*FAIL EPERM \\(trace falls back\\)`), 'the fentry program: refused, said so');
  t.match(r.stdout, new RegExp(`${G}/rd\\s+kprobe/vfs_read .* ok`), 'its kprobe program: ok');
  t.match(r.stdout, new RegExp(`${G}/rr\\s+kretprobe/ksys_read .* ok`), 'the fexit one\'s kretprobe: ok');
  t.match(r.stdout, new RegExp(`${G}__rr__entry\\s+kprobe/ksys_read .* ok`), 'with its entry program (entry data)');
});
