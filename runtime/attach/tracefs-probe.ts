// Probes made the old way: a line written to tracefs kprobe_events /
// uprobe_events creates a trace event, perf_event_open(PERF_TYPE_TRACEPOINT,
// its id) makes it a perf event a BPF program can attach to. Used for kprobes
// when the kprobe PMU is missing or maxactive is asked for (the PMU cannot
// carry it). The entry is always removed again: on close, and right away if
// opening the perf event fails.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { PERF_SAMPLE_RAW, PERF_TYPE_TRACEPOINT, onlineCpus, perfEventOpen } from '../sys/index.js';
import { PerfProbe, openAll, scopeTargets, type ProbeKindName, type Scope } from './probe.js';
import { ProbeSetupError } from './errors.js';
import { tracefsRoot } from '../tracefs-root.js';

export { TRACEFS_ROOT, tracefsRoot } from '../tracefs-root.js';

/** Group our tracefs entries live in: one per process, so concurrent tracers never collide. */
export function ownGroup(): string {
  return `kprobe_bpf_${process.pid}`;
}

let serial = 0;
/** A fresh event name in ownGroup(): the kernel's limit is 64 chars (MAX_EVENT_NAME_LEN). */
export function ownEventName(base: string): string {
  const clean = base.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 40);
  return `${clean}_${serial++}`;
}

export interface TracefsProbeSpec {
  readonly tracer: 'kprobe' | 'uprobe';
  readonly kind: ProbeKindName;
  /** The definition without its name: "p SYM+0", "r16 SYM", "p /bin/x:0x1149" ("p"/"r[N]" then the point). */
  readonly command: string;
  readonly point: string;
  readonly base: string;
}

/** Creates the tracefs entry, opens its perf event(s), returns the attachment that removes both. */
export function attachTracefsProbe(spec: TracefsProbeSpec, scope: Scope): PerfProbe {
  const root = tracefsRoot();
  const file = `${root}/${spec.tracer}_events`;
  if (!root || !existsSync(file)) throw new ProbeSetupError(`${spec.tracer} ${spec.point}: tracefs has no ${spec.tracer}_events`);
  const group = ownGroup();
  const event = ownEventName(spec.base);
  const line = `${spec.command}:${group}/${event} ${spec.point}`;
  const remove = (): void => {
    if (existsSync(`${root}/events/${group}/${event}`)) appendFileSync(file, `-:${group}/${event}\n`);
  };
  try {
    appendFileSync(file, line + '\n');
  } catch (e) {
    const log = lastErrorLogLine(root);
    throw new ProbeSetupError(`${spec.kind} ${spec.point}: the kernel refused '${line}' in ${file}: ${(e as Error).message}${log ? `\n${log}` : ''}`, { cause: e });
  }
  try {
    const id = BigInt(readFileSync(`${root}/events/${group}/${event}/id`, 'utf8').trim());
    const fds = openAll(scopeTargets(scope, onlineCpus), (pid, cpu) =>
      perfEventOpen({ type: PERF_TYPE_TRACEPOINT, config: id, samplePeriod: 1n, sampleType: PERF_SAMPLE_RAW, flags: ['disabled'] }, pid, cpu, -1, `perf_event_open(${spec.kind} ${spec.point})`),
    );
    return new PerfProbe(spec.kind, `${spec.kind} ${spec.point} (tracefs ${group}/${event})`, fds, remove);
  } catch (e) {
    remove();
    throw e;
  }
}

/** The last error the kernel logged for a tracefs write (tracing/error_log), for messages. */
function lastErrorLogLine(root: string): string | undefined {
  try {
    const lines = readFileSync(`${root}/error_log`, 'utf8').split('\n').filter(Boolean);
    return lines.slice(-3).join('\n') || undefined;
  } catch {
    return undefined;
  }
}
