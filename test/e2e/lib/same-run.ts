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
  readonly hits: number;
  /** Busy-loop iterations and sleep (µs) before each call. */
  readonly spin: number;
  readonly napUs: number;
  /** More `trace` arguments. */
  readonly args?: readonly string[];
}

export function sameRun(o: SameRunOptions): Promise<SameRun> {
  return withKernelLock(async () => {
    const target = buildLoopTarget();
    const group = `kpb${o.tag}${process.pid}`;
    const inst = new TraceInstance(`${group}i`);
    try {
      writeFileSync(`${inst.dir}/trace_clock`, o.clock);
      addUprobeEvent(tickProbe(target, group));
      inst.enable(group, 'tick');
      const cli = await runCli(['trace', '-e', tickProbe(target, `${group}o`), '-c', `${target.path} ${o.hits} ${o.spin} ${o.napUs}`, ...(o.args ?? [])]);
      inst.enable(group, 'tick', false);
      const kernel = stampedLines(inst.trace()).filter((l) => l.comm === 'kpbloop');
      return { kernel, ours: stampedLines(cli.stdout), cli };
    } finally {
      inst.remove();
      removeUprobeEvent(group, 'tick');
      target.cleanup();
    }
  });
}
