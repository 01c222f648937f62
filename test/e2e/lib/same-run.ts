// One run of the loop target traced by both tracers at once: the kernel's
// uprobe_events tracer (a private instance, on a chosen trace_clock) and
// `kprobe-bpf trace -c TARGET`, on the same uprobe (kpb_tick), so each hit
// has a line from each, for the clock, flags and comm tests.
import { writeFileSync } from 'node:fs';
import { withKernelLock } from '../../lib/kernel.js';
import { TraceInstance, addUprobeEvent, removeUprobeEvent } from '../../runtime/lib/tracefs.js';
import { buildLoopTarget, tickProbe } from './loop-target.js';
import { runCli, type CliRun } from './runs.js';
import { stampedLines, type StampedLine } from './stamped-lines.js';

export interface SameRun {
  /** The kernel's lines of the target (comm kpbloop). */
  readonly kernel: StampedLine[];
  readonly ours: StampedLine[];
  readonly cli: CliRun;
}

export interface SameRunOptions {
  /** Name part of the groups and instance (unique per test). */
  readonly tag: string;
  readonly clock: string;
  /** More `trace` arguments. */
  readonly args?: readonly string[];
}

/** What runs: the command line, the probe line (event `tick`) for a group, the pids' comms to keep from the kernel's trace. */
export interface SameRunTarget {
  readonly command: string;
  readonly probe: (group: string) => string;
  readonly comms: readonly string[];
}

/** The loop target: `hits` calls, each after `spin` busy iterations and `napUs` µs of sleep. */
export function loopRun(o: SameRunOptions & { readonly hits: number; readonly spin: number; readonly napUs: number }): Promise<SameRun> {
  const target = buildLoopTarget();
  return sameRun(o, { command: `${target.path} ${o.hits} ${o.spin} ${o.napUs}`, probe: (g) => tickProbe(target, g), comms: ['kpbloop'] })
    .finally(() => target.cleanup());
}

export function sameRun(o: SameRunOptions, target: SameRunTarget): Promise<SameRun> {
  return withKernelLock(async () => {
    const group = `kpb${o.tag}${process.pid}`;
    const inst = new TraceInstance(`${group}i`);
    try {
      writeFileSync(`${inst.dir}/trace_clock`, o.clock);
      addUprobeEvent(target.probe(group));
      inst.enable(group, 'tick');
      const cli = await runCli(['trace', '-e', target.probe(`${group}o`), '-c', target.command, ...(o.args ?? [])]);
      inst.enable(group, 'tick', false);
      const kernel = stampedLines(inst.trace()).filter((l) => target.comms.includes(l.comm));
      return { kernel, ours: stampedLines(cli.stdout), cli };
    } finally {
      inst.remove();
      removeUprobeEvent(group, 'tick');
    }
  });
}
