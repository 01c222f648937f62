// Inside the guest (kernels with BTF arguments and fprobe events: 6.12):
// kprobes with BTF arguments at a function's entry or return compile to
// fentry/fexit programs and still print exactly the kernel's own kprobe
// lines, judged on the same hits (kdiff.ts; timestamps and flags aside):
// - `p SYM names...` on fentry: the ip column is the kprobe's address as the
//   kernel reports it (+0x4 past ENDBR), names read from the trampoline;
// - `r SYM names... $retval` on fexit: `(caller <- func)` with the real
//   return address (the kernel's kretprobe on the same function has swapped
//   it for its rethook trampoline; ours follows current->rethooks back),
//   entry arguments read natively, $retval in the slot after the arguments;
// - a struct passed by value (sk_setsockopt's 16-byte sockptr_t takes two
//   slots): the kernel reads a parameter by its index as a register, so
//   `optlen` after it prints the struct's second word, $arg6 the real length,
//   and fexit's $retval sits after six slots, not five;
// - the fallback: an `f` event on a function the kernel builds no trampoline
//   for (ns_to_kernel_old_timeval returns a struct by value: EINVAL at load)
//   runs as kprobe/kretprobe programs printing the fprobe event's lines, said
//   once on stderr, while the other events stay on fentry/fexit.
// Which program kind each event got is read from the object's sections.
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventsOfObject } from '../../compiler/metadata.js';
import { kernelRules } from '../../grammar/index.js';
import { describeDisagreement, diffLines } from '../lib/grammar-diff.js';
import { TRACEFS, withKernelLock } from '../lib/kernel.js';
import { notInGuestReason } from './env.js';
import { dynamicEventsSkipReason, formatWithoutId } from './ftrace.js';
import { diffRun, runCli, sameWindows, splitFormats } from './kdiff.js';

const PYTHON = '/usr/bin/python3';
const rules = notInGuestReason() ? undefined : kernelRules(release()).probe;
const skip = notInGuestReason() ?? dynamicEventsSkipReason('fprobe')
  ?? (rules!.btfArgs && rules!.fprobeEvents ? undefined : `${release()} has no BTF arguments or fprobe events`)
  ?? (existsSync(PYTHON) ? undefined : `no ${PYTHON} for the workload`);

function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'kbpf-fentry-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** One process: opens and reads a file, sets two socket options (lengths 8 and 4), asks getrusage twice. */
const WORKLOAD = `import os, socket, struct, resource
fd = os.open('/proc/self/stat', os.O_RDONLY)
os.read(fd, 7)
os.close(fd)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, struct.pack('q', 65536))
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, struct.pack('i', 1))
s.close()
resource.getrusage(resource.RUSAGE_SELF)
resource.getrusage(resource.RUSAGE_SELF)
`;

const G = 'kbfen';
/** [line, the program kind it must compile to]. */
const DEFINITIONS: readonly (readonly [string, string])[] = [
  [`p:${G}/exec __x64_sys_execve`, 'kprobe'],
  [`p:${G}/read ksys_read fd buf count`, 'fentry'],
  [`r:${G}/read_ret ksys_read fd count $retval`, 'fexit'],
  [`p:${G}/open do_sys_openat2 dfd filename:ustring how->flags how->mode`, 'fentry'],
  [`r:${G}/open_ret do_sys_openat2 $retval`, 'fexit'],
  [`p:${G}/sso sk_setsockopt sk level optname optval optlen a6=$arg6`, 'fentry'],
  [`r:${G}/sso_ret sk_setsockopt level optname optlen $retval`, 'fexit'],
];
/** f events, traced in a run of their own (the kernel's dynamic_events listing of f lines): the marker, and a function with no trampoline. */
const FPROBES: readonly (readonly [string, string])[] = [
  [`f:${G}/fexec __x64_sys_execve`, 'fentry'],
  // no trampoline for a function returning a struct: an f event falls back at load
  [`f:${G}/tvf ns_to_kernel_old_timeval nsec`, 'fentry'],
  [`f:${G}/tvf_ret ns_to_kernel_old_timeval%return nsec`, 'fexit'],
];
/** Compiled, not traced (a kprobe and a trampoline on one function run in an order of their own). */
const COMPILED_ONLY: readonly (readonly [string, string])[] = [
  // a fetch that needs pt_regs keeps the kprobe
  [`p:${G}/sso_ip sk_setsockopt level ip=%ip`, 'kprobe'],
  [`r:${G}/read_stack ksys_read count s=$stack0`, 'kretprobe'],
  // the trampoline model refuses the function (it returns a struct): a kprobe stays one at compile time
  [`p:${G}/tv ns_to_kernel_old_timeval nsec`, 'kprobe'],
  // a kprobe without BTF arguments, and one past the entry, stay kprobes
  [`p:${G}/plain vfs_read`, 'kprobe'],
  [`p:${G}/off vfs_read+8 di=%di`, 'kprobe'],
];
const lines = DEFINITIONS.map(([l]) => l);
/**
 * The fprobe exit on the kretprobe fallback: the kernel's fprobe exit hooks
 * the return after ours, so its own line shows [unknown/kretprobe'd] as the
 * caller (trace_output.c kretprobed()); the return address is set aside there.
 */
const maskFallbackReturn = (line: string): string => line.replace(/\(\S+(?: \[\w+\])? <- ns_to_kernel_old_timeval\)/, '(RET <- ns_to_kernel_old_timeval)');
const FALLBACK = /kprobe\/kretprobe programs instead of fentry\/fexit/;

t.test('kprobes with BTF arguments on fentry/fexit print the kernel\'s kprobe lines', { skip }, async (t) => {
  const dir = scratch(t);
  const defsFile = join(dir, 'defs.txt');
  writeFileSync(defsFile, lines.join('\n') + '\n');
  const script = join(dir, 'workload.py');
  writeFileSync(script, WORKLOAD);

  const allFile = join(dir, 'all.txt');
  writeFileSync(allFile, [...DEFINITIONS, ...FPROBES, ...COMPILED_ONLY].map(([l]) => l).join('\n') + '\n');
  const all = await runCli(['compile', '-f', allFile, '-o', join(dir, 'o.o')]);
  t.equal(all.code, 0, 'compile exited 0', { stderr: all.stderr });
  const sections = new Map(eventsOfObject(new Uint8Array(readFileSync(join(dir, 'o.o')))).map((e) => [`${e.format.group}/${e.format.event}`, e.section.split('/')[0]]));
  for (const [line, kind] of [...DEFINITIONS, ...FPROBES, ...COMPILED_ONLY]) t.equal(sections.get(/:(\S+)/.exec(line)![1]!), kind, `${line}: a ${kind} program`);
  const c = await runCli(['compile', '-f', defsFile, '--format']);
  t.equal(c.code, 0, 'compile --format exited 0', { stderr: c.stderr });

  const r = await withKernelLock(() => diffRun({ definitions: lines, defsFile, command: `${PYTHON} -S ${script}`, marker: 'exec' }));
  if (process.env.KBPF_DUMP) console.error(`ours\n${r.ours.stdout.slice(0, 6000)}\n--- stderr\n${r.ours.stderr}`);
  t.equal(r.ours.code, 0, `kprobe-bpf trace exited 0 (${r.ours.seconds.toFixed(1)} s)`, { stderr: r.ours.stderr });
  t.same(r.kernel.other, [], 'the kernel lost nothing');
  t.notMatch(r.ours.stderr, FALLBACK, 'no fallback: every BTF kprobe ran on its trampoline', { stderr: r.ours.stderr });
  t.ok(r.kernelWindow.length >= 10, `${r.kernelWindow.length} kernel lines in the window`);
  for (const ev of ['read', 'read_ret', 'sso', 'sso_ret']) t.ok(r.kernelWindow.some((l) => l.includes(` ${ev}: (`)), `the kernel traced ${ev}`);
  sameWindows(t, r.kernelWindow, r.oursWindow);
  // the struct by value: the kernel's own answer for `optlen` (a register) against $arg6 (the real length)
  const sso = r.kernelWindow.filter((l) => l.includes(' sso: ('));
  t.ok(sso.some((l) => / optlen=0 a6=0x8$/.test(l)), 'optlen after the 16-byte sockptr_t is its second word in the kernel too; $arg6 is the length', { found: sso });

  sameFormats(t, c.stdout, r.kernel);

  // the fallback: its own run, f lines in dynamic_events for the kernel
  const fFile = join(dir, 'f.txt');
  const f = await withKernelLock(() => diffRun({ kind: 'fprobe', definitions: FPROBES.map(([l]) => l), defsFile: fFile, command: `${PYTHON} -S ${script}`, marker: 'fexec' }));
  t.equal(f.ours.code, 0, `kprobe-bpf trace of the f events exited 0 (${f.ours.seconds.toFixed(1)} s)`, { stderr: f.ours.stderr });
  const said = f.ours.stderr.split('\n').filter((l) => FALLBACK.test(l));
  t.equal(said.length, 1, 'the fallback is said once', { stderr: f.ours.stderr });
  t.match(said[0] ?? '', new RegExp(`events ${G}/tvf, ${G}/tvf_ret: .*ns_to_kernel_old_timeval.*EINVAL`), 'naming the f events of the refused function and why');
  t.notMatch(said[0] ?? '', new RegExp(`${G}/fexec`), 'the marker stays on its trampoline');
  for (const ev of ['tvf', 'tvf_ret']) t.ok(f.kernelWindow.some((l) => l.includes(` ${ev}: (`)), `the kernel traced ${ev}`);
  sameWindows(t, f.kernelWindow.map(maskFallbackReturn), f.oursWindow.map(maskFallbackReturn));
  const fc = await runCli(['compile', '-f', fFile, '--format']);
  sameFormats(t, fc.stdout, f.kernel);
});

function sameFormats(t: Test, compiled: string, kernel: { events: readonly { group: string; event: string }[]; formats: Record<string, string> }): void {
  const formats = splitFormats(compiled);
  for (const e of kernel.events) {
    const mine = formats.get(e.event);
    t.equal(mine === undefined ? '' : formatWithoutId(mine), formatWithoutId(kernel.formats[`${e.group}/${e.event}`]!), `${e.group}/${e.event}: format file identical (ID aside)`);
  }
}

t.test('KPROBE_BPF_TRAMPOLINE=0 compiles the same lines to kprobe/kretprobe programs', { skip }, async (t) => {
  const dir = scratch(t);
  const defsFile = join(dir, 'defs.txt');
  writeFileSync(defsFile, lines.join('\n') + '\n');
  const prev = process.env.KPROBE_BPF_TRAMPOLINE;
  process.env.KPROBE_BPF_TRAMPOLINE = '0';
  try {
    const c = await runCli(['compile', '-f', defsFile, '-o', join(dir, 'k.o')]);
    t.equal(c.code, 0, 'compile exited 0', { stderr: c.stderr });
  } finally {
    if (prev === undefined) delete process.env.KPROBE_BPF_TRAMPOLINE;
    else process.env.KPROBE_BPF_TRAMPOLINE = prev;
  }
  const kinds = eventsOfObject(new Uint8Array(readFileSync(join(dir, 'k.o')))).map((e) => e.section.split('/')[0]!);
  t.same([...new Set(kinds)].sort(), ['kprobe', 'kretprobe'], 'no fentry/fexit program left');
});

t.test('a struct passed by value: what 6.12 refuses and accepts, as parse says', { skip }, async (t) => {
  const S = 'kbfes';
  const struct = [
    `p:${S}/a sk_setsockopt optval.kernel`, `p:${S}/a sk_setsockopt optval->kernel`, `p:${S}/a sk_setsockopt optval:string`,
    `p:${S}/a sk_setsockopt optval:x32`, `p:${S}/a sk_setsockopt sk level optname optval optlen`, `p:${S}/a sk_setsockopt $arg*`,
    `p:${S}/a sk_setsockopt $arg4 $arg5`, `p:${S}/a sk_setsockopt $arg6`, `p:${S}/a sk_setsockopt a6=$arg6`,
    `r:${S}/a sk_setsockopt optval $retval`, `f:${S}/a sk_setsockopt optval.kernel`, `f:${S}/a sk_setsockopt%return optlen $retval`,
  ];
  const run = await withKernelLock(async () => diffLines(`${TRACEFS}/dynamic_events`, struct, {
    parse: { rules: rules! }, clearLog: true, ours: (l) => l.includes(`${S}/`),
  }));
  for (const d of run.disagreements) t.fail(`disagreement: ${d.line}`, { found: describeDisagreement(d) });
  t.equal(run.disagreements.length, 0, `${struct.length} lines, ${run.accepted} accepted: every verdict, readback and message agrees`);
});
