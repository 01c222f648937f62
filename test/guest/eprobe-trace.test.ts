// Inside the guest: event probes traced by the guest kernel's own eprobes
// and by `kprobe-bpf trace` in the same run. The definitions go to
// dynamic_events and are enabled in a private tracefs instance while the CLI
// traces the same lines (tracepoint programs) on a command; for the
// command's pid, from our first hit on (the kernel also sees the command's
// launcher before our programs are attached), every line must be the
// kernel's, timestamps and flags aside; each event's `format` file must be
// the kernel's (ID aside), and the profile must count a hit per line.
import t from 'tap';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TRACEFS, withKernelLock } from '../lib/kernel.js';
import { notInGuestReason } from './env.js';
import { formatWithoutId, parseTrace, type TraceLine } from './ftrace.js';
import { runCli } from './kdiff.js';

const skip = notInGuestReason();
const G = 'kbet';
const DEFS = [
  `e:${G}/op syscalls.sys_enter_openat dfd=$dfd:s32 flags=$flags:x32 mode=$mode:u16 nr=$__syscall_nr`,
  `e:${G}/opf syscalls.sys_enter_openat flags=$flags:x32 if flags == 0`,
  `e:${G}/cm syscalls.sys_enter_openat c=$comm:string i=\\7 s=\\"ab":string m=$mode:x8`,
  `e:${G}/cl syscalls.sys_enter_close fd=$fd:s32 nr=$__syscall_nr:s32`,
  `e:${G}/sw sched.sched_switch prev=$prev_pid:s32 pc=$prev_comm:string nc=$next_comm:string pr=$prev_prio:s32`,
  `e:${G}/swf sched.sched_switch p=$prev_pid:s32 b=$prev_state:b2@0/64 n=$next_pid if prev_comm ~ "ca*" && prev_prio >= 100`,
  `e:${G}/cl2 syscalls.sys_enter_close a=@nr_cpu_ids:u32 i=\\-1:s8 fd=$fd:x16 x=@nr_cpu_ids:u8[4]`,
];
const EVENTS = DEFS.map((d) => /^e:\S+\/(\S+)/.exec(d)![1]!);
const COMMAND = 'cat /etc/hostname /nonexistent-kbet';

/** `kprobe-bpf trace --profile`'s table on stderr. */
function profileOf(stderr: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of stderr.matchAll(/^ {2}(\S+)\s+(\d+)\s+\d+$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

const bodyOf = (l: TraceLine) => l.body;

t.test('eprobes: trace lines, format files and hits against the guest kernel\'s own eprobes in the same run', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kbet-'));
  const defsFile = join(dir, 'defs');
  writeFileSync(defsFile, `${DEFS.join('\n')}\n`);
  const instance = `${TRACEFS}/instances/kbet-${process.pid}`;
  const run = await withKernelLock(async () => {
    for (const d of DEFS) appendFileSync(`${TRACEFS}/dynamic_events`, `${d}\n`);
    mkdirSync(instance);
    try {
      writeFileSync(`${instance}/tracing_on`, '0');
      for (const e of EVENTS) writeFileSync(`${instance}/events/${G}/${e}/enable`, '1');
      const formats = new Map(EVENTS.map((e) => [e, formatWithoutId(readFileSync(`${TRACEFS}/events/${G}/${e}/format`, 'utf8'))]));
      writeFileSync(`${instance}/tracing_on`, '1');
      const cli = await runCli(['trace', '--profile', '-f', defsFile, '-c', COMMAND]);
      writeFileSync(`${instance}/tracing_on`, '0');
      const kernel = parseTrace(readFileSync(`${instance}/trace`, 'utf8')).lines;
      const ours = await runCli(['compile', '-f', defsFile, '-o', join(dir, 'o.o'), '--format']);
      return { cli, kernel, formats, ourFormats: ours.stdout };
    } finally {
      for (const e of EVENTS) writeFileSync(`${instance}/events/${G}/${e}/enable`, '0');
      rmdirSync(instance);
      for (const e of EVENTS) appendFileSync(`${TRACEFS}/dynamic_events`, `-:${G}/${e}\n`);
      rmSync(dir, { recursive: true, force: true });
    }
  });
  t.equal(run.cli.code, 0, 'kprobe-bpf trace exits 0', { stderr: run.cli.stderr });
  const ours = parseTrace(run.cli.stdout).lines;
  const pid = ours.find((l) => l.comm === 'cat')?.pid;
  if (pid === undefined) return t.fail('no line of the traced cat', { stdout: run.cli.stdout, stderr: run.cli.stderr });
  const since = Math.min(...ours.map((l) => Number(l.timestamp))) - 0.002;
  const profile = profileOf(run.cli.stderr);
  for (const e of EVENTS) {
    const mine = ours.filter((l) => l.body.startsWith(`${e}: `));
    // sched_switch lines of the traced pid only; the kernel's lines from our first hit on
    const theirs = run.kernel.filter((l) => l.pid === pid && Number(l.timestamp) >= since && l.body.startsWith(`${e}: `));
    t.same(mine.map(bodyOf), theirs.map(bodyOf), `${e}: the kernel's lines (${theirs.length})`);
    t.equal(profile.get(e), mine.length, `${e}: a profile hit per line`);
  }
  t.ok(ours.filter((l) => l.body.startsWith('op: ')).length >= 3, 'the command opened files');
  const oursFormats = new Map(run.ourFormats.split(/(?=^name: )/m).map((f) => [/^name: (\S+)/.exec(f)?.[1] ?? '', formatWithoutId(f)]));
  for (const e of EVENTS) t.equal(oursFormats.get(e), run.formats.get(e), `${e}: the kernel's format file`);
});
