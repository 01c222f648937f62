// CO-RE end to end: a member access compiled against another kernel's BTF
// (Debian 6.12's, from the guest image's vmlinux) runs right on this kernel,
// whose struct task_struct is laid out differently: libbpf moves the offset
// from the object's .BTF.ext core_relo record. The program is a tp_btf
// tprobe on sched_switch reading prev->pid and prev->tgid; prev is the task
// switching out, so each line's values must be its own pid (the
// common_pid bpf_get_current_pid_tgid wrote): a 6.12 offset read as it is
// would give other bytes of the task. Judges: bpftool (both kernels' offsets,
// the object's local types), libbpf (the load), the pid column.
import t from 'tap';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileDefinitions } from '../../compiler/object.js';
import { btfCoreTypes } from '../../compiler/core-relo.js';
import { VMLINUX_BTF } from '../../compiler/trampoline-btf.js';
import { kernelRules, parseProbeCommands } from '../../grammar/index.js';
import type { FetchArg, ProbeDefinition } from '../../grammar/ast.js';
import { REPO_ROOT } from '../vm/images.js';
import { rootSkipReason, withKernelLock } from '../lib/kernel.js';
import { run, scratchDir, toolSkipReason } from '../bpf/tools.js';
import { parseTrace } from '../guest/ftrace.js';
import { runCli } from './lib/runs.js';

const GUEST_VMLINUX = `${REPO_ROOT}/build/vm612/vmlinux`;
const skip = rootSkipReason() ?? toolSkipReason('bpftool', 'llvm-objcopy')
  ?? (existsSync(GUEST_VMLINUX) ? undefined : `no 6.12 guest kernel (${GUEST_VMLINUX}): make vm612`)
  ?? (existsSync(VMLINUX_BTF) ? undefined : 'this kernel has no BTF');

/** A member's byte offset in a BTF file, as bpftool prints it. */
function memberOffset(btfFile: string, struct: string, member: string): number {
  const raw = run('bpftool', ['btf', 'dump', 'file', btfFile, 'format', 'raw']).stdout;
  const at = raw.search(new RegExp(`^\\[\\d+\\] STRUCT '${struct}' size=`, 'm'));
  const body = raw.slice(at).split('\n').slice(1);
  const line = body.slice(0, body.findIndex((l) => l.startsWith('['))).find((l) => l.includes(`'${member}' `));
  return Number(/bits_offset=(\d+)/.exec(line ?? '')?.[1] ?? NaN) / 8;
}

t.test('a task_struct member compiled against 6.12\'s BTF reads right on this kernel', { skip }, async (t) => {
  const dir = scratchDir();
  const btf612 = join(dir, 'btf612');
  const dumped = run('llvm-objcopy', ['--dump-section', `.BTF=${btf612}`, GUEST_VMLINUX, join(dir, 'vmlinux.tmp')]);
  t.equal(dumped.status, 0, '6.12\'s .BTF extracted', { stderr: dumped.stderr });
  const pid612 = memberOffset(btf612, 'task_struct', 'pid');
  const pidHere = memberOffset(VMLINUX_BTF, 'task_struct', 'pid');
  t.ok(pid612 > 0 && pidHere > 0, `task_struct.pid at ${pid612} in 6.12, ${pidHere} here`);
  t.not(pid612, pidHere, 'the layouts differ, so only a relocation reads the right field');
  const tgid612 = memberOffset(btf612, 'task_struct', 'tgid');

  // The line as the BTF grammar lowers `prev->pid`: a dereference at 6.12's offset, annotated with the member path.
  const [parsed] = parseProbeCommands(`t:kbpfc/sw sched_switch pid=+${pid612}($arg2):s32 tgid=+${tgid612}($arg2):s32`, { rules: kernelRules('6.12').probe }).commands;
  const def = parsed as ProbeDefinition;
  const member = (name: string) => ({ root: 'task_struct', path: [name], accessIndices: [0] });
  const annotated: ProbeDefinition = {
    ...def,
    args: def.args.map((a) => ({ ...a, fetch: { ...(a.fetch as Extract<FetchArg, { kind: 'deref' }>), member: member(a.name) } })),
  };
  const obj = compileDefinitions([annotated], { coreTypes: btfCoreTypes(btf612) });
  const file = join(dir, 'core.o');
  writeFileSync(file, obj.object);

  const local = run('bpftool', ['btf', 'dump', 'file', file, 'format', 'raw']).stdout;
  t.match(local, new RegExp(`STRUCT 'task_struct' size=\\d+ vlen=1\\n\\t'pid' type_id=\\d+ bits_offset=${pid612 * 8}`), 'the object carries 6.12\'s task_struct.pid as a local type');

  const r = await withKernelLock(() => runCli(['trace', file, '-c', '/bin/true']));
  t.equal(r.code, 0, 'loaded (libbpf resolved the relocation) and traced', { stderr: r.stderr });
  const lines = parseTrace(r.stdout).lines;
  // the held command may block before attach (its start overlaps the session setup): its exit switches out at least once
  t.ok(lines.length >= 1, `${lines.length} sched_switch lines of the command`);
  for (const l of lines) {
    const m = /pid=(-?\d+) tgid=(-?\d+)$/.exec(l.body);
    t.same(m && [Number(m[1]), Number(m[2])], [l.pid, l.pid], `prev->pid and prev->tgid are the switching task's: ${l.body}`);
  }
});

t.test('the CLI\'s own path: `t sched_switch prev->pid` compiled with --btf of 6.12, traced here', { skip }, async (t) => {
  const dir = scratchDir();
  const btf612 = join(dir, 'btf612');
  t.equal(run('llvm-objcopy', ['--dump-section', `.BTF=${btf612}`, GUEST_VMLINUX, join(dir, 'vmlinux.tmp')]).status, 0, '6.12\'s .BTF extracted');
  const pid612 = memberOffset(btf612, 'task_struct', 'pid');
  t.not(pid612, memberOffset(VMLINUX_BTF, 'task_struct', 'pid'), 'the layouts differ');
  const file = join(dir, 'core-cli.o');
  // a tprobe's parameters by name (its probe stub's prototype in 6.12's BTF), member chains as CO-RE accesses
  const c = await runCli(['compile', '--kernel', '6.12', '--btf', btf612, '-e', 't:kbpfc/sw sched_switch pid=prev->pid tgid=prev->tgid', '-o', file]);
  t.equal(c.code, 0, 'compile --btf', { stderr: c.stderr });
  const local = run('bpftool', ['btf', 'dump', 'file', file, 'format', 'raw']).stdout;
  t.match(local, new RegExp(`STRUCT 'task_struct' size=\\d+ vlen=1\\n\\t'pid' type_id=\\d+ bits_offset=${pid612 * 8}`), 'the member\'s offset is 6.12\'s (from --btf), not this kernel\'s');
  const r = await withKernelLock(() => runCli(['trace', file, '-c', '/bin/true']));
  t.equal(r.code, 0, 'loaded and traced', { stderr: r.stderr });
  const lines = parseTrace(r.stdout).lines;
  // the held command may block before attach (its start overlaps the session setup): its exit switches out at least once
  t.ok(lines.length >= 1, `${lines.length} sched_switch lines of the command`);
  for (const l of lines) {
    const m = /pid=(-?\d+) tgid=(-?\d+)$/.exec(l.body);
    t.same(m && [Number(m[1]), Number(m[2])], [l.pid, l.pid], `prev->pid and prev->tgid are the switching task's: ${l.body}`);
  }
});
