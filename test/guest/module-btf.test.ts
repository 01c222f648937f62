// Inside the guest: BTF arguments of functions and tracepoints that live in a
// module, typed from the module's split BTF (/sys/kernel/btf/MOD, read only
// for the module kallsyms tags the name with), judged by the guest kernel:
// - the split-BTF readers against bpftool's dump of the guest's own module BTF;
// - p/r/f/t lines on module functions and tracepoints (bare names, $arg*,
//   typed $retval, member chains into the module's own structs, %pD, and the
//   `MOD:SYM` forms, which 6.12 looks up in BTF as written and so refuses
//   BTF arguments on) against dynamic_events: verdict, readback, error_log;
//   on 6.1, which has no BTF arguments, the same lines refused as it refuses them;
// - on 6.12, the same hits traced by the kernel's events and by ours (BTF kprobes
//   on the module function's fentry/fexit trampoline, the return with entry
//   data; fprobes on fentry/fexit, tp_btf on a module
//   tracepoint, CO-RE against a module's struct), format files, the verifier.
// Modules: binfmt_misc (load_misc_binary runs on every execve) and the 9p
// client the guest's root file system is mounted with (every file read).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runningKernelBtf, SYS_KERNEL_BTF, type KernelBtf } from '../../bpf/btf-kernel.js';
import { kernelRules } from '../../grammar/index.js';
import { diffLines, judgeDisagreements } from '../lib/grammar-diff.js';
import { TRACEFS, withKernelLock } from '../lib/kernel.js';
import { judgeModuleBtf } from '../bpf/btf-split-judge.js';
import { membersOf } from './btf-members.js';
import { fixture, notInGuestReason } from './env.js';
import { formatFilesMatch } from './format-files.js';
import { dynamicEventsSkipReason, listEvents } from './ftrace.js';
import { diffRun, readKallsyms, runCli, sameWindows } from './kdiff.js';

const DYNAMIC_EVENTS = `${TRACEFS}/dynamic_events`;
const rules = notInGuestReason() ? undefined : kernelRules(release()).probe;
const skip = notInGuestReason() ?? dynamicEventsSkipReason('kprobe');
const dir = mkdtempSync(join(tmpdir(), 'kbpf-modbtf-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** Module functions (module, name) and module tracepoints the lines are made for. */
const FUNCTIONS = [['binfmt_misc', 'load_misc_binary'], ['9pnet', 'p9_client_walk'], ['9pnet', 'p9_client_read']] as const;
const TRACEPOINTS = ['9p_client_req', '9p_client_res'];
const G = 'kbmod';
const MARKER = 'exec';

if (!skip) for (const m of new Set(FUNCTIONS.map(([m]) => m))) spawnSync('modprobe', [m]);

t.test('split BTF of the guest\'s modules against bpftool', { skip: skip ?? (existsSync(`${SYS_KERNEL_BTF}/9pnet`) && rules?.btfArgs ? undefined : 'no module BTF, or no BTF arguments to read it for') }, async (t) => {
  // one module, its every type decoded only on the host (test/bpf/btf-split.test.ts)
  // an __init function's BTF stays while kallsyms drops its symbol once the module is up, so a bare
  // lookup, which finds modules through kallsyms, misses it (the kernel's search of every module finds it)
  const ks = readKallsyms();
  judgeModuleBtf(t, SYS_KERNEL_BTF, '9pnet', { gone: (name) => !ks.has(name), whole: false });
});

/** Lines on one module function: entry, exit, fprobe, and the MOD:SYM forms. */
function functionLines(btf: KernelBtf | undefined, mod: string, f: string): string[] {
  const p = (args: string) => `p:${G}/a ${f} ${args}`;
  const r = (args: string) => `r:${G}/a ${f} ${args}`;
  const fe = (args: string) => `f:${G}/a ${f} ${args}`;
  const fx = (args: string) => `f:${G}/a ${f}%return ${args}`;
  const out = [
    p('$arg*'), r('$retval'), r('$arg* $retval'), r('$retval:x32'), r('$retval->x'), p('$arg1'), p('$arg2:x32'), p('nosuch'),
    fe('$arg*'), fx('$retval'), fx('$arg1 $retval'), `f:${G}/a ${f}`,
    `p:${G}/a ${mod}:${f} $arg*`, `p:${G}/a ${mod}:${f} $arg1`, `r:${G}/a ${mod}:${f} $retval`, `r:${G}/a ${mod}:${f} $retval->x`,
    `f:${G}/a ${mod}:${f}`, `f:${G}/a ${mod}:${f} $arg1`, `f:${G}/a ${mod}:${f}%return $retval`,
    `p ${f} $arg*`, `r ${f} $retval`, `f ${f} $arg1`, `f ${f}%return $retval`,
  ];
  // the parameters' type ids are the module's BTF's (split BTF: vmlinux's ids, then the module's)
  const proto = btf?.funcProto(f);
  for (const q of (proto?.params ?? []).filter((x) => x.name !== '')) {
    out.push(p(q.name), `p:${G}/a ${mod}:${f} ${q.name}`, r(`${q.name} $retval`), fe(`${q.name}:%pD`), fx(q.name));
    for (const m of membersOf(proto!.btf, q.type).slice(0, 4)) {
      out.push(p(`${q.name}->${m.name}`), fe(`${q.name}->${m.name}`), r(`${q.name}->${m.name}:string`));
      if (m.pointee !== undefined) for (const mm of membersOf(proto!.btf, m.pointee).slice(0, 2)) out.push(fe(`${q.name}->${m.name}->${mm.name}`));
    }
  }
  return out;
}

/** Lines on one module tracepoint: its probe stub's parameters after the hidden __data. */
function tracepointLines(btf: KernelBtf | undefined, tp: string): string[] {
  const at = (args: string) => `t:${G}/a ${tp} ${args}`;
  const out = [at('$arg*'), at('$arg1'), at('$arg9'), at('nosuch'), at('$retval')];
  const proto = btf?.funcProto(`__probestub_${tp}`);
  for (const q of (proto?.params.slice(1) ?? []).filter((x) => x.name !== '')) {
    out.push(at(q.name));
    for (const m of membersOf(proto!.btf, q.type).slice(0, 4)) out.push(at(`${q.name}->${m.name}`));
  }
  return out;
}

t.test('BTF arguments on module functions and tracepoints: verdict, readback and error_log as the kernel gives them', { skip }, async (t) => {
  const ks = readKallsyms();
  const here = FUNCTIONS.filter(([m, f]) => ks.get(f)?.module === m);
  t.equal(here.length, FUNCTIONS.length, `every function is in its module here: ${here.map(([m, f]) => `${f} [${m}]`).join(', ')}`);
  // 6.1 has no BTF arguments; its BTF still names the parameters the lines are made of
  const btf = runningKernelBtf();
  const lines = [...new Set([
    ...here.flatMap(([m, f]) => functionLines(btf, m, f)),
    // MOD:SYM of a module not loaded, and of none
    `f:${G}/a ext4:ext4_readdir`, `f:${G}/a nosuchmod:nosuch`, `p:${G}/a nosuchmod:nosuch $arg1`, `p:${G}/a nosuchmod:nosuch x`,
    ...TRACEPOINTS.filter((tp) => ks.get(`__probestub_${tp}`)?.module !== undefined || !rules!.fprobeEvents).flatMap((tp) => tracepointLines(btf, tp)),
  ])];
  t.ok(lines.length >= 100, `${lines.length} lines generated`);
  // whether a MOD:SYM kprobe sits on a function entry is live state: its module loaded (kallsyms has it)
  const parse = { rules: rules!, moduleSymbol: (m: string, f: string) => ks.get(f)?.module === m };
  const run = await withKernelLock(async () => diffLines(DYNAMIC_EVENTS, lines, {
    parse, clearLog: true, ours: (l) => l.includes(`${G}/`) || /^[prf]\d*:(kprobes|fprobes)\/[pr]?_?(load_misc_binary|p9_client)/.test(l),
  }));
  t.comment(`module BTF grammar, rules of ${rules!.version} (${release()}): ${lines.length - run.disagreements.length}/${lines.length} agree (${run.accepted} accepted by the kernel)`);
  const unknownCarets = judgeDisagreements(t, run, parse);
  if (rules!.btfArgs) t.ok(run.accepted > lines.length / 3, 'the kernel typed the module functions\' arguments from their BTF');
  t.comment(`${unknownCarets} errors after a member chain (caret not judged)`);
});

/**
 * Events on module code the same workload hits: a kprobe and a return kprobe
 * (entry data) on binfmt_misc's load_misc_binary, an fprobe entry and exit on
 * 9pnet's p9_client_walk (fentry/fexit attached through the module's BTF
 * object, members of its own struct p9_fid through CO-RE), a tprobe on a
 * 9pnet tracepoint (tp_btf). Kprobes and f/t events are traced in two runs:
 * the kernel's side lists and enables each kind from its own events file.
 */
const KPROBES = [
  `p:${G}/${MARKER} __x64_sys_execve`,
  `p:${G}/misc load_misc_binary bprm->filename:string file=bprm->file:%pD`,
  `r:${G}/misc_ret load_misc_binary $retval name=bprm->filename:string`,
];
const FPROBES = [
  `f:${G}/${MARKER} __x64_sys_execve`,
  `f:${G}/walk p9_client_walk oldfid->fid nwname`,
  `f:${G}/walk_ret p9_client_walk%return $retval nwname oldfid->qid.path`,
  `t:${G}/req 9p_client_req type tag`,
];
const DEFINITIONS = [...KPROBES, ...FPROBES.slice(1)];

/** An exit line's `(RET <- FUNC)` (the caller may carry a ` [mod]`): with the kernel's exit probe on the same function, ours sees its rethook's address. */
const maskReturnAddress = (line: string): string => line.replace(/\(([^()]+) <- (\S+)\)/, '(RET <- $2)');

const traceSkip = skip ?? (rules?.btfArgs && rules.fprobeEvents ? undefined : `${release()} has no BTF arguments`);

for (const [kind, definitions, events] of [['kprobe', KPROBES, ['misc', 'misc_ret']], ['fprobe', FPROBES, ['walk', 'walk_ret', 'req']]] as const) {
  t.test(`module ${kind === 'kprobe' ? 'kprobe' : 'f/t'} events trace the kernel's lines on the same hits`, { skip: traceSkip }, async (t) => {
    const r = await withKernelLock(() => diffRun({
      kind, definitions: [...definitions], defsFile: join(dir, `defs-${kind}`), command: `${fixture('kprobe_workload')} 1`, marker: MARKER,
    }));
    if (process.env.KBPF_DUMP) console.error(`ours\n${r.ours.stdout.slice(0, 6000)}\n--- stderr\n${r.ours.stderr}\n--- kernel\n${r.kernel.lines.slice(0, 60).map((l) => l.raw).join('\n')}`);
    t.equal(r.ours.code, 0, `kprobe-bpf trace exited 0 (${r.ours.seconds.toFixed(1)} s)`, { stderr: r.ours.stderr });
    t.same(r.ours.other, [], 'our output holds only the header and trace lines', { stderr: r.ours.stderr });
    t.same(r.kernel.other, [], 'the kernel lost nothing');
    t.ok(r.pid, 'our trace shows the command\'s execve');
    // These hits all come inside the execve, before it renames the task; the kernel prints the comm
    // saved_cmdlines has at read time, which a sched_switch after the rename may already hold (no hit
    // of ours follows it for lastCommPerPid to see), so the comm is set aside, the pid still compared.
    const sameLine = (line: string): string => maskReturnAddress(kind === 'kprobe' ? line.replace(/^.*?-(\d+) /, 'COMM-$1 ') : line);
    const kernel = r.kernelWindow.map(sameLine);
    const ours = r.oursWindow.map(sameLine);
    for (const ev of events) {
      t.ok(kernel.some((l) => l.includes(` ${ev}: (`)), `the kernel traced ${ev} (${kernel.filter((l) => l.includes(` ${ev}: (`)).length} lines)`);
    }
    sameWindows(t, kernel, ours, 'timestamps, flags and exit return addresses');
  });
}

t.test('format files of module events are the kernel\'s', { skip: traceSkip }, async (t) => {
  await formatFilesMatch(t, dir, DEFINITIONS, () => [...listEvents('kprobe'), ...listEvents('fprobe')].filter((x) => x.group === G));
});

t.test('programs on module code pass the verifier (fentry/fexit and tp_btf targets in module BTF, CO-RE on module types)', { skip: traceSkip }, async (t) => {
  const defsFile = join(dir, 'defs-check');
  writeFileSync(defsFile, DEFINITIONS.join('\n') + '\n');
  const r = await runCli(['check', '-f', defsFile]);
  t.equal(r.code, 0, 'check exits 0', { stdout: r.stdout, stderr: r.stderr });
  const rows = r.stdout.split('\n').filter((l) => /\b(ok|FAIL)\b/.test(l));
  t.ok(rows.length >= DEFINITIONS.length, 'a row per program');
  for (const row of rows) t.match(row, /\bok$/, row.trim());
  t.ok(rows.some((row) => /fexit\/p9_client_walk/.test(row)), 'fexit on a module function');
  t.ok(rows.some((row) => /fentry\/load_misc_binary/.test(row)) && rows.some((row) => /fexit\/load_misc_binary/.test(row)), 'BTF kprobes on a module function: on its trampoline too');
  t.ok(rows.some((row) => /tp_btf\/9p_client_req/.test(row)), 'tp_btf on a module tracepoint');
});
