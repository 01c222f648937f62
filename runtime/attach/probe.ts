// What every probe kind hands back: the perf event fds the kernel made for
// the probe, and the operations the tracer needs on them. One module per
// kind (uprobe.ts, kprobe.ts, tracefs-probe.ts) builds these.
import { closeAll } from '../../lib/close-all.js';
import { PERF_SAMPLE_RAW, closeFd, closeFdAsync, nativeCString, onlineCpus, perfDisable, perfEnable, perfEventOpen, perfSetBpf, readFd } from '../sys/index.js';
import { ProbeSetupError } from './errors.js';

export type ProbeKindName = 'uprobe' | 'uretprobe' | 'kprobe' | 'kretprobe' | 'tracepoint' | 'fentry' | 'fexit' | 'tp_btf';

export interface ProbeAttachment {
  readonly kind: ProbeKindName;
  /** Human description for messages: "uprobe /bin/x:0x1149 (perf PMU)". */
  readonly description: string;
  readonly fds: readonly number[];
  /**
   * Attaches a loaded BPF program (PERF_EVENT_IOC_SET_BPF). Only on the first
   * fd: a probe's BPF program runs for every hit on every CPU, whichever CPU
   * the perf event is bound to, and the kernel refuses the same program twice
   * on one probe (bpf_prog_array_copy: -EEXIST).
   */
  setBpf(progFd: number): void;
  enable(): void;
  disable(): void;
  /** Hits counted by the perf events (meaningful without a BPF program, which suppresses counting when it returns 0). */
  count(): bigint;
  /** Closes the fds and removes anything created for the probe (tracefs entries). Idempotent. */
  close(): void;
  /**
   * close() with the fds closed off this thread, so that several probes'
   * closes wait out the kernel's synchronisation together. Marks the probe
   * closed before it returns: a close() meanwhile does nothing.
   */
  closeAsync?(): Promise<void>;
}

/** A ProbeAttachment over perf fds, plus an optional cleanup run after the fds are closed. */
export class PerfProbe implements ProbeAttachment {
  private closed = false;
  private readonly counter = Buffer.alloc(8);
  constructor(
    readonly kind: ProbeKindName,
    readonly description: string,
    readonly fds: readonly number[],
    private readonly afterClose?: () => void,
  ) {}

  setBpf(progFd: number): void {
    const fd = this.fds[0];
    if (fd === undefined) throw new ProbeSetupError(`${this.description}: no perf event to attach to`);
    perfSetBpf(fd, progFd);
  }

  enable(): void {
    for (const fd of this.fds) perfEnable(fd);
  }

  disable(): void {
    for (const fd of this.fds) perfDisable(fd);
  }

  count(): bigint {
    let n = 0n;
    for (const fd of this.fds) {
      readFd(fd, this.counter, 8);
      n += this.counter.readBigUInt64LE(0);
    }
    return n;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeAll([...this.fds.map((fd) => () => closeFd(fd)), ...(this.afterClose ? [this.afterClose] : [])]);
  }

  async closeAsync(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closed = await Promise.allSettled(this.fds.map(closeFdAsync));
    closeAll([...closed.map((r) => () => { if (r.status === 'rejected') throw r.reason; }), ...(this.afterClose ? [this.afterClose] : [])]);
  }
}

/** Where a probe's perf events are bound: one task (every CPU) or every task (one CPU, or each CPU for counting). */
export interface Scope {
  /** -p PID: only this process (the kernel filters uprobes by its mm). */
  readonly pid?: number;
  /** Open one event per online CPU (to count hits without BPF); default one event, enough for BPF. */
  readonly perCpu?: boolean;
}

/** (pid, cpu) pairs perf_event_open is called with for a scope. */
export function scopeTargets(scope: Scope, cpus: () => readonly number[]): [number, number][] {
  if (scope.pid !== undefined) return [[scope.pid, -1]];
  if (scope.perCpu) return cpus().map((c) => [-1, c]);
  return [[-1, 0]];
}

/** Opens one fd per target; closes what was opened if a later one fails. */
export function openAll(targets: readonly [number, number][], open: (pid: number, cpu: number) => number): number[] {
  const fds: number[] = [];
  try {
    for (const [pid, cpu] of targets) fds.push(open(pid, cpu));
    return fds;
  } catch (e) {
    for (const fd of fds) closeFd(fd);
    throw e;
  }
}

/** What a dynamic PMU (the kprobe or uprobe PMU) is told about one probe. */
export interface PmuProbeAttr {
  readonly type: number;
  readonly config: bigint;
  /** config1 points at this C string (symbol or path) for the duration of the call; 0 when absent. */
  readonly config1String?: string;
  readonly config2: bigint;
}

/**
 * Opens the probe's perf events, disabled, one per scope target, each
 * handing its raw samples back (PERF_SAMPLE_RAW); the BPF program is set later.
 */
export function openPmuProbe(kind: ProbeKindName, where: string, scope: Scope, attr: PmuProbeAttr): PerfProbe {
  const str = attr.config1String !== undefined ? nativeCString(attr.config1String) : undefined;
  try {
    const fds = openAll(scopeTargets(scope, onlineCpus), (pid, cpu) =>
      perfEventOpen(
        { type: attr.type, config: attr.config, config1: str?.address ?? 0n, config2: attr.config2, samplePeriod: 1n, sampleType: PERF_SAMPLE_RAW, flags: ['disabled'] },
        pid,
        cpu,
        -1,
        `${kind} ${where}: perf_event_open`,
      ),
    );
    return new PerfProbe(kind, `${kind} ${where} (perf PMU)`, fds);
  } finally {
    str?.release();
  }
}

/**
 * A link-based attachment (a BPF link fd instead of a perf event): setBpf
 * remembers the program, enable() makes the link (the program runs from then
 * on), disable() and close() drop it. No perf counter: count() is 0, hits
 * are what the program counts.
 */
export abstract class BpfLinkAttachment implements ProbeAttachment {
  private progFd = -1;
  private link = -1;
  constructor(readonly kind: ProbeKindName, readonly description: string) {}

  /** Creates the link for the loaded program; returns its fd. */
  protected abstract openLink(progFd: number): number;

  get fds(): readonly number[] { return this.link >= 0 ? [this.link] : []; }

  setBpf(progFd: number): void { this.progFd = progFd; }

  enable(): void {
    if (this.link >= 0) return;
    if (this.progFd < 0) throw new ProbeSetupError(`${this.description}: no BPF program to attach`);
    this.link = this.openLink(this.progFd);
  }

  disable(): void { this.close(); }

  count(): bigint { return 0n; }

  close(): void {
    if (this.link < 0) return;
    const fd = this.link;
    this.link = -1;
    closeFd(fd);
  }

  async closeAsync(): Promise<void> {
    if (this.link < 0) return;
    const fd = this.link;
    this.link = -1;
    await closeFdAsync(fd);
  }
}
