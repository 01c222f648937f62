// The kernel's own dynamic-event tracer as a test oracle: define events in
// kprobe_events or uprobe_events, enable them in a private tracing
// instance, run an action, collect the instance's `trace` lines and each
// event's `format`, then remove everything this module created. Differential
// tests run the same definitions through kprobe-bpf and compare
// comparable() lines and format files with what the kernel produced.
//
// Tracing state is global: call traceWithKernel inside withKernelLock
// (test/lib/kernel.ts) unless `lock: true` is passed (the lock is a mkdir,
// not reentrant, so never both).
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmdirSync, writeFileSync, writeSync } from 'node:fs';
import { TRACEFS, ensureTracefs, withKernelLock } from '../lib/kernel.js';

/** 'fprobe': fprobe (f) and tracepoint probe (t) events, which only dynamic_events takes (6.5). */
export type ProbeKind = 'kprobe' | 'uprobe' | 'fprobe';

/** The control file each kind of definition is written to (kernel: trace_kprobe.c, trace_uprobe.c, trace_fprobe.c). */
export const EVENTS_FILE: Record<ProbeKind, string> = { kprobe: 'kprobe_events', uprobe: 'uprobe_events', fprobe: 'dynamic_events' };

/** The subsystem name the kernel prefixes its error_log lines with. */
const ERROR_SUBSYS: Record<ProbeKind, string> = { kprobe: 'trace_kprobe', uprobe: 'trace_uprobe', fprobe: 'trace_fprobe' };

/** One event the kernel created, as it reads the definition back. */
export interface DynamicEvent {
  kind: ProbeKind;
  group: string;
  event: string;
  /** The line from kprobe_events/uprobe_events, e.g. `p:kprobes/open do_sys_openat2 dfd=%di`. */
  readback: string;
}

/** One line of a `trace` file, split the way trace_output.c prints its context columns. */
export interface TraceLine {
  raw: string;
  comm: string;
  pid: number;
  cpu: number;
  /** The irqs-off/need-resched/hardirq/preempt/migrate column; absent when the irq-info option is off. */
  flags: string | undefined;
  timestamp: string;
  /** Everything after `timestamp: `: `EVENT: (IP) ARGS`. */
  body: string;
}

export interface KernelTrace {
  events: DynamicEvent[];
  /** `group/event` -> the event's `format` file. */
  formats: Record<string, string>;
  lines: TraceLine[];
  /** lines through comparable(): no timestamp, no flags column. */
  comparable: string[];
  /** Non-event lines the trace held, such as `CPU:1 [LOST 12 EVENTS]`: a clean run has none. */
  other: string[];
}

export interface KernelTraceOptions {
  kind: ProbeKind;
  /** Lines for kprobe_events/uprobe_events, each written on its own (a bad one fails alone). */
  definitions: string[];
  /** Makes the events fire; the trace is read once it settles. */
  action: () => unknown | Promise<unknown>;
  /** Only events of these pids are recorded (the instance's set_event_pid). */
  pids?: number[];
  /** Take the kernel-state lock around the whole run. */
  lock?: boolean;
  tracefs?: string;
}

/** A definition the kernel refused, with the error_log entry it appended. */
export class DynamicEventError extends Error {
  constructor(readonly definition: string, readonly errno: string, readonly errorLog: string) {
    super(`kernel refused ${JSON.stringify(definition)} (${errno})${errorLog ? `:\n${errorLog}` : ''}`);
    this.name = 'DynamicEventError';
  }
}

// trace_print_context(): "%16s-%-7d ", optional "(%7s) " tgid column, "[%03d] ",
// the lat flags when irq-info is set, then "%5lu.%06lu: ". comm may hold
// spaces and dashes: the pid is the last "-digits" before the cpu column.
const TRACE_LINE = /^\s*(.*)-(\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[(\d+)\]\s+(?:(\S+)\s+)?(\d+\.\d+):\s(.*)$/;

export function parseTraceLine(raw: string): TraceLine | undefined {
  const m = TRACE_LINE.exec(raw);
  if (!m) return undefined;
  return { raw, comm: m[1]!, pid: Number(m[2]), cpu: Number(m[3]), flags: m[4], timestamp: m[5]!, body: m[6]! };
}

/** Splits a whole `trace` file: comment header dropped, event lines parsed, the rest kept aside. */
export function parseTrace(text: string): { lines: TraceLine[]; other: string[] } {
  const lines: TraceLine[] = [];
  const other: string[] = [];
  for (const raw of text.split('\n')) {
    if (raw === '' || raw.startsWith('#')) continue;
    const line = parseTraceLine(raw);
    if (line) lines.push(line);
    else other.push(raw);
  }
  return { lines, other };
}

export interface ComparableOptions {
  /** Keep `[CPU]` (default true): drop it when the two runs may land on different CPUs. */
  cpu?: boolean;
  /** Keep `comm-pid` (default true): drop the pid when the two runs traced different processes. */
  pid?: boolean;
}

/** A trace line without its timestamp and flags column: `comm-pid [cpu] EVENT: (IP) ARGS`. */
export function comparable(line: TraceLine, opts: ComparableOptions = {}): string {
  const who = opts.pid === false ? line.comm : `${line.comm}-${line.pid}`;
  return opts.cpu === false ? `${who} ${line.body}` : `${who} [${String(line.cpu).padStart(3, '0')}] ${line.body}`;
}

/** A format file without its `ID:` line, which numbers events in creation order. */
export function formatWithoutId(format: string): string {
  return format.replace(/^ID: \d+\n/m, '');
}

// "p:GRP/EVENT ...", "r10:GRP/EVENT ..." as kprobe_events and uprobe_events print them.
const READBACK = /^[prft]\d*:([^/\s]+)\/(\S+)\s/;

function readLines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
}

/** The kernel's dynamic events of one kind, as it reads them back. */
export function listEvents(kind: ProbeKind, tracefs = TRACEFS): DynamicEvent[] {
  const out: DynamicEvent[] = [];
  for (const readback of readLines(`${tracefs}/${EVENTS_FILE[kind]}`)) {
    const m = READBACK.exec(readback);
    // dynamic_events lists every kind: an fprobe listing keeps the f and t lines
    if (kind === 'fprobe' && !/^[ft]/.test(readback)) continue;
    if (m) out.push({ kind, group: m[1]!, event: m[2]!, readback });
  }
  return out;
}

/** The last error_log entry from this kind's subsystem, without its timestamp. */
export function lastErrorLog(kind: ProbeKind, tracefs = TRACEFS): string {
  const text = existsSync(`${tracefs}/error_log`) ? readFileSync(`${tracefs}/error_log`, 'utf8') : '';
  const entries = text.split(/^(?=\[\s*\d+\.\d+\] )/m).filter((e) => e.includes(`${ERROR_SUBSYS[kind]}: `));
  const last = entries.at(-1);
  return last ? last.replace(/^\[\s*\d+\.\d+\] /, '').trimEnd() : '';
}

/**
 * Writes one line to kprobe_events/uprobe_events the way `echo LINE >>`
 * does: O_APPEND, never O_TRUNC, which would delete every event of that kind.
 * Throws DynamicEventError with the kernel's error_log entry when refused.
 */
export function writeDynamicEvent(kind: ProbeKind, line: string, tracefs = TRACEFS): void {
  const before = lastErrorLog(kind, tracefs);
  try {
    writeFileSync(`${tracefs}/${EVENTS_FILE[kind]}`, `${line}\n`, { flag: 'a' });
  } catch (e) {
    const after = lastErrorLog(kind, tracefs);
    throw new DynamicEventError(line, (e as NodeJS.ErrnoException).code ?? String(e), after !== before ? after : '');
  }
}

/** Defines each line; returns the events that appeared. On a refusal, removes what it created, then throws. */
export function defineEvents(kind: ProbeKind, definitions: string[], tracefs = TRACEFS): DynamicEvent[] {
  const key = (e: DynamicEvent) => `${e.group}/${e.event}`;
  const existing = new Set(listEvents(kind, tracefs).map(key));
  const created = () => listEvents(kind, tracefs).filter((e) => !existing.has(key(e)));
  try {
    for (const line of definitions) writeDynamicEvent(kind, line, tracefs);
  } catch (e) {
    removeEvents(created(), tracefs);
    throw e;
  }
  return created();
}

/** Removes events with `-:GRP/EVENT`; reports every one that would not go. */
export function removeEvents(events: DynamicEvent[], tracefs = TRACEFS): void {
  const failures: string[] = [];
  for (const e of events) {
    try {
      writeDynamicEvent(e.kind, `-:${e.group}/${e.event}`, tracefs);
    } catch (err) {
      failures.push((err as Error).message);
    }
  }
  if (failures.length) throw new Error(`could not remove dynamic events:\n${failures.join('\n')}`);
}

let instanceSeq = 0;

/**
 * A private ftrace instance (tracefs instances/NAME): its own ring buffer,
 * its own enable switches and pid filter, so a test reads only its events
 * and leaves the top-level buffer of everyone else alone.
 */
export class TraceInstance {
  readonly dir: string;
  private readonly enabled: string[] = [];
  /**
   * The instance's tracing_on, opened once: switching recording on and off
   * is then a write(), not an open(), so probes on the open path (the
   * obvious first thing to probe) do not record the test's own bookkeeping.
   */
  private readonly onFd: number;

  constructor(readonly tracefs = TRACEFS) {
    this.dir = `${tracefs}/instances/kbpf-${process.pid}-${++instanceSeq}`;
    mkdirSync(this.dir);
    try {
      this.onFd = openSync(`${this.dir}/tracing_on`, 'w');
      writeSync(this.onFd, '0');
    } catch (e) {
      rmdirSync(this.dir);
      throw e;
    }
  }

  setPids(pids: number[]): void {
    writeFileSync(`${this.dir}/set_event_pid`, pids.join(' '));
  }

  /** Enables an event in this instance; nothing is recorded before start(). */
  enable(e: DynamicEvent): void {
    const file = `${this.dir}/events/${e.group}/${e.event}/enable`;
    writeFileSync(file, '1');
    this.enabled.push(file);
  }

  start(): void {
    writeSync(this.onFd, '1');
  }

  stop(): void {
    writeSync(this.onFd, '0');
  }

  read(): string {
    return readFileSync(`${this.dir}/trace`, 'utf8');
  }

  /** Disables what it enabled and removes the instance (rmdir fails while events are on). */
  destroy(): void {
    closeSync(this.onFd);
    for (const file of this.enabled.splice(0)) writeFileSync(file, '0');
    rmdirSync(this.dir);
  }
}

/** Reason the kernel's tracer of this kind cannot be used here, or undefined. */
export function dynamicEventsSkipReason(kind: ProbeKind, tracefs = TRACEFS): string | undefined {
  const r = ensureTracefs();
  if (r) return r;
  if (!existsSync(`${tracefs}/${EVENTS_FILE[kind]}`)) {
    return `kernel has no ${EVENTS_FILE[kind]} (CONFIG_${kind.toUpperCase()}_EVENTS off)`;
  }
  if (!existsSync(`${tracefs}/instances`)) return 'tracefs has no instances directory';
  return undefined;
}

async function traceUnlocked(opts: KernelTraceOptions): Promise<KernelTrace> {
  const tracefs = opts.tracefs ?? TRACEFS;
  const instance = new TraceInstance(tracefs);
  let events: DynamicEvent[] = [];
  try {
    events = defineEvents(opts.kind, opts.definitions, tracefs);
    const formats: Record<string, string> = {};
    for (const e of events) formats[`${e.group}/${e.event}`] = readFileSync(`${tracefs}/events/${e.group}/${e.event}/format`, 'utf8');
    if (opts.pids) instance.setPids(opts.pids);
    for (const e of events) instance.enable(e);
    instance.start();
    try {
      await opts.action();
    } finally {
      instance.stop();
    }
    const { lines, other } = parseTrace(instance.read());
    return { events, formats, lines, comparable: lines.map((l) => comparable(l)), other };
  } finally {
    // Events must be off in every instance before the kernel lets them go.
    try {
      instance.destroy();
    } finally {
      removeEvents(events, tracefs);
    }
  }
}

/** Runs definitions through the kernel's own tracer around action; see the module comment. */
export function traceWithKernel(opts: KernelTraceOptions): Promise<KernelTrace> {
  return opts.lock ? withKernelLock(() => traceUnlocked(opts)) : traceUnlocked(opts);
}

/** Events of this process's making left behind, for a test's final leak check. */
export function leftoverInstances(tracefs = TRACEFS): string[] {
  const dir = `${tracefs}/instances`;
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith(`kbpf-${process.pid}-`)) : [];
}
