// Inside the guest: fprobe (f) and tracepoint probe (t) events judged by the
// guest kernel's own (trace_fprobe.c, 6.5+; Debian 6.12 enables it). On the
// same run, the kernel's events record into a private instance from
// dynamic_events while `kprobe-bpf trace` (fentry/fexit/tp_btf programs)
// traces the workload: trace lines compare in order, timestamps and flags
// aside. Also: the lines' verdicts, readback and error_log against `parse`,
// `compile --format` against the kernel's format files, every program
// through the verifier (`check`). On a kernel without f/t lines (6.1) the
// same lines must be refused the way it refuses them (bare EINVAL, no log).
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelRules } from '../../grammar/index.js';
import { describeDisagreement, diffLines } from '../lib/grammar-diff.js';
import { TRACEFS, withKernelLock } from '../lib/kernel.js';
import { fixture, notInGuestReason } from './env.js';
import { dynamicEventsSkipReason, formatWithoutId, listEvents, writeDynamicEvent } from './ftrace.js';
import { diffRun, realReturnAddress, runCli, splitFormats } from './kdiff.js';

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
  const defsFile = join(dir, 'defs-format');
  writeFileSync(defsFile, DEFINITIONS.join('\n') + '\n');
  const ours = await runCli(['compile', '-f', defsFile, '-o', join(dir, 'f.o'), '--format']);
  t.equal(ours.code, 0, 'compile --format', { stderr: ours.stderr });
  const formats = splitFormats(ours.stdout);
  await withKernelLock(async () => {
    for (const d of DEFINITIONS) writeDynamicEvent('fprobe', d);
    try {
      for (const e of listEvents('fprobe').filter((x) => x.group.startsWith('kbpf'))) {
        const kernel = readFileSync(`${TRACEFS}/events/${e.group}/${e.event}/format`, 'utf8');
        t.equal(formatWithoutId(formats.get(e.event) ?? ''), formatWithoutId(kernel), `${e.group}/${e.event}`);
      }
    } finally {
      for (const d of DEFINITIONS) writeDynamicEvent('fprobe', `-:${/^[ft]:(\S+)/.exec(d)![1]}`);
    }
  });
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
