// The stacktrace, traceon and traceoff triggers and stacktrace hist keys,
// judged by the running kernel's own triggers on the SAME hits: the events
// and triggers written to a private tracing instance, `kprobe-bpf trace
// --trigger` run meanwhile, and the two traces (event lines without the
// timestamp, CPU and flags columns, and every `<stack trace>` line) or hist
// files compared; then the trigger file's readback and refusals against
// `kprobe-bpf parse --trigger`. Uprobe cases run on the host too (its
// kernel has the stacktrace/traceon/traceoff triggers, not hist); kprobe
// and hist cases only where the kernel has them (the 6.1 and 6.12 guests).
import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fixture } from './env.js';
import { symbolFileOffset } from './elf-symbol.js';
import { TraceInstance, defineEvents, dynamicEventsSkipReason, removeEvents, type DynamicEvent, type ProbeKind } from './ftrace.js';
import { runCli } from './kdiff.js';
import { withKernelLock } from '../lib/kernel.js';
import { parseProbeCommands, type ProbeDefinition } from '../../grammar/index.js';
import { readTriggers, triggerFileText } from '../../bin/trigger-input.js';

/** Runs fn with process.stderr's writes collected (readTriggers reports refusals there). */
async function captureStderr<T>(fn: () => Promise<T>): Promise<{ stderr: string; result: T }> {
  const write = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array) => { stderr += chunk.toString(); return true; }) as typeof process.stderr.write;
  try {
    const result = await fn();
    return { stderr, result };
  } finally {
    process.stderr.write = write;
  }
}

const G = `kbpft${process.pid}`;
const OURS = 'kbpft';
const target = () => fixture('uprobe_target');
const uprobePlace = () => `${target()}:0x${symbolFileOffset(target(), 'kbpf_target').toString(16)}`;

interface EventCase {
  /** The definition after `p:GRP/` or `r:GRP/`: `NAME PLACE ARGS`. */
  readonly def: string;
  readonly type: 'p' | 'r';
  /** The event's own filter (its filter file; `if FILTER` on our line). */
  readonly filter?: string;
  readonly triggers: readonly string[];
}

interface Case {
  readonly name: string;
  readonly kind: ProbeKind;
  readonly events: () => readonly EventCase[];
  readonly command: () => string;
  /** Compare the hist files (--no-trace) instead of the traces. */
  readonly hist?: boolean;
}

const WORKLOAD = 'comm == "kprobe_workload"';

const CASES: readonly Case[] = [
  {
    name: 'uprobe: stacktrace with a count and filter, traceoff at entry 5, traceon at the return of 8',
    kind: 'uprobe',
    events: () => [
      { type: 'p', def: `up ${uprobePlace()} a=%di:u32`, triggers: ['stacktrace:3 if a > 3', 'traceoff:1 if a == 5'] },
      { type: 'r', def: `upr ${uprobePlace()} ret=$retval:s64`, triggers: ['traceon:1 if ret < -7500', 'stacktrace:2'] },
    ],
    command: () => `${target()} 12`,
  },
  {
    name: 'uprobe: unconditional traceoff drops its own event; events without triggers follow the switch',
    kind: 'uprobe',
    events: () => [
      { type: 'p', def: `up ${uprobePlace()} a=%di:u32`, triggers: ['traceoff:2'] },
      { type: 'r', def: `upr ${uprobePlace()} ret=$retval:s64`, triggers: [] },
    ],
    command: () => `${target()} 4`,
  },
  {
    name: 'kprobe and kretprobe: stacktrace on the workload\'s opens',
    kind: 'kprobe',
    events: () => [
      { type: 'p', def: 'op do_sys_openat2 dfd=%di:s32', filter: WORKLOAD, triggers: [`stacktrace:3 if ${WORKLOAD}`] },
      { type: 'r', def: 'opr do_sys_openat2 ret=$retval:s32', filter: WORKLOAD, triggers: [`stacktrace if ${WORKLOAD}`] },
    ],
    command: () => `${fixture('kprobe_workload')} 3`,
  },
  {
    name: 'kprobe, kretprobe: stacktrace as a hist key',
    kind: 'kprobe',
    hist: true,
    events: () => [
      { type: 'p', def: 'op do_sys_openat2 dfd=%di:s32', triggers: [`hist:keys=stacktrace:vals=hitcount if ${WORKLOAD}`] },
      { type: 'r', def: 'opr do_sys_openat2 ret=$retval:s32', triggers: [`hist:keys=stacktrace,ret:sort=ret if ${WORKLOAD}`] },
    ],
    command: () => `${fixture('kprobe_workload')} 4`,
  },
  {
    name: 'uprobe, uretprobe: stacktrace as a hist key',
    kind: 'uprobe',
    hist: true,
    events: () => [
      { type: 'p', def: `up ${uprobePlace()} a=%di:u32`, triggers: ['hist:keys=stacktrace:vals=hitcount'] },
      { type: 'r', def: `upr ${uprobePlace()} ret=$retval:s64`, triggers: ['hist:keys=stacktrace:vals=hitcount'] },
    ],
    command: () => `${target()} 5`,
  },
];

function writeTrigger(file: string, text: string): void {
  writeFileSync(file, `${text}\n`, { flag: 'a' });
}

/**
 * A trace file's lines without the header, each event line as `COMM-PID
 * BODY` (no CPU, flags or timestamp). A return probe's function address is
 * left out: where the kernels differ from us there (a uretprobe's before
 * 6.6, a kretprobe the kernel prints [unknown/kretprobe'd]) it is recorded
 * and judged by the trace differentials (kernel-known.ts, README).
 */
export function traceBody(text: string): string[] {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => {
    const m = /^\s*(.*?-\d+)\s+\[\d+\]\s+\S+\s+\d+\.\d+: (.*)$/.exec(l);
    return m ? `${m[1]} ${m[2]!.replace(/^(\w+: \()[^()]* <- [^()]*\)/, '$1return)')}` : l;
  });
}

t.test('stacktrace, traceon, traceoff: the kernel\'s trace and ours on the same hits', async (t) => {
  for (const c of CASES) {
    const skip = dynamicEventsSkipReason(c.kind);
    await t.test(c.name, { skip }, async (t) => {
      const evs = c.events();
      const result = await withKernelLock(async () => {
        const events: DynamicEvent[] = defineEvents(c.kind, evs.map((e) => `${e.type}:${G}/${e.def}`));
        const instance = new TraceInstance();
        const written: [string, string][] = [];
        try {
          const dir = (e: EventCase) => `${instance.dir}/events/${G}/${e.def.split(' ')[0]}`;
          if (c.hist && !existsSync(`${dir(evs[0]!)}/hist`)) return undefined;
          for (const e of evs) {
            if (e.filter) writeFileSync(`${dir(e)}/filter`, e.filter);
            for (const tr of e.triggers) { writeTrigger(`${dir(e)}/trigger`, tr); written.push([`${dir(e)}/trigger`, tr]); }
          }
          for (const ev of events) instance.enable(ev);
          instance.start();
          const run = await runCli(['trace',
            ...evs.flatMap((e) => ['-e', `${e.type}:${OURS}/${e.def}${e.filter ? ` if ${e.filter}` : ''}`]),
            ...evs.flatMap((e) => e.triggers.map((tr) => `${OURS}/${e.def.split(' ')[0]}:${tr}`)).flatMap((x) => ['--trigger', x]),
            ...(c.hist ? ['--no-trace'] : []), '-c', c.command()]);
          instance.stop();
          const kernel = c.hist ? evs.map((e) => readFileSync(`${dir(e)}/hist`, 'utf8')) : [instance.read()];
          return { run, kernel };
        } finally {
          for (const [file, tr] of written.reverse()) writeTrigger(file, `!${tr}`);
          instance.destroy();
          removeEvents(events);
        }
      });
      if (result === undefined) { t.comment('skipped: this kernel has no hist file (CONFIG_HIST_TRIGGERS off)'); return; }
      const { run, kernel } = result;
      t.equal(run.code, 0, `kprobe-bpf exits 0 (stderr: ${run.stderr.slice(0, 2000)})`);
      if (c.hist) {
        // the command's own output (uprobe_target prints its calls) comes before the tables
        const tables = run.stdout.slice(Math.max(0, run.stdout.search(/^(==> events\/|# event histogram)/m)));
        const ours = tables.split(/^==> events\/[^\n]*<==\n/m).filter((s) => s !== '').map((s) => s.replace(/\n$/, ''));
        t.same(ours, kernel, 'identical hist files');
        return;
      }
      // the command's own output (uprobe_target prints its calls) is not trace
      const ours = traceBody(run.stdout).filter((l) => !/^a=0x/.test(l));
      const theirs = traceBody(kernel[0]!).filter((l) => !/^a=0x/.test(l));
      t.ok(theirs.some((l) => l.endsWith('<stack trace>')) || !evs.some((e) => e.triggers.some((x) => x.startsWith('stacktrace'))), 'the kernel printed stacks');
      t.same(ours, theirs, 'identical trace (event lines and stacks)');
    });
  }
});

/** Trigger writes, each on a fresh event: the kernel's verdict, errno and readback against `kprobe-bpf parse --trigger`. */
const WRITES: readonly (readonly string[])[] = [
  ['stacktrace'], ['stacktrace:5'], ['traceon:0x10 if a > 1'], ['traceoff:0'], ['traceon', 'stacktrace:2', 'traceoff'],
  ['stacktrace', 'stacktrace:3'], ['traceon:abc'], ['traceon:5:6'], ['traceon:'], ['stacktrace:-1'], ['stacktrace:1x'],
  ['traceoff:3 if nope == 1'], ['traceoff if'], ['nosuch'], ['stacktrace:2 if a == 1'],
  // where the kernel has hist triggers: their place in the list among the others
  ['stacktrace:2', 'hist:keys=a', 'traceon', 'hist:keys=a:vals=hitcount:sort=a'],
];

t.test('trigger files: verdicts and readback as the kernel\'s', { skip: dynamicEventsSkipReason('uprobe') }, async (t) => {
  const line = `p:${G}/w ${uprobePlace()} a=%di:u32`;
  const defs = parseProbeCommands(`p:${OURS}/w ${uprobePlace()} a=%di:u32`).commands as ProbeDefinition[];
  for (const writes of WRITES) {
    const kernel = await withKernelLock(() => {
      const events = defineEvents('uprobe', [line]);
      const instance = new TraceInstance();
      const file = `${instance.dir}/events/${G}/w/trigger`;
      const done: string[] = [];
      let errno = 'ok';
      try {
        if (writes.some((w) => w.startsWith('hist:')) && !existsSync(`${instance.dir}/events/${G}/w/hist`)) return undefined;
        for (const w of writes) {
          try { writeTrigger(file, w); done.push(w); } catch (e) { errno = (e as NodeJS.ErrnoException).code ?? String(e); break; }
        }
        return { errno, readback: readFileSync(file, 'utf8') };
      } finally {
        for (const w of done.reverse()) writeTrigger(file, `!${w}`);
        instance.destroy();
        removeEvents(events);
      }
    });
    if (kernel === undefined) { t.comment(`${writes.join(' ; ')}: skipped, this kernel has no hist triggers`); continue; }
    // what `kprobe-bpf parse --trigger` does, in this process (a CLI start per case costs the guest seconds)
    const { stderr, result } = await captureStderr(() => readTriggers(defs, writes.map((w) => `${OURS}/w:${w}`)));
    if (kernel.errno === 'ok') {
      const text = result ? await triggerFileText(result) : '';
      const readback = text.split('\n').filter((l) => l !== '').map((l) => `${l.slice(`${OURS}/w:`.length)}\n`).join('');
      t.same({ taken: result !== undefined, readback }, { taken: true, readback: kernel.readback }, `${writes.join(' ; ')}: taken, same readback (${stderr.trim()})`);
    } else {
      t.equal(result, undefined, `${writes.join(' ; ')}: refused (kernel: ${kernel.errno}; ours: ${stderr.trim()})`);
      if (!/error:/.test(stderr)) t.match(stderr, kernel.errno, 'the same errno');
    }
  }
});
