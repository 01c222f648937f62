// `kprobe-bpf trace` end to end: load the object through libbpf (wasm), hand
// the perf event array its per-CPU rings, attach every probe, print until
// stopped, and leave nothing behind whatever happens.
import type { ProbeDefinition } from '../grammar/ast.js';
import { eventsOfObject, type EventMetadata } from '../compiler/metadata.js';
import { EVENTS_MAP, MISSES_MAP } from '../compiler/codegen.js';
import { kprobeSupportProblem } from './attach/index.js';
import { launchHeld, type HeldCommand } from './launch.js';
import { BpfObject } from './loader.js';
import { mapLookupPerCpuU64Sum, mapUpdateU32 } from './sys/index.js';
import { TraceSession, type SessionEvent } from './trace-session.js';

export interface TraceOptions {
  readonly object: Uint8Array;
  readonly command?: readonly string[];
  readonly pid?: number;
  readonly durationMs?: number;
  readonly json: boolean;
  readonly mode: 'trace' | 'pipe';
  readonly profile: boolean;
}

const say = (msg: string) => process.stderr.write(`kprobe-bpf trace: ${msg}\n`);

/**
 * Drops kprobe events when the kernel cannot attach kprobes, saying why, so
 * the uprobe events still run (the kernel itself would refuse only those lines).
 */
function attachable(events: readonly EventMetadata[]): EventMetadata[] {
  const kernelProblem = events.some((e) => e.format.definition.tracer === 'kprobe') ? kprobeSupportProblem() : undefined;
  if (!kernelProblem) return [...events];
  for (const e of events) {
    if (e.format.definition.tracer === 'kprobe') say(`${e.format.group}/${e.format.event}: not attached: ${kernelProblem}`);
  }
  return events.filter((e) => e.format.definition.tracer !== 'kprobe');
}

/** Runs a trace; resolves to the exit code. */
export async function runTrace(opts: TraceOptions): Promise<number> {
  const all = eventsOfObject(opts.object);
  const events = attachable(all);
  if (events.length === 0) {
    say('no event can be attached on this kernel');
    return 1;
  }
  const obj = BpfObject.open(opts.object, { name: 'kprobe_bpf' });
  let held: HeldCommand | undefined;
  let released = false;
  try {
    // kprobe programs that cannot be attached are not loaded either
    const wanted = new Set(events.map((e) => e.program));
    for (const p of obj.programs()) if (!wanted.has(p.name)) obj.setAutoload(p.name, false);
    const loaded = obj.load();
    if (!loaded.ok) {
      const bad = loaded.programs.find((p) => !p.loaded && p.log);
      say(`loading failed: ${loaded.error || `errno ${loaded.errno}`}${bad ? `\n${bad.name}: verifier log:\n${bad.log}` : ''}`);
      say("run 'kprobe-bpf check' with the same input for the log mapped to each fetch argument");
      return 1;
    }
    const perfMap = loaded.maps.find((m) => m.name === EVENTS_MAP);
    if (!perfMap) throw new Error(`object has no '${EVENTS_MAP}' map`);
    const missesMap = loaded.maps.find((m) => m.name === MISSES_MAP);
    const fdOf = new Map(loaded.programs.map((p) => [p.name, p.fd]));
    const sessionEvents: SessionEvent[] = events.map((e) => ({
      def: e.format.definition as ProbeDefinition,
      format: e.format,
      typeId: e.id,
      progFd: fdOf.get(e.program) ?? -1,
    }));
    if (opts.command) held = await launchHeld(opts.command);
    const h = held;
    const pid = h?.pid ?? opts.pid;
    const session = new TraceSession(sessionEvents, (cpu, fd) => mapUpdateU32(perfMap.fd, cpu, fd), {
      json: opts.json,
      mode: opts.mode,
      profile: opts.profile,
      ...(missesMap ? { missesOf: (id: number) => Number(mapLookupPerCpuU64Sum(missesMap.fd, id)) } : {}),
      ...(pid !== undefined ? { scope: { pid } } : {}),
      ...(opts.durationMs !== undefined ? { durationMs: opts.durationMs } : {}),
      ...(h ? { until: h.exited, onAttached: () => { released = true; h.release(); } } : {}),
    });
    session.attach();
    const summary = await session.run();
    const lost = [...summary.lost.values()].reduce((a, b) => a + b, 0);
    if (lost > 0) {
      const perCpu = [...summary.lost].map(([cpu, n]) => `cpu${cpu}: ${n}`).join(', ');
      say(`${lost} events lost (${perCpu}): the rings filled faster than they were read`);
    }
    if (summary.stoppedBy === 'signal') return 130;
    if (h && summary.stoppedBy === 'until') return 0;
    return 0;
  } finally {
    if (held && !released) held.kill('SIGKILL');
    obj.close();
  }
}
