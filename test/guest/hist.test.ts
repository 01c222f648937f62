// Hist triggers judged by the guest kernel's own (CONFIG_HIST_TRIGGERS):
// the same definition and triggers on a uprobe and on a kprobe, the
// kernel's trigger in a private instance and `kprobe-bpf trace --trigger
// --no-trace -c CMD` on the SAME hits, and the two `hist` files compared
// byte for byte (keys and values chosen to be deterministic in the run, and
// ordered by a key where the kernel's tie order would be its hash table's).
// Then broken triggers: written to the kernel's trigger file and parsed by
// grammar/trigger, the error_log entry (message, command, caret) or the
// bare errno compared.
import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fixture, notInGuestReason } from './env.js';
import { symbolFileOffset } from './elf-symbol.js';
import { TraceInstance, defineEvents, removeEvents, type DynamicEvent, type ProbeKind } from './ftrace.js';
import { runCli } from './kdiff.js';
import { withKernelLock } from '../lib/kernel.js';
import { parseProbeCommands, type ProbeDefinition } from '../../grammar/index.js';
import { runningKernelRules, FilterSyntaxError } from '../../grammar/filter/index.js';
import { parseEventTrigger, TriggerError, TriggerUnsupportedError } from '../../grammar/trigger/index.js';
import { eventFieldsOf } from '../../compiler/filter-events.js';
import { layoutEvent } from '../../compiler/layout.js';

const skip = notInGuestReason();
const G = `kbpfh${process.pid}`;

interface Case {
  readonly name: string;
  readonly kind: ProbeKind;
  /** The definition after `p:GRP/EVENT ` for the kernel and for us. */
  readonly place: () => string;
  readonly args: string;
  readonly command: () => string[];
  readonly triggers: readonly string[];
}

const target = () => fixture('uprobe_target');
/** The uprobe cases' event: kbpf_target of the fixture, its three arguments, 300 calls. */
const ON_TARGET = {
  kind: 'uprobe',
  place: () => `${target()}:0x${symbolFileOffset(target(), 'kbpf_target').toString(16)}`,
  args: 'a=%di:u32 b=%si:s64 s=+0(%dx):string',
  command: () => [target(), '300'],
} as const satisfies Omit<Case, 'name' | 'triggers'>;
const CASES: readonly Case[] = [
  {
    name: 'uprobe: string, log2, buckets, hex, execname keys; vals; filter; size= and drops',
    ...ON_TARGET,
    triggers: [
      'hist:keys=s:vals=hitcount,b:sort=s',
      'hist:keys=a.log2:vals=b:sort=a',
      'hist:keys=a.buckets=50,s:sort=a.descending,s',
      'hist:keys=common_pid.execname:vals=hitcount,a.hex',
      'hist:keys=a.hex:sort=a:size=100 if a > 250',
      'hist:keys=a:vals=b:sort=a:size=128',
      'hist:key=s:values=a:sort=hitcount.descending if s != "beta"',
    ],
  },
  {
    name: 'uprobe: expressions, constants, variables, two triggers of one name on one event',
    ...ON_TARGET,
    triggers: [
      // a/100 divides by multiplying and shifting (99/100 is 1), -(b) is a u64, the b-a sum never prints, 5 prints as ":"
      'hist:keys=a/100:vals=b-a,5:sort=a/100',
      'hist:keys=-(b),a*2+1:vals=b:sort=a*2+1.descending:size=128',
      'hist:keys=$k,s:k=a:vals=$v:v=b,t0=common_timestamp.usecs:sort=a,s if a < 20',
      'hist:keys=a.log2:vals=hitcount,b:t1=common_timestamp,n=3*4:sort=a',
      'hist:name=kbpfhn:keys=s:vals=b:sort=s',
      'hist:name=kbpfhn:keys=s:vals=b:sort=s if a > 150',
    ],
  },
  {
    name: 'kprobe: a user string key, a signed value, common_pid',
    kind: 'kprobe',
    place: () => 'do_sys_openat2',
    args: 'dfd=%di:s32 path=+0(%si):ustring',
    command: () => [fixture('kprobe_workload'), '5'],
    triggers: [
      'hist:keys=path:vals=hitcount,dfd:sort=path if path ~ "/kbpf-missing-*"',
      'hist:keys=common_pid.execname,dfd:sort=dfd if path ~ "/kbpf-missing-*"',
    ],
  },
];

/** What a trigger file takes to remove a trigger: the same text after '!' (filter and all). */
const removal = (trigger: string) => `!${trigger}`;

function writeTrigger(file: string, text: string): void {
  writeFileSync(file, `${text}\n`, { flag: 'a' });
}

t.test('hist triggers: the kernel\'s hist file and ours on the same hits', { skip }, async (t) => {
  for (const c of CASES) {
    await t.test(c.name, async (t) => {
      const { kernel, ours } = await withKernelLock(async () => {
        const events: DynamicEvent[] = defineEvents(c.kind, [`p:${G}/ev ${c.place()} ${c.args}`]);
        const instance = new TraceInstance();
        const file = `${instance.dir}/events/${G}/ev/trigger`;
        const written: string[] = [];
        try {
          if (!existsSync(`${instance.dir}/events/${G}/ev/hist`)) return { kernel: undefined, ours: undefined };
          for (const tr of c.triggers) { writeTrigger(file, tr); written.push(tr); }
          const run = await runCli(['trace', '-e', `p:kbpfh/ev ${c.place()} ${c.args}`,
            ...c.triggers.flatMap((tr) => ['--trigger', `kbpfh/ev:${tr}`]), '--no-trace', '-c', c.command().join(' ')]);
          t.equal(run.code, 0, `kprobe-bpf exits 0 (stderr: ${run.stderr.slice(0, 2000)})`);
          const kernel = readFileSync(`${instance.dir}/events/${G}/ev/hist`, 'utf8');
          const at = run.stdout.indexOf('# event histogram');
          return { kernel, ours: at < 0 ? run.stdout : run.stdout.slice(at) };
        } finally {
          for (const tr of written.reverse()) writeTrigger(file, removal(tr));
          instance.destroy();
          removeEvents(events);
        }
      });
      if (kernel === undefined) { t.comment('skipped: this kernel has no hist file (CONFIG_HIST_TRIGGERS off)'); return; }
      t.equal(ours, kernel, 'identical hist file');
    });
  }
});

/** Broken (and a few good) triggers: the kernel's answer against grammar/trigger's. */
const REFUSALS: readonly string[] = [
  'hist:keys=nope',
  'hist:keys=a.foo',
  'hist:keys=a:vals=nope',
  'hist:keys=a:vals=b,b,b',
  'hist:keys=a:sort=nope',
  'hist:keys=a:sort=a.up',
  'hist:keys=a:sort=a,b,hitcount',
  'hist:keys=a:vals=b:sort=',
  'hist:keys=a:sort=,a',
  'hist:keys=a:size=10',
  'hist:keys=a:size=1000000',
  'hist:vals=b',
  'hist:keys=a,b,s,a',
  'hist:keys=a.buckets=0',
  'hist:keys=a.bucket=x',
  'hist:keys=a.execname',
  'hist:keys=$x',
  'hist:keys=1x',
  'hist:keys=a:foo',
  'hist:keys=comm',
  'hist:keys=a if nope == 1',
  'hist:keys=a if',
  'hist:keys=a:vals=hitcount,b if s ~ "al*" && a > 1',
  'hist:keys=a:vals=common_timestamp.usecs-common_timestamp',
  'hist:keys=a:vals=b/0',
  'hist:keys=a:vals=a+b+a+b+a',
  'hist:keys=a:vals=a+b+a+b',
  'hist:keys=a:vals=b+s',
  'hist:keys=-(b)/64',
  'hist:keys=a:vals=-(a',
  'hist:keys=a:vals=a+',
  'hist:keys=a:x=a,x=b',
  'hist:keys=a:vals=$x:x=b+1',
  'hist:keys=$x:x=a',
  'hist:keys=a:vals=5.x',
  'hist:keys=a:vals=b.log2',
  'hist:keys=a:vals=b.sym',
  'hist:keys=a:x=b.log2',
  'hist:keys=a:t=common_timestamp.usecs:vals=b',
  'hist:keys=a*2,s:vals=-(b)',
  'hist',
  'traceon:abc',
  'traceoff:5 if a > 1',
  'stacktrace if b < 0',
  'nosuch',
];

/** The error_log entries written since `before` (the file's text then), timestamps cut. */
function newErrorLog(path: string, before: string): string {
  const now = readFileSync(path, 'utf8');
  const added = now.startsWith(before) ? now.slice(before.length) : now;
  return added.split(/^(?=\[\s*\d+\.\d+\] )/m).filter((e) => e.trim() !== '').map((e) => e.replace(/^\[\s*\d+\.\d+\] /, '').trimEnd()).join('\n');
}

t.test('hist triggers: refusals as the kernel words them', { skip }, async (t) => {
  const place = `${target()}:0x${symbolFileOffset(target(), 'kbpf_target').toString(16)}`;
  const line = `p:${G}/err ${place} a=%di:u32 b=%si:s64 s=+0(%dx):string`;
  const def = parseProbeCommands(line).commands[0] as ProbeDefinition;
  const fields = eventFieldsOf(layoutEvent(def));
  const rules = runningKernelRules();
  await withKernelLock(async () => {
    const events = defineEvents('uprobe', [line]);
    const instance = new TraceInstance();
    const file = `${instance.dir}/events/${G}/err/trigger`;
    try {
      for (const text of REFUSALS) {
        // a trigger's errors go to its instance's error_log, which keeps only
        // the last few entries: emptied (an O_TRUNC write) before each case
        const log = `${instance.dir}/error_log`;
        writeFileSync(log, '');
        const before = readFileSync(log, 'utf8');
        let errno = 'ok';
        try { writeTrigger(file, text); } catch (e) {
          // libuv names no EDOM (a division by zero): its number then
          const x = e as NodeJS.ErrnoException;
          errno = x.code === 'UNKNOWN' && x.errno !== undefined ? String(-x.errno) : x.code ?? String(e);
        }
        const kernelLog = errno === 'ok' ? '' : newErrorLog(log, before);
        if (errno === 'ok') writeTrigger(file, removal(text));
        let oursErrno = 'ok';
        let oursLog = '';
        try {
          parseEventTrigger(text, { group: G, event: 'err', fields, rules });
        } catch (e) {
          if (e instanceof TriggerUnsupportedError) { t.equal(errno, 'ok', `${text}: unsupported by us, taken by the kernel`); continue; }
          if (!(e instanceof TriggerError || e instanceof FilterSyntaxError)) throw e;
          oursErrno = e instanceof TriggerError ? errnoName(e.errno) : errnoName(e.errno);
          oursLog = e instanceof TriggerError ? (e.logged ? e.toErrorLog() : '') : e.toErrorLog();
        }
        t.same({ errno: oursErrno, log: oursLog }, { errno, log: kernelLog }, text);
      }
    } finally {
      instance.destroy();
      removeEvents(events);
    }
  });
});

function errnoName(n: number): string {
  return ({ 2: 'ENOENT', 12: 'ENOMEM', 17: 'EEXIST', 22: 'EINVAL', 34: 'ERANGE' } as Record<number, string>)[n] ?? String(n);
}

t.test('hist triggers: one name on two events, one table printed under each', { skip }, async (t) => {
  const place = `${target()}:0x${symbolFileOffset(target(), 'kbpf_target').toString(16)}`;
  const args = 'a=%di:u32 b=%si:s64 s=+0(%dx):string';
  const name = `kbpfhx${process.pid}`;
  const triggers: [string, string][] = [
    ['one', `hist:name=${name}:keys=s:vals=hitcount,b:sort=s`],
    ['two', `hist:name=${name}:keys=s:vals=hitcount,b:sort=s if a > 100`],
  ];
  const { kernel, ours } = await withKernelLock(async () => {
    const events: DynamicEvent[] = defineEvents('uprobe', [`p:${G}/one ${place} ${args}`, `p:${G}/two ${place} ${args}`]);
    const instance = new TraceInstance();
    const file = (ev: string) => `${instance.dir}/events/${G}/${ev}/trigger`;
    const written: [string, string][] = [];
    try {
      if (!existsSync(`${instance.dir}/events/${G}/one/hist`)) return { kernel: undefined, ours: undefined };
      for (const [ev, tr] of triggers) { writeTrigger(file(ev), tr); written.push([ev, tr]); }
      const run = await runCli(['trace', '-e', `p:kbpfh/one ${place} ${args}`, '-e', `p:kbpfh/two ${place} ${args}`,
        ...triggers.flatMap(([ev, tr]) => ['--trigger', `kbpfh/${ev}:${tr}`]), '--no-trace', '-c', `${target()} 300`]);
      t.equal(run.code, 0, `kprobe-bpf exits 0 (stderr: ${run.stderr.slice(0, 2000)})`);
      // head(1)'s layout of the two hist files, as kprobe-bpf prints several
      const kernel = ['one', 'two'].map((ev) => `==> events/kbpfh/${ev}/hist <==\n${readFileSync(`${instance.dir}/events/${G}/${ev}/hist`, 'utf8')}\n`).join('');
      const at = run.stdout.indexOf('==> events/');
      return { kernel, ours: at < 0 ? run.stdout : run.stdout.slice(at) };
    } finally {
      for (const [ev, tr] of written.reverse()) writeTrigger(file(ev), removal(tr));
      instance.destroy();
      removeEvents(events);
    }
  });
  if (kernel === undefined) { t.comment('skipped: this kernel has no hist file (CONFIG_HIST_TRIGGERS off)'); return; }
  t.equal(ours, kernel, 'identical hist files');
});
