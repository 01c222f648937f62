// `kprobe-bpf trace` end to end: load the object through libbpf (wasm), hand
// the perf event array its per-CPU rings, attach every probe, print until
// stopped, and leave nothing behind whatever happens. One attempt runs in
// named phases (events → load → programs → session → report) and ends in a
// value: an exit code, or the kernel refusing sleepable programs, which
// runTrace answers by compiling the lines again without them.
import os from 'node:os';
import { EVENTS_MAP, FILTERED_MAP, MISSES_MAP, RINGBUF_MAP, SCOPE_FORK_PROGRAM, SCOPE_MAP, type EventMetadata } from '../compiler/abi.js';
import { eventsOfObject, probeSiteOf } from '../compiler/metadata.js';
import { LINUX_ERRNO } from '../lib/errno.js';
import { KprobeBpfError, findCause } from '../lib/errors.js';
import { AttachError, kprobeSupportProblem, uprobeGroupsWanted, uprobeMultiProblem } from './attach/index.js';
import { tracefsRoot } from './attach/tracefs-probe.js';
import { attachForkFollower } from './attach/fork-follow.js';
import type { PerfProbe } from './attach/probe.js';
import { launchHeld, type HeldCommand } from './launch.js';
import { stderrLogger, type LogLevel, type Logger } from './bridge/logger.js';
import { BpfObject } from './loader.js';
import { mapLookupPerCpuU64Sum, mapUpdateU32 } from './sys/index.js';
import { loadForTrace, TRAMPOLINE_REFUSALS, type TraceLoad, type TraceMap } from './trace-load.js';
import { isFunctionTrampolineSection, trampolineFunctionOf } from '../compiler/trampoline.js';
import { errnoName } from '../lib/errno.js';
import { collectGarbage } from '../lib/gc.js';
import { limitInlining } from '../lib/inlining.js';
import { dropCleanFilePages } from './memory-trim.js';
import type { TraceDatOutput } from './trace-dat/output.js';
import { TraceSession, type SessionEvent, type SessionSummary } from './trace-session.js';
import { clockOffsetSoon, type ClockOffset, type TraceClock } from './trace-clock.js';
import type { HistPlan } from '../compiler/hist-layout.js';

export interface TraceOptions {
  readonly object: Uint8Array;
  readonly command?: readonly string[];
  readonly pid?: number;
  readonly durationMs?: number;
  readonly json: boolean;
  readonly mode: 'trace' | 'pipe';
  readonly profile: boolean;
  /** The trace clock lines print on (default `local`, ftrace's default). */
  readonly clock?: TraceClock;
  /** That clock's offset, when the caller started measuring it ahead (clockOffsetSoon, beside the compile). */
  readonly clockOffset?: Promise<ClockOffset>;
  /** Each pid's last name seen instead of the name at the hit (ftrace's saved_cmdlines). */
  readonly ftraceComm?: boolean;
  /**
   * The same lines compiled again, for a kernel that refuses what the first
   * object had: without sleepable programs unless `sleepable` (sleepable
   * uprobes refused), with kprobe/kretprobe programs instead of fentry/fexit
   * ones for `noTrampoline`'s functions (their trampoline refused); absent
   * for an object file input.
   */
  readonly recompile?: (sleepable: boolean, noTrampoline: ReadonlySet<string>) => Uint8Array;
  /** -o FILE.dat: also write the printed records as trace-cmd's trace.dat. */
  readonly output?: string;
  /** Print nothing on stdout (with output: only the file). */
  readonly quiet?: boolean;
  /** Also hands each printed record, as read from its ring (prefix and trace entry, at the length the ring holds), to this. */
  readonly records?: (raw: Buffer, off: number, len: number) => void;
  /** Hist triggers: their tables are printed when the trace stops, and every intervalMs if given (runtime/hist/). */
  readonly hist?: { readonly plans: readonly HistPlan[]; readonly intervalMs?: number };
}

/** The object lacks something every object `compile` writes has. */
export class TraceObjectError extends KprobeBpfError {}

/**
 * How one attempt ended: an exit code, the kernel refusing the object's
 * sleepable programs, or its fentry/fexit programs (why, for the message).
 */
type Attempt =
  | { readonly exit: number }
  | { readonly sleepableRefused: string }
  /** functions: the [MOD:]SYMs whose trampoline was refused, when the refusal named one. */
  | { readonly trampolineRefused: string; readonly functions?: readonly string[] };


const say = (msg: string) => process.stderr.write(`kprobe-bpf trace: ${msg}\n`);

/**
 * libbpf's messages, held back while the object has sleepable programs until
 * we know they are not about programs this kernel refuses (then the fallback
 * replaces them and they are dropped).
 */
class LibbpfLog {
  private readonly held: [LogLevel, string][] = [];
  private dropped = false;
  constructor(private readonly hold: boolean) {}
  get logger(): Logger | undefined {
    return this.hold ? (level, msg) => void this.held.push([level, msg]) : undefined;
  }
  flush(): void {
    if (!this.dropped) for (const [level, msg] of this.held.splice(0)) stderrLogger(level, msg);
  }
  drop(): void {
    this.dropped = true;
    this.held.length = 0;
  }
}

/**
 * Drops kprobe events when the kernel cannot attach kprobes, saying why, so
 * the uprobe events still run (the kernel itself would refuse only those lines).
 */
function attachable(events: readonly EventMetadata[], said: Set<string>): EventMetadata[] {
  // a kprobe program's section (a kprobe event, or an fprobe on the fallback; not a kprobe on fentry/fexit)
  const isKprobe = (e: EventMetadata) => /^kretprobe\/|^kprobe\//.test(e.section);
  const kernelProblem = events.some(isKprobe) ? kprobeSupportProblem() : undefined;
  if (!kernelProblem) return [...events];
  for (const e of events) {
    const line = `${e.format.group}/${e.format.event}: not attached: ${kernelProblem}`;
    // once per run, though a fallback makes more attempts
    if (isKprobe(e) && !said.has(line)) { said.add(line); say(line); }
  }
  return events.filter((e) => !isKprobe(e));
}

/** Rounds of recompiling (sleepable refused, each function's trampoline refused) before giving up. */
const MAX_ATTEMPTS = 8;

/**
 * Runs a trace; resolves to the exit code. Sleepable uprobe programs need
 * Linux 6.0+: when the kernel refuses them (EINVAL at load or attach), lines
 * are compiled again without them (once, said on stderr); an object file
 * cannot be, and the message names --no-sleepable. When the kernel refuses
 * the fentry/fexit program of a kprobe or fprobe event (at load or attach),
 * the lines are compiled again with kprobe/kretprobe programs for the events
 * on that function, which print the same records; one stderr line names
 * every event that fell back and why.
 */
export async function runTrace(opts: TraceOptions): Promise<number> {
  // module loading, parsing and compiling are done: their code pages out of RSS before libbpf's wasm comes in
  dropCleanFilePages();
  const original = eventsOfObject(opts.object);
  let object = opts.object;
  let sleepable = true;
  const refused = new Set<string>();
  const reasons: string[] = [];
  const said = new Set<string>();
  let announced = false;
  const announce = () => {
    if (announced || refused.size === 0) return;
    announced = true;
    const events = original.filter((e) => refused.has(trampolineFunctionOf(e.section) ?? '')).map((e) => `${e.format.group}/${e.format.event}`);
    say(`${events.length === 1 ? 'event' : 'events'} ${events.join(', ')}: kprobe/kretprobe programs instead of fentry/fexit (${reasons.join('; ')})`);
  };
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const result = await traceOnce({ ...opts, object }, announce, said);
    if ('exit' in result) {
      announce();
      return result.exit;
    }
    if ('sleepableRefused' in result) {
      const why = `${result.sleepableRefused}: this kernel does not run sleepable uprobe programs (Linux 6.0+)`;
      if (!sleepable || !opts.recompile) {
        say(sleepable ? `${why}; compile the object with 'kprobe-bpf compile --no-sleepable'` : result.sleepableRefused);
        return 1;
      }
      say(`${why}; using non-sleepable ones, so strings in pages the process has not touched yet print (fault)`);
      sleepable = false;
      object = opts.recompile(false, refused);
      continue;
    }
    // the trampoline refused: the events on that function (all of them when no program was named) fall back
    const current = eventsOfObject(object).flatMap((e) => trampolineFunctionOf(e.section) ?? []);
    const functions = (result.functions ?? current).filter((f) => !refused.has(f));
    if (!opts.recompile) {
      say(`${result.trampolineRefused}: the kernel refuses the BPF trampoline for ${[...new Set(current)].join(', ')}; compile the object with KPROBE_BPF_TRAMPOLINE=0 for kprobe/kretprobe programs`);
      return 1;
    }
    if (functions.length === 0) {
      say(result.trampolineRefused);
      return 1;
    }
    for (const f of functions) refused.add(f);
    reasons.push(`${[...new Set(functions)].join(', ')}: ${result.trampolineRefused}`);
    object = opts.recompile(sleepable, refused);
  }
  say('the kernel kept refusing the compiled programs; giving up');
  return 1;
}

/** One attempt: the object's events, then load, then trace; the object is closed whatever happens. */
async function traceOnce(opts: TraceOptions, attached: () => void = () => {}, said = new Set<string>()): Promise<Attempt> {
  const all = eventsOfObject(opts.object);
  const sleepable = all.some((e) => e.sleepable);
  const trampolines = all.some((e) => isFunctionTrampolineSection(e.section));
  const events = attachable(all, said);
  if (events.length === 0) {
    say('no event can be attached on this kernel');
    return { exit: 1 };
  }
  // libbpf's messages are held while a fallback may replace what they are about
  const log = new LibbpfLog(sleepable || trampolines);
  const logger = log.logger;
  const obj = BpfObject.open(opts.object, { name: 'kprobe_bpf', ...(logger ? { logger } : {}) });
  try {
    const attempt = await loadAndTrace(obj, events, { sleepable, trampolines }, opts, log, attached);
    if (!('exit' in attempt)) log.drop();
    return attempt;
  } finally {
    obj.close();
    log.flush();
  }
}

/** Loads the wanted programs; traces when every event has its program. */
async function loadAndTrace(
  obj: BpfObject, events: readonly EventMetadata[], kinds: { sleepable: boolean; trampolines: boolean }, opts: TraceOptions, log: LibbpfLog, attached: () => void,
): Promise<Attempt> {
  const { sleepable } = kinds;
  // a return kprobe's entry program (it saves entry arguments) is loaded with its event's
  // uprobes through uprobe_multi links where the kernel has them: one grace period per link on detach, not several per perf event
  const multi = events.some((e) => e.format.tracer === 'uprobe') && uprobeMultiProblem(sleepable) === undefined;
  // the -c command's fork follower, when the object has one (trace -c compiles it in) and there is a command
  const forkProgram = opts.command && obj.programs().some((p) => p.name === SCOPE_FORK_PROGRAM) ? [SCOPE_FORK_PROGRAM] : [];
  const load = loadForTrace(obj, new Set([...events.flatMap((e) => (e.entryProgram !== undefined ? [e.program, e.entryProgram] : [e.program])), ...forkProgram]), sleepable, kinds.trampolines, multi);
  if (load.kind === 'sleepable-refused') return { sleepableRefused: load.reason };
  if (load.kind === 'trampoline-refused') {
    const f = load.section === undefined ? undefined : trampolineFunctionOf(load.section);
    return { trampolineRefused: load.reason, ...(f !== undefined ? { functions: [f] } : {}) };
  }
  log.flush();
  if (load.kind === 'failed') {
    say(load.message);
    say("run 'kprobe-bpf check' with the same input for the log mapped to each fetch argument");
    return { exit: 1 };
  }
  const unloaded = events.find((e) => !load.programFds.has(e.program));
  if (unloaded) {
    say(`${unloaded.format.group}/${unloaded.format.event}: program ${unloaded.program} was not loaded (the object has no such BPF program); nothing attached`);
    return { exit: 1 };
  }
  // nothing after the load asks libbpf anything: its wasm memory and code go before the trace's GC (issue 13)
  obj.dropLibbpf();
  return traceLoaded(events, load, kinds, opts, attached);
}

/** The maps every trace object has (the perf event array) and may have (misses, ring buffer). */
function traceMaps(maps: ReadonlyMap<string, TraceMap>): { perf: TraceMap; misses?: TraceMap; ring?: TraceMap; filtered?: TraceMap } {
  const perf = maps.get(EVENTS_MAP);
  if (!perf) throw new TraceObjectError(`object has no '${EVENTS_MAP}' map`);
  const misses = maps.get(MISSES_MAP);
  const ring = maps.get(RINGBUF_MAP);
  const filtered = maps.get(FILTERED_MAP);
  return { perf, ...(misses ? { misses } : {}), ...(ring ? { ring } : {}), ...(filtered ? { filtered } : {}) };
}

/** Starts the -c command held, opens the session, attaches, runs until stopped, reports. */
async function traceLoaded(
  events: readonly EventMetadata[],
  { programFds, maps, uprobeMulti }: Extract<TraceLoad, { kind: 'loaded' }>,
  kinds: { sleepable: boolean; trampolines: boolean },
  opts: TraceOptions,
  attached: () => void,
): Promise<Attempt> {
  const m = traceMaps(maps);
  const sessionEvents: SessionEvent[] = events.map((e) => ({
    def: probeSiteOf(e),
    format: e.format,
    typeId: e.id,
    progFd: programFds.get(e.program)!,
    ...(e.entryProgram !== undefined && programFds.has(e.entryProgram) ? { entryProgFd: programFds.get(e.entryProgram)!, entryUprobeMulti: uprobeMulti.has(e.entryProgram) } : {}),
    uprobeMulti: uprobeMulti.has(e.program),
    sleepable: e.sleepable,
  }));
  const clockSoon = opts.clockOffset ?? clockOffsetSoon(opts.clock ?? 'local', tracefsRoot());
  clockSoon.catch(() => undefined); // awaited below, once the command is started beside it
  const held = opts.command ? await launchHeld(opts.command) : undefined;
  let released = false;
  let follower: PerfProbe | undefined;
  let dat: TraceDatOutput | undefined;
  let finished = false;
  try {
    const clock = await clockSoon;
    // the trace.dat writer (15 modules) is loaded only when -o asks for it
    dat = opts.output !== undefined ? (await import('./trace-dat/output.js')).openTraceDat(opts.output, sessionEvents, { name: clock.clock, offsetNs: clock.offsetNs }) : undefined;
    const pid = held?.pid ?? opts.pid;
    // programs compiled for -p/-c check the tgid themselves: attach for every task (every thread of it too)
    const inProgram = maps.get(SCOPE_MAP);
    if (inProgram && pid !== undefined) mapUpdateU32(inProgram.fd, 0, pid);
    if (held && !inProgram) say("an object file's programs have no scope of their own: -c traces the command's own process only, not the processes it starts");
    // before the command runs: its first fork is followed
    const forkFd = held ? programFds.get(SCOPE_FORK_PROGRAM) : undefined;
    const root = forkFd !== undefined ? tracefsRoot() : undefined;
    if (forkFd !== undefined && root !== undefined) follower = attachForkFollower(forkFd, root);
    const session = new TraceSession(sessionEvents, (cpu, fd) => mapUpdateU32(m.perf.fd, cpu, fd), {
      json: opts.json,
      mode: opts.mode,
      profile: opts.profile,
      clockOffsetNs: clock.offsetNs,
      ftraceComm: opts.ftraceComm ?? false,
      shareUprobeLinks: uprobeGroupsWanted(),
      ...(m.misses ? { missesOf: (id: number) => Number(mapLookupPerCpuU64Sum(m.misses!.fd, id)) } : {}),
      ...(m.filtered ? { filteredOf: (id: number) => Number(mapLookupPerCpuU64Sum(m.filtered!.fd, id)) } : {}),
      ...(m.ring ? { ringBuffer: { fd: m.ring.fd, size: m.ring.maxEntries } } : {}),
      ...(pid !== undefined && !inProgram ? { scope: { pid } } : {}),
      ...(opts.durationMs !== undefined ? { durationMs: opts.durationMs } : {}),
      ...(held ? { until: held.exited, onAttached: () => { released = true; held.release(); } } : {}),
      ...recordSinkOf(dat?.add, opts.records),
      ...(opts.quiet ? { sink: () => {} } : {}),
    });
    const refused = attachOrRefusal(session, kinds);
    if (refused) return refused;
    attached();
    const hist = opts.hist && opts.hist.plans.length > 0 ? await (await import('./hist/print-hist.js')).histPrinter(opts.hist.plans, maps) : undefined;
    const every = hist && opts.hist?.intervalMs !== undefined ? setInterval(hist, opts.hist.intervalMs) : undefined;
    const summary = await session.run().finally(() => clearInterval(every));
    finished = true;
    hist?.();
    if (dat) say(dat.finish());
    reportLosses(summary, events, m.misses && m.ring ? m.misses : undefined);
    return { exit: exitCode(summary, held && released ? held : undefined) };
  } finally {
    follower?.close();
    if (held && !released) held.kill('SIGKILL');
    if (dat && !finished) dat.abandon();
  }
}

/** The session's record sink: the trace.dat writer's, the caller's, or both. */
function recordSinkOf(...sinks: (((raw: Buffer, off: number, len: number) => void) | undefined)[]): { recordSink?: (raw: Buffer, off: number, len: number) => void } {
  const all = sinks.filter((s) => s !== undefined);
  if (all.length === 0) return {};
  if (all.length === 1) return { recordSink: all[0]! };
  return { recordSink: (raw, off, len) => { for (const s of all) s(raw, off, len); } };
}

/**
 * Attaches every probe; the kernel refusing a sleepable program on a probe,
 * or an fentry/fexit link, comes back as a reason (nothing stays attached:
 * the session closes what it made), any other failure is thrown.
 */
function attachOrRefusal(session: TraceSession, kinds: { sleepable: boolean; trampolines: boolean }): Attempt | undefined {
  // process-wide, before any record comes in (the -c command is still held): start-up's garbage
  // out, and the printer's functions optimized in smaller graphs once records come (lib/inlining.ts)
  collectGarbage();
  limitInlining();
  try {
    session.attach();
    return undefined;
  } catch (e) {
    const refused = findCause(e, AttachError);
    // kernel: perf_event_set_bpf_prog refuses a sleepable program it cannot run on the probe (EINVAL)
    if (kinds.sleepable && refused?.op === 'PERF_EVENT_IOC_SET_BPF' && refused.errno === LINUX_ERRNO.EINVAL) return { sleepableRefused: `attaching failed: ${refused.message}` };
    // kernel: bpf_tracing_prog_attach / the ftrace direct call refusing the function's trampoline
    const onTrampoline = refused && /^f(?:entry|exit) (\S+)/.exec(refused.probe);
    if (kinds.trampolines && refused && onTrampoline && TRAMPOLINE_REFUSALS.has(refused.errno)) {
      return { trampolineRefused: `attaching ${refused.probe} failed with ${errnoName(refused.errno)}`, functions: [onTrampoline[1]!] };
    }
    throw e;
  }
}

/** Says on stderr what was lost: per-CPU perf samples, and sleepable programs' records a full ring buffer refused (counted as misses). */
function reportLosses(summary: SessionSummary, events: readonly EventMetadata[], ringMisses: TraceMap | undefined): void {
  const lost = [...summary.lost.values()].reduce((a, b) => a + b, 0);
  if (lost > 0) {
    const perCpu = [...summary.lost].map(([cpu, n]) => `cpu${cpu}: ${n}`).join(', ');
    say(`${lost} events lost (${perCpu}): the rings filled faster than they were read`);
  }
  // Sleepable programs count a record the full ring buffer refused as a miss (no PERF_RECORD_LOST there).
  const dropped = ringMisses
    ? events.filter((e) => e.sleepable).reduce((n, e) => n + Number(mapLookupPerCpuU64Sum(ringMisses.fd, e.id)), 0)
    : 0;
  if (dropped > 0) say(`${dropped} events lost: the ring buffer of the sleepable uprobe programs filled faster than it was read`);
}

/** 0, or after a stop signal the shell's 128 + signo; a released -c command is told to stop too. */
function exitCode(summary: SessionSummary, released: HeldCommand | undefined): number {
  if (summary.stoppedBy !== 'signal') return 0;
  // Like bpftrace -c and timeout(1): the command is told to stop too (a
  // terminal's Ctrl-C reaches it anyway, a `kill` of ours does not), so we
  // do not wait for it.
  const sig = summary.signal ?? 'SIGINT';
  released?.kill(sig);
  return 128 + (os.constants.signals[sig] ?? 2);
}
