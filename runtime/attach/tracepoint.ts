// Event probes run as a BPF program on the attached event's tracepoint: a
// PERF_TYPE_TRACEPOINT perf event whose config is the event's id (tracefs
// events/SYS/EVENT/id). The kernel runs the program for every hit on every
// CPU (trace_call_bpf over the event's program array), whichever CPU or task
// the perf event is bound to. Nothing is created in tracefs.
import { readFileSync } from 'node:fs';
import type { ProbeSite } from '../../compiler/abi.js';
import { PERF_SAMPLE_RAW, PERF_TYPE_TRACEPOINT, onlineCpus, perfEventOpen } from '../sys/index.js';
import { ProbeSetupError } from './errors.js';
import { openAll, PerfProbe, scopeTargets, type ProbeAttachment, type Scope } from './probe.js';
import { TRACEFS_ROOT } from './tracefs-probe.js';

/** The trace event id of SYSTEM/EVENT, as perf_event_open's config for a tracepoint. */
export function tracepointId(system: string, event: string, root = TRACEFS_ROOT): bigint {
  const file = `${root}/events/${system}/${event}/id`;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ProbeSetupError(`event ${system}/${event}: cannot read its id from ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); is tracefs mounted?`, { cause: e });
  }
  return BigInt(text.trim());
}

export function attachTracepoint(def: ProbeSite, scope: Scope = {}, root = TRACEFS_ROOT): ProbeAttachment {
  const p = def.point;
  if (p.kind !== 'event') throw new ProbeSetupError(`eprobe ${def.group}/${def.event}: probe point is not a trace event`);
  const where = `${p.system}/${p.event}`;
  const config = tracepointId(p.system, p.event, root);
  const fds = openAll(scopeTargets(scope, onlineCpus), (pid, cpu) =>
    perfEventOpen({ type: PERF_TYPE_TRACEPOINT, config, samplePeriod: 1n, sampleType: PERF_SAMPLE_RAW, flags: ['disabled'] }, pid, cpu, -1, `tracepoint ${where}: perf_event_open`));
  return new PerfProbe('tracepoint', `tracepoint ${where} (eprobe ${def.group}/${def.event})`, fds);
}
