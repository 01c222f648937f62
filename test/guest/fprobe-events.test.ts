// Inside the guest: fprobe (f) and tracepoint probe (t) events judged by the
// guest kernel's own (trace_fprobe.c, 6.5+; Debian 6.12 enables it). On the
// same run, the kernel's events record into a private instance from
// dynamic_events while `kprobe-bpf trace` (fentry/fexit/tp_btf programs)
// traces the workload: trace lines compare in order, timestamps and flags
// aside. Also: the lines' verdicts, readback and error_log against `parse`,
// `compile --format` against the kernel's format files, every program
// through the verifier (`check`). On a kernel without f/t lines (6.1) the
// same lines must be refused the way it refuses them (bare EINVAL, no log).
// BTF arguments on f and t events (bare names, $arg*, $argN renamed, member
// chains, typed $retval, %pd/%pD) are generated from the guest's own BTF and
// judged the same way, and some of them trace side by side with the kernel's.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kind } from '../../bpf/btf.js';
import { runningKernelBtf, type KernelBtf } from '../../bpf/btf-kernel.js';
import { kernelRules } from '../../grammar/index.js';
import { describeDisagreement, diffLines, judgeDisagreements } from '../lib/grammar-diff.js';
import { membersOf } from './btf-members.js';
import { TRACEFS, withKernelLock } from '../lib/kernel.js';
import { fixture, notInGuestReason } from './env.js';
import { formatFilesMatch } from './format-files.js';
import { dynamicEventsSkipReason, listEvents } from './ftrace.js';
import { diffRun, readKallsyms, realReturnAddress, runCli } from './kdiff.js';

const DYNAMIC_EVENTS = `${TRACEFS}/dynamic_events`;
const rules = notInGuestReason() ? undefined : kernelRules(release()).probe;
const skip = notInGuestReason() ?? dynamicEventsSkipReason('fprobe') ?? (rules!.fprobeEvents ? undefined : `${release()} has no fprobe events`);
const dir = mkdtempSync(join(tmpdir(), 'kbpf-fprobe-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** Rounds of kprobe_workload (each opens, reads 7+i bytes, sleeps 1000+i ns, calls getpid). */
const ROUNDS = 2;
const MARKER = 'exec';

/**
 * f and t events with fetch arguments 6.12 types without BTF (explicit types,
 * named $argN, which the kernel does not rename): kprobe_workload's calls,
 * entry and exit, an entry argument at the exit (6.9+: the kernel saves it
 * at entry; fexit sees it natively), dereferences, $comm, raw tracepoint arguments.
 */
const DEFINITIONS = [
  `f:kbpff/${MARKER} __x64_sys_execve`,
  'f:kbpff/read ksys_read fd=$arg1:u32 count=$arg3:u64 c=$comm',
  'f:kbpff/read_ret ksys_read%return ret=$retval:s64 count=$arg3:u64',
  'f:kbpff/open do_sys_openat2 dfd=$arg1:s32 name=+0($arg2):ustring flags=+0($arg3):x64 mode=+8($arg3):u16',
  'f:kbpff/sleep hrtimer_nanosleep ns=$arg1:s64 mode=$arg2:u32',
  't:kbpft/enter sys_enter nr=$arg2:s64',
  't:kbpft/exit sys_exit ret=$arg2:s64',
  // BTF arguments: names typed from BTF, $argN renamed, entry arguments and a typed $retval at the exit,
  // member chains (CO-RE in ours), strings through a char * and a char array, %pD, a tracepoint's raw arguments
  'f:kbpff/readb ksys_read%return fd count $retval',
  'f:kbpff/vread vfs_read file:%pD $arg3',
  'f:kbpff/filp do_filp_open dfd pathname->name:string op->open_flag op->mode',
  't:kbpft/switch sched_switch preempt prev->pid next->pid next->comm:string prev_state',
];

/** `(RET <- FUNC)`: the return address an exit line shows, set aside (see the ret-ip test). */
const maskReturnAddress = (line: string): string => line.replace(/\((\S+) <- (\S+)\)/, '(RET <- $2)');

t.test('f/t lines: verdict, readback and error_log as the kernel gives them', { skip }, async (t) => {
  const G = 'kbgf';
  const lines = [
    `f:${G}/a vfs_read`, `f:${G}/a vfs_read%return`, `f:${G}/a vfs_read $retval`, `f:${G}/a vfs_read x=$retval:s64`,
    `f:${G}/a vfs_read%retur`, `f5:${G}/a vfs_read`, `f5:${G}/a vfs_read%return`, `f0:${G}/a vfs_read%return`,
    `f5000:${G}/a vfs_read%return`, `f:${G}/a vfs_read %di`, `f:${G}/a vfs_read +0(%si):u32`, `f:${G}/a vfs_read c=$comm`,
    `f:${G}/a vfs_read s=$stack0`, `f:${G}/a vfs_read+4`, `f:${G}/a 1234`, 'f vfs_read', 'f vfs_read%return',
    `f:${G}/ vfs_read`, `f:${G}/a-b vfs_read`, `f:${G}/a vfs_read a=$arg1:x64 b=+8($arg2):u8`,
    `t:${G}/a sched_switch`, `t:${G}/a sched_switch p=$arg1:u8`, `t:${G}/a sched.switch`, `t:${G}/a sched_switch%return`,
    `t:${G}/a sched_switch $retval`, `t5:${G}/a sched_switch`, 't sched_switch', 't sched_wakeup x=+0($arg1):x64',
  ];
  const run = await withKernelLock(async () => diffLines(DYNAMIC_EVENTS, lines, {
    parse: { rules: rules! }, clearLog: true, ours: (l) => l.includes(`${G}/`) || /^[ft]:(fprobes|tracepoints)\//.test(l),
  }));
  t.comment(`f/t grammar, rules of ${rules!.version} (${release()}): ${lines.length - run.disagreements.length}/${lines.length} agree (${run.accepted} accepted)`);
  for (const d of run.disagreements) t.fail(`disagreement: ${d.line}`, { found: describeDisagreement(d) });
  t.equal(run.disagreements.length, 0, 'every line agrees');
});

/** Functions and tracepoints with BTF prototypes of the shapes the rules tell apart; only those the guest has are used. */
const BTF_FUNCTIONS = ['vfs_read', 'do_sys_openat2', 'do_exit', 'getname', 'wake_up_process'];
const BTF_TRACEPOINTS = ['sched_switch', 'sched_wakeup', 'sys_enter'];
const MEMBERS_PER_STRUCT = 4;
const BG = 'kbgf';

/** Lines on one parameter `n` (the `i`th) of a function or tracepoint, `at` making each line. */
function paramLines(btf: KernelBtf, at: (args: string) => string, n: string, i: number, type: number): string[] {
  const out = [
    at(n), at(`${n}:x8`), at(`${n}:string`), at(`${n}:ustring`), at(`v=${n}`), at(`${n} ${n}`), at(`+0(${n})`),
    at(`${n}.x`), at(`${n}-x`), at(`${n}->nosuch`), at(`${n}:%pd`), at(`${n}:%pD`), at(`$arg${i + 1} ${n}`),
  ];
  for (const m of membersOf(btf, type).slice(0, MEMBERS_PER_STRUCT)) {
    out.push(at(`${n}->${m.name}`));
    if (m.kind === Kind.STRUCT || m.kind === Kind.UNION) out.push(at(`${n}->${m.name}->x`));
    if (m.kind === Kind.ARRAY || m.kind === Kind.PTR || m.kind === Kind.INT) out.push(at(`${n}->${m.name}:string`));
    if (m.pointee !== undefined) for (const mm of membersOf(btf, m.pointee).slice(0, 2)) out.push(at(`${n}->${m.name}->${mm.name}`));
  }
  return out;
}

/** Generated f lines for one function: entry and exit. */
function fprobeLines(btf: KernelBtf, f: string): string[] {
  const e = (args: string) => `f:${BG}/b ${f} ${args}`;
  const x = (args: string) => `f:${BG}/b ${f}%return ${args}`;
  const out = [
    e('$arg*'), x('$arg*'), e('$arg* $arg*'), e('x=$arg*'), e('$arg*:x32'), e('$arg1'), e('$arg1:x32'), e('$arg1x'),
    e('$arg0'), e('$arg1 $arg1'), e('x=$arg1'), e('+0($arg1)'), x('$arg1'), e('$arg2'), e('$arg3:s32'), e('$arg5'), e('$arg9 $arg1'),
    x('$retval'), e('$retval'), x('$retval:x64'), x('x=$retval'), e('$retvalx'), x('$retval->x'), x('$retval.x'),
    x('$retval-x'), x('+0($retval)'), x('$retval:string'), x('$retval $retval'), e('nosuch'), x('nosuch'), e('nosuch->x'),
  ];
  const proto = btf.funcProto(f);
  for (const [i, q] of (proto?.params ?? []).filter((p) => p.name !== '').entries()) {
    out.push(...paramLines(btf, e, q.name, i, q.type), x(q.name), x(`${q.name} $retval`));
  }
  return out;
}

/** Generated t lines for one tracepoint: its probe stub's parameters after the hidden __data. */
function tprobeLines(btf: KernelBtf, tp: string): string[] {
  const at = (args: string) => `t:${BG}/b ${tp} ${args}`;
  const out = [
    at('$arg*'), at('$arg* $arg*'), at('x=$arg*'), at('$arg1'), at('$arg0'), at('$arg1:x32'), at('x=$arg1'),
    at('+0($arg1)'), at('$arg9'), at('nosuch'), at('nosuch->x'), at('$retval'), at('__data'),
  ];
  const params = btf.funcProto(`__probestub_${tp}`)?.params.slice(1) ?? [];
  for (const [i, q] of params.filter((p) => p.name !== '').entries()) out.push(...paramLines(btf, at, q.name, i, q.type));
  return out;
}

/** Hand-written chains through anonymous unions, char arrays, strings, and a tracepoint's members. */
const BTF_CHAINS = [
  `f:${BG}/b vfs_read file->f_path.dentry->d_name.name:string`,
  `f:${BG}/b vfs_read%return file->f_path.dentry->d_name.name:string $retval`,
  `f:${BG}/b vfs_read file:%pD buf count`,
  `f:${BG}/b vfs_read f=file:%pD d=file->f_path.dentry:%pd`,
  `f:${BG}/b vfs_read file->f_inode->i_ino file->f_path->dentry`,
  `f:${BG}/b getname%return $retval->name:string $retval->refcnt`,
  `f:${BG}/b getname $retval->name:string`,
  `f:${BG}/b getname $retval->nosuch`,
  `f:${BG}/b do_sys_openat2%return $arg* $retval`,
  `f:${BG}/b do_sys_openat2 how->flags how->mode how.flags`,
  `f:${BG}/b wake_up_process p->comm:string p->pid p->sched_reset_on_fork`,
  `f:${BG}/b wake_up_process p->se.vruntime p->se->vruntime`,
  `f5:${BG}/b vfs_read%return count $retval`,
  `f:${BG}/b vfs_read common_pid`,
  `f:${BG}/b vfs_read ${'a'.repeat(40)}`,
  `t:${BG}/b sched_switch prev->pid next->pid`,
  `t:${BG}/b sched_switch prev_pid=prev->pid next_comm=next->comm:string`,
  `t:${BG}/b sched_switch prev->comm next->comm:ustring`,
  `t:${BG}/b sched_switch prev->se.vruntime prev->real_parent->pid`,
  `t:${BG}/b sched_switch prev->se->vruntime`,
  `t:${BG}/b sched_switch prev.pid`,
  `t:${BG}/b sched_switch prev-pid`,
  `t:${BG}/b sched_switch prev->nosuch`,
  `t:${BG}/b sched_switch prev:%pd`,
  `t:${BG}/b sys_enter regs->di id`,
  `t:${BG}/b sched_wakeup p->pid p->comm:string`,
  `t:${BG}/b no_such_tracepoint $arg1`,
  `t:${BG}/b no_such_tracepoint x`,
  `t:${BG}/b no_such_tracepoint $arg*`,
];

t.test('BTF arguments on f/t lines: verdict, readback and error_log as the kernel gives them', { skip: skip ?? (rules?.btfArgs ? undefined : 'no BTF arguments') }, async (t) => {
  const btf = runningKernelBtf();
  if (!btf) return t.fail(`${release()} has BTF arguments but no /sys/kernel/btf/vmlinux`);
  const ks = readKallsyms();
  const lines = [...new Set([
    ...BTF_FUNCTIONS.filter((f) => ks.has(f)).flatMap((f) => fprobeLines(btf, f)),
    ...BTF_TRACEPOINTS.filter((tp) => ks.has(`__probestub_${tp}`)).flatMap((tp) => tprobeLines(btf, tp)),
    ...BTF_CHAINS,
  ])];
  t.ok(lines.length >= 300, `${lines.length} lines generated`);
  const parse = { rules: rules! };
  const run = await withKernelLock(async () => diffLines(DYNAMIC_EVENTS, lines, {
    parse, clearLog: true, ours: (l) => l.includes(`${BG}/`),
  }));
  t.comment(`f/t BTF grammar, rules of ${rules!.version} (${release()}): ${lines.length - run.disagreements.length}/${lines.length} agree (${run.accepted} accepted)`);
  const unknownCarets = judgeDisagreements(t, run, parse);
  t.comment(`${unknownCarets} errors after a member chain (caret not judged)`);
});

t.test('trace lines of f and t events match the kernel\'s on the same hits', { skip }, async (t) => {
  const workload = fixture('kprobe_workload');
  const r = await withKernelLock(() => diffRun({
    kind: 'fprobe',
    definitions: DEFINITIONS,
    defsFile: join(dir, 'defs'),
    command: `${workload} ${ROUNDS}`,
    marker: MARKER,
  }));
  if (process.env.KBPF_DUMP) console.error(`ours\n${r.ours.stdout.slice(0, 6000)}\n--- stderr\n${r.ours.stderr}\n--- kernel\n${r.kernel.lines.slice(0, 40).map((l) => l.raw).join('\n')}`);
  t.equal(r.ours.code, 0, `kprobe-bpf trace exited 0 (${r.ours.seconds.toFixed(1)} s)`, { stderr: r.ours.stderr });
  t.same(r.ours.other, [], 'our output holds only the header and trace lines', { stderr: r.ours.stderr });
  t.same(r.kernel.other, [], 'the kernel lost nothing');
  t.ok(r.pid, 'our trace shows the command\'s execve');
  t.same(r.kernel.events.map((e) => `${e.group}/${e.event}`).sort(), DEFINITIONS.map((d) => /^[ft]:(\S+)/.exec(d)![1]!).sort(), 'the kernel made every event');
  t.ok(r.kernelWindow.length >= 8 * ROUNDS, `kernel window: ${r.kernelWindow.length} lines`);
  // A return address is compared apart: with the kernel's fprobe exit on the same function, its rethook has
  // replaced the return address on the stack by the time our fexit runs (arch_rethook_trampoline).
  const kernel = r.kernelWindow.map(maskReturnAddress);
  const ours = r.oursWindow.map(maskReturnAddress);
  t.same(ours, kernel, 'every line equal (timestamps, flags and return addresses aside), in order');
  const diffs: string[] = [];
  for (let i = 0; i < Math.max(ours.length, kernel.length) && diffs.length < 8; i++) {
    if (ours[i] !== kernel[i]) diffs.push(`#${i}\n  kernel: ${kernel[i]}\n  ours:   ${ours[i]}`);
  }
  if (diffs.length) t.comment(diffs.join('\n'));
  const kernelExit = r.kernelWindow.find((l) => l.includes('read_ret: ('));
  t.ok(kernelExit, 'the kernel traced the exit of ksys_read');

  // The same exit alone: our fexit reads the caller's return address from the trampoline's frame.
  const alone = await withKernelLock(() => runCli(['trace', '-e', DEFINITIONS[2]!, '-c', `${workload} 1`]));
  const ourExit = alone.stdout.split('\n').find((l) => l.includes('read_ret: ('));
  const ret = (l: string | undefined) => /\((\S+) <- /.exec(l ?? '')?.[1];
  t.equal(ret(ourExit), ret(kernelExit), `__probe_ret_ip is the caller's return address, as the kernel's (${ret(kernelExit)})`, { ours: ourExit, stderr: alone.stderr });
});

t.test('entry arguments of a return kprobe: saved at entry, as the kernel\'s entry data', { skip: skip ?? (rules?.exitArgs ? undefined : 'no entry arguments in return probes before 6.9') }, async (t) => {
  // kretprobe programs cannot see the entry: an entry kprobe program saves the words per task (compiler/entry-data.ts)
  const defs = [`p:kbpfe/${MARKER} __x64_sys_execve`, 'r:kbpfe/read_ret ksys_read ret=$retval:s64 fd=$arg1:u32 count=$arg3:u64 b=+0($arg2):u8 ip=%ip:symbol'];
  const r = await withKernelLock(() => diffRun({
    definitions: defs, kernelLineFix: realReturnAddress, defsFile: join(dir, 'defs-entry'), command: `${fixture('kprobe_workload')} ${ROUNDS}`, marker: MARKER,
  }));
  t.equal(r.ours.code, 0, 'trace exits 0', { stderr: r.ours.stderr });
  const reads = r.kernelWindow.filter((l) => l.includes('read_ret: ('));
  t.ok(reads.length >= ROUNDS, `the kernel traced ${reads.length} returns of ksys_read`);
  t.ok(reads.some((l) => / count=7 /.test(l)), 'the kernel shows the entry count (7 on the first round)');
  t.same(r.oursWindow, r.kernelWindow, 'every line equal, entry arguments included (timestamps and flags aside)');
});

t.test('format files of f and t events are the kernel\'s', { skip }, async (t) => {
  await formatFilesMatch(t, dir, DEFINITIONS, () => listEvents('fprobe').filter((x) => x.group.startsWith('kbpf')));
});

t.test('every fentry, fexit and tp_btf program passes the verifier', { skip }, async (t) => {
  const defsFile = join(dir, 'defs-check');
  writeFileSync(defsFile, DEFINITIONS.join('\n') + '\n');
  const r = await runCli(['check', '-f', defsFile]);
  t.equal(r.code, 0, 'check exits 0', { stdout: r.stdout, stderr: r.stderr });
  const rows = r.stdout.split('\n').filter((l) => /\b(ok|FAIL)\b/.test(l));
  t.equal(rows.length, DEFINITIONS.length, 'one row per event');
  for (const row of rows) t.match(row, /\b(fentry|fexit|tp_btf)\/\S+ .* ok$/, row.trim());
});

t.test('a kernel without f/t lines refuses them as we do', { skip: notInGuestReason() ?? (existsDynamicEvents() ? undefined : 'no dynamic_events') }, async (t) => {
  const here = kernelRules(release()).probe;
  if (here.fprobeEvents) {
    t.pass(`${release()} takes f/t lines (checked above)`);
    return;
  }
  const run = await withKernelLock(async () => diffLines(DYNAMIC_EVENTS, ['f:kbgf/a vfs_read', 't:kbgf/b sched_switch'], {
    parse: { rules: here }, clearLog: true, ours: (l) => l.includes('kbgf/'),
  }));
  for (const d of run.disagreements) t.fail(`disagreement: ${d.line}`, { found: describeDisagreement(d) });
  t.equal(run.accepted, 0, 'the kernel refused both');
});

function existsDynamicEvents(): boolean {
  try {
    readFileSync(DYNAMIC_EVENTS);
    return true;
  } catch {
    return false;
  }
}
