// Which clock a trace line's timestamp is on. Our programs stamp each record
// with bpf_ktime_get_ns (ktime_get_mono_fast_ns: CLOCK_MONOTONIC, ftrace's
// `mono` clock). ftrace's default `local` clock is sched_clock(), which no BPF
// helper reads, and `boot` is CLOCK_BOOTTIME; both run at the rate of
// CLOCK_MONOTONIC up to a fixed offset (boot: the time spent suspended;
// local: sched_clock's origin, plus the slow NTP slew of CLOCK_MONOTONIC).
// So the runtime measures that offset once, from the kernel's own clock:
// a write to trace_marker in a private instance set to that trace_clock is
// stamped by the kernel in the clock's ns (the instance's `raw` option prints
// them unrounded), and the write is bracketed by two CLOCK_MONOTONIC reads
// (process.hrtime: libuv's clock_gettime(CLOCK_MONOTONIC)). The narrowest of
// several brackets wins; its half-width is the offset's error.
//
// Creating the instance, setting its clock and removing it each wait for an
// RCU grace period in the kernel (~65 ms of a `trace -c` start-up, little
// CPU), so `trace` starts measuring before it compiles (clockOffsetSoon):
// those three run in libuv's threads beside the compile and load, only the
// marker writes and the read run on this thread, and the removal finishes
// while the trace runs.
import { closeSync, openSync, readFileSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import { KprobeBpfError } from '../lib/errors.js';

/** The ftrace trace clocks a trace can print (kernel/trace/trace.c trace_clocks[] names). */
export const TRACE_CLOCKS = ['local', 'mono', 'boot'] as const;
export type TraceClock = (typeof TRACE_CLOCKS)[number];

/** ns to add to a record's bpf_ktime_get_ns to get the chosen clock, and how far off it may be. */
export interface ClockOffset {
  readonly clock: TraceClock;
  readonly offsetNs: number;
  /** Half the narrowest bracket: the offset is exact to within this many ns (0 for mono). */
  readonly errorNs: number;
}

export class TraceClockError extends KprobeBpfError {}

const SAMPLES = 16;
/** A `raw` trace line of a marker: "PID CPU TS # IP TEXT" (kernel/trace/trace_output.c trace_print_raw / print_raw). */
const RAW_MARKER = /^\d+ \d+ (\d+) # \S+ kpbclk(\d+)$/gm;

/** Why the kernel's clock cannot be read: tracefs not mounted, or mounted where this user may not look. */
function noTracefsReason(clock: TraceClock): string {
  try {
    readdirSync('/sys/kernel/tracing');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EACCES') {
      return `--clock ${clock} reads the kernel's clock through tracefs, which uid ${process.getuid?.() ?? '?'} may not read (EACCES); run it with sudo, or use --clock mono`;
    }
  }
  return `--clock ${clock} needs tracefs (mount -t tracefs nodev /sys/kernel/tracing), or use --clock mono`;
}

/** Our clock instances are named after the pid that made them (and a serial: an earlier one may still be being removed). */
let serial = 0;
const instanceName = (pid: number): string => `kprobe_bpf_clock_${pid}_${serial++}`;

/**
 * The offset of `clock` from CLOCK_MONOTONIC, measured now through the
 * tracefs at `root`, without blocking this thread on the kernel: resolves
 * with the offset once the markers are read; the instance is removed after
 * that, in the background (the process does not exit before it is gone).
 * Instances a killed run of ours left behind (their pid is gone) are removed
 * too.
 */
export async function clockOffsetSoon(clock: TraceClock, root: string | undefined): Promise<ClockOffset> {
  if (clock === 'mono') return { clock, offsetNs: 0, errorNs: 0 };
  if (!root) throw new TraceClockError(noTracefsReason(clock));
  const dir = `${root}/instances/${instanceName(process.pid)}`;
  try {
    await mkdir(dir);
  } catch (e) {
    throw new TraceClockError(`--clock ${clock}: cannot create a trace instance to read the kernel's clock`, { cause: e });
  }
  try {
    // setting a clock resets the instance's buffers (an RCU wait); a new instance is usually on `local` already
    // reading the clock and setting `raw` are cheap: only setting a clock waits on the kernel
    const current = /\[(\w+)\]/.exec(readFileSync(`${dir}/trace_clock`, 'latin1'))?.[1];
    writeFileSync(`${dir}/options/raw`, '1');
    if (current !== clock) await writeFile(`${dir}/trace_clock`, clock);
    return bracketMarkers(dir, clock);
  } finally {
    removals = Promise.all([removals, removeInstances(root, dir)]).then(() => undefined);
  }
}

let removals: Promise<void> | undefined;
/** Settles when the instances measuring has made are removed (for tests; the process waits for them anyway). */
export async function clockInstancesRemoved(): Promise<void> {
  await removals;
}

/** Removes `dir` and stale instances of ours; failures are left silent (nothing of the user's run depends on them). */
async function removeInstances(root: string, dir: string): Promise<void> {
  const stale = instancesIn(root).filter((d) => {
    const pid = /^kprobe_bpf_clock_(\d+)(?:_\d+)?$/.exec(d)?.[1];
    return pid !== undefined && Number(pid) !== process.pid && !processAlive(Number(pid));
  });
  await Promise.all([dir, ...stale.map((d) => `${root}/instances/${d}`)].map((d) => rmdir(d).catch(() => undefined)));
}

function instancesIn(root: string): string[] {
  try {
    return readdirSync(`${root}/instances`);
  } catch {
    return [];
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes SAMPLES markers, each between two CLOCK_MONOTONIC reads; keeps the narrowest bracket. */
function bracketMarkers(dir: string, clock: TraceClock): ClockOffset {
  const brackets: [bigint, bigint][] = [];
  const fd = openSync(`${dir}/trace_marker`, 'w');
  try {
    for (let i = 0; i < SAMPLES; i++) {
      const before = process.hrtime.bigint();
      writeSync(fd, `kpbclk${i}`);
      brackets.push([before, process.hrtime.bigint()]);
    }
  } finally {
    closeSync(fd);
  }
  let best: ClockOffset | undefined;
  let bestWidth = -1n;
  for (const m of readFileSync(`${dir}/trace`, 'latin1').matchAll(RAW_MARKER)) {
    const [before, after] = brackets[Number(m[2])]!;
    const width = after - before;
    if (best && width >= bestWidth) continue;
    bestWidth = width;
    best = { clock, offsetNs: Number(BigInt(m[1]!) - before - width / 2n), errorNs: Number(width / 2n) };
  }
  if (!best) throw new TraceClockError(`--clock ${clock}: the kernel's trace instance recorded none of our markers`);
  return best;
}
