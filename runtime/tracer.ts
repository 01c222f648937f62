// `kprobe-bpf trace` end to end: load the object through libbpf (wasm), hand
// the perf event array its per-CPU rings, attach every probe, print until
// stopped, and leave nothing behind whatever happens.
import os from 'node:os';
import { EVENTS_MAP, MISSES_MAP, RINGBUF_MAP, type EventMetadata } from '../compiler/abi.js';
import { eventsOfObject, probeSiteOf } from '../compiler/metadata.js';
import { kprobeSupportProblem } from './attach/index.js';
import { launchHeld, type HeldCommand } from './launch.js';
import { stderrLogger, type LogLevel } from './bridge/logger.js';
import { BpfObject } from './loader.js';
import { SysError, mapLookupPerCpuU64Sum, mapUpdateU32 } from './sys/index.js';
import { TraceSession, type SessionEvent } from './trace-session.js';

export interface TraceOptions {
  readonly object: Uint8Array;
  readonly command?: readonly string[];
  readonly pid?: number;
  readonly durationMs?: number;
  readonly json: boolean;
  readonly mode: 'trace' | 'pipe';
  readonly profile: boolean;
  /**
   * The same lines compiled without sleepable programs, for a kernel that
   * refuses sleepable uprobes; absent for an object file input.
   */
  readonly recompileAtomic?: () => Uint8Array;
}

/** linux errno EINVAL: what a kernel without sleepable uprobe programs answers at load or attach. */
const EINVAL = 22;


/** Raised inside runTrace when the kernel refused the object's sleepable programs. */
class SleepableRefused extends Error {
  override name = 'SleepableRefused';
}

const say = (msg: string) => process.stderr.write(`kprobe-bpf trace: ${msg}\n`);

/**
 * Drops kprobe events when the kernel cannot attach kprobes, saying why, so
 * the uprobe events still run (the kernel itself would refuse only those lines).
 */
function attachable(events: readonly EventMetadata[]): EventMetadata[] {
  const kernelProblem = events.some((e) => e.format.tracer === 'kprobe') ? kprobeSupportProblem() : undefined;
  if (!kernelProblem) return [...events];
  for (const e of events) {
    if (e.format.tracer === 'kprobe') say(`${e.format.group}/${e.format.event}: not attached: ${kernelProblem}`);
  }
  return events.filter((e) => e.format.tracer !== 'kprobe');
}

/**
 * Runs a trace; resolves to the exit code. Sleepable uprobe programs need
 * Linux 6.0+: when the kernel refuses them (EINVAL at load or attach), lines
 * are compiled again without them (once, said on stderr); an object file
 * cannot be, and the message names --no-sleepable.
 */
export async function runTrace(opts: TraceOptions): Promise<number> {
  try {
    return await traceOnce(opts);
  } catch (e) {
    if (!(e instanceof SleepableRefused)) throw e;
    if (!opts.recompileAtomic) {
      say(`${e.message}: this kernel does not run sleepable uprobe programs (Linux 6.0+); compile the object with 'kprobe-bpf compile --no-sleepable'`);
      return 1;
    }
    say(`${e.message}: this kernel does not run sleepable uprobe programs (Linux 6.0+); using non-sleepable ones, so strings in pages the process has not touched yet print (fault)`);
    const { recompileAtomic: _, ...rest } = opts;
    return traceOnce({ ...rest, object: opts.recompileAtomic() });
  }
}

async function traceOnce(opts: TraceOptions): Promise<number> {
  const all = eventsOfObject(opts.object);
  const sleepable = all.some((e) => e.sleepable);
  const events = attachable(all);
  if (events.length === 0) {
    say('no event can be attached on this kernel');
    return 1;
  }
  // libbpf's messages wait until we know they are not about sleepable
  // programs this kernel refuses (then the fallback replaces them)
  const libbpfLog: [LogLevel, string][] = [];
  const obj = BpfObject.open(opts.object, { name: 'kprobe_bpf', ...(sleepable ? { logger: (level: LogLevel, msg: string) => void libbpfLog.push([level, msg]) } : {}) });
  const flushLog = () => { for (const [level, msg] of libbpfLog.splice(0)) stderrLogger(level, msg); };
  let refused = false;
  let held: HeldCommand | undefined;
  let released = false;
  try {
    // kprobe programs that cannot be attached are not loaded either
    const wanted = new Set(events.map((e) => e.program));
    for (const p of obj.programs()) if (!wanted.has(p.name)) obj.setAutoload(p.name, false);
    const loaded = obj.load();
    if (!loaded.ok && sleepable && loaded.errno === EINVAL) {
      const bad = loaded.programs.find((p) => !p.loaded && p.errno);
      refused = true;
      throw new SleepableRefused(`loading ${bad ? `program ${bad.name}` : 'the object'} failed with EINVAL`);
    }
    flushLog();
    if (!loaded.ok) {
      const bad = loaded.programs.find((p) => !p.loaded && p.log);
      say(`loading failed: ${loaded.error || `errno ${loaded.errno}`}${bad ? `\n${bad.name}: verifier log:\n${bad.log}` : ''}`);
      say("run 'kprobe-bpf check' with the same input for the log mapped to each fetch argument");
      return 1;
    }
    const perfMap = loaded.maps.find((m) => m.name === EVENTS_MAP);
    if (!perfMap) throw new Error(`object has no '${EVENTS_MAP}' map`);
    const missesMap = loaded.maps.find((m) => m.name === MISSES_MAP);
    const ringMap = loaded.maps.find((m) => m.name === RINGBUF_MAP);
    const fdOf = new Map(loaded.programs.map((p) => [p.name, p.fd]));
    const sessionEvents: SessionEvent[] = events.map((e) => ({
      def: probeSiteOf(e),
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
      ...(ringMap ? { ringBuffer: { fd: ringMap.fd, size: ringMap.maxEntries } } : {}),
      ...(pid !== undefined ? { scope: { pid } } : {}),
      ...(opts.durationMs !== undefined ? { durationMs: opts.durationMs } : {}),
      ...(h ? { until: h.exited, onAttached: () => { released = true; h.release(); } } : {}),
    });
    try {
      session.attach();
    } catch (e) {
      // kernel: perf_event_set_bpf_prog refuses a sleepable program it cannot run on the probe (EINVAL)
      if (sleepable && e instanceof SysError && e.errno === EINVAL && e.call.includes('PERF_EVENT_IOC_SET_BPF')) {
        refused = true;
        throw new SleepableRefused(`attaching failed: ${e.message}`);
      }
      throw e;
    }
    const summary = await session.run();
    const lost = [...summary.lost.values()].reduce((a, b) => a + b, 0);
    if (lost > 0) {
      const perCpu = [...summary.lost].map(([cpu, n]) => `cpu${cpu}: ${n}`).join(', ');
      say(`${lost} events lost (${perCpu}): the rings filled faster than they were read`);
    }
    // Sleepable programs count a failed ring buffer reservation as a miss (no PERF_RECORD_LOST there).
    const dropped = missesMap && ringMap
      ? events.filter((e) => e.sleepable).reduce((n, e) => n + Number(mapLookupPerCpuU64Sum(missesMap.fd, e.id)), 0)
      : 0;
    if (dropped > 0) say(`${dropped} events lost: the ring buffer of the sleepable uprobe programs filled faster than it was read`);
    if (summary.stoppedBy === 'signal') {
      // Like bpftrace -c and timeout(1): the command is told to stop too (a
      // terminal's Ctrl-C reaches it anyway, a `kill` of ours does not), so we
      // do not wait for it; the exit status is the shell's 128 + signo.
      const sig = summary.signal ?? 'SIGINT';
      if (h && released) h.kill(sig);
      return 128 + (os.constants.signals[sig] ?? 2);
    }
    return 0;
  } finally {
    if (held && !released) held.kill('SIGKILL');
    obj.close();
    if (!refused) flushLog();
  }
}
