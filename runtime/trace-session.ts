// The runtime's pieces put together for `kprobe-bpf trace`, with no knowledge
// of the loader: the caller hands in, per event, its definition, its
// EventFormat, the common_type its records carry and a loaded program fd, plus
// a callback that stores a CPU's perf fd in the PERF_EVENT_ARRAY map. The
// session opens the rings, attaches every probe (SET_BPF, ENABLE), reads and
// prints until stopped (signal, duration, a promise such as the -c command's
// exit), then drains, detaches and prints the header/profile.
//
// Output modes: 'trace' is the trace file (header with entries-in-buffer /
// entries-written and #P, then the lines; lines are held until the end since
// the header counts them), 'pipe' streams lines as they come (trace_pipe has
// no header). --json streams one object per line in either mode.
import type { EventFormat, ProbeSite } from '../compiler/abi.js';
import { AttachRegistry, attachBpfProbe, attachOrder, attachUprobeGroup, planUprobeLinks, uprobeTarget, type GroupMember, type ProbeAttachment, type Scope } from './attach/index.js';
import { Kallsyms, emptyKallsyms } from './kallsyms.js';
import { PerfReader, mapRingBuffer, type RingHandler } from './ring/index.js';
import { TracePrinter, fdSink, ftraceHeader, type Sink } from './printer/index.js';
import { renderProfile, type ProfileRow } from './profile.js';
import { onlineCpus } from './sys/index.js';
import { mark } from '../lib/timing.js';
import { OutputWriter } from './output-writer.js';

export interface SessionEvent {
  readonly def: ProbeSite;
  readonly format: EventFormat;
  /** common_type the program writes into its records' entries. */
  readonly typeId: number;
  readonly progFd: number;
  /** A return kprobe's entry program (it saves the entry arguments), attached at the function's entry first. */
  readonly entryProgFd?: number;
  /** progFd / entryProgFd were loaded for a uprobe_multi link (LoadedProgram.uprobeMulti). */
  readonly uprobeMulti?: boolean;
  readonly entryUprobeMulti?: boolean;
  /** progFd was loaded with BPF_F_SLEEPABLE (it shares a uprobe_multi link only with sleepable programs). */
  readonly sleepable?: boolean;
}

export interface SessionOptions {
  readonly json?: boolean;
  readonly mode?: 'trace' | 'pipe';
  readonly scope?: Scope;
  /** Data pages per CPU ring (power of two). */
  readonly pages?: number;
  readonly durationMs?: number;
  /** Tracing also ends when this settles (e.g. the -c command exited). */
  readonly until?: Promise<unknown>;
  readonly sink?: Sink;
  /** Where the profile table goes (default stderr after the trace). */
  readonly profileSink?: Sink;
  readonly profile?: boolean;
  /** Kernel symbols; loaded from /proc/kallsyms when any event is a kprobe. */
  readonly kallsyms?: Kallsyms;
  /** Records an event's program could not deliver (failed outputs), for the profile's misses. */
  readonly missesOf?: (typeId: number) => number;
  /** Hits an event's filter dropped in the program: the profile counts them as hits, as the kernel's nhit does. */
  readonly filteredOf?: (typeId: number) => number;
  /** Called once, after attaching, before the workload is released. */
  readonly onAttached?: () => void;
  /** The BPF ring buffer map sleepable programs write to (fd, max_entries), read beside the perf rings. */
  readonly ringBuffer?: { readonly fd: number; readonly size: number };
  /** Also handed every record the printer prints (prefix + entry), e.g. a trace.dat writer. */
  readonly recordSink?: (raw: Buffer, off: number, len: number) => void;
  /** ns from the records' CLOCK_MONOTONIC to the trace clock lines print (runtime/trace-clock.ts); default 0 (`mono`). */
  readonly clockOffsetNs?: number;
  /** --ftrace-comm: each pid's last name seen, as ftrace's saved_cmdlines (TracePrinterOptions.ftraceComm). */
  readonly ftraceComm?: boolean;
  /**
   * uprobe events loaded for uprobe_multi share links (runtime/attach/uprobe-group.ts): one
   * wait to detach them all instead of one each. Default: a link per event.
   */
  readonly shareUprobeLinks?: boolean;
}

export interface SessionSummary {
  readonly printed: number;
  readonly lost: ReadonlyMap<number, number>;
  readonly profile: readonly ProfileRow[];
  readonly stoppedBy: 'signal' | 'duration' | 'until' | 'stop';
  /** The signal that stopped the session, when stoppedBy is 'signal' (the exit status is 128 + its number). */
  readonly signal?: NodeJS.Signals;
}

export class TraceSession {
  private readonly registry: AttachRegistry;
  private readonly reader: PerfReader;
  private readonly printer: TracePrinter;
  private readonly held: Buffer[] = [];
  /** The trace file's lines wait for its header (which counts them); trace_pipe's and JSON's stream. */
  private readonly holdLines: boolean;
  private readonly attachments: ProbeAttachment[] = [];
  private stopReason: SessionSummary['stoppedBy'] | undefined;
  private stopSignal: NodeJS.Signals | undefined;
  private wake: (() => void) | undefined;
  /** Writes streamed lines to stdout off the reading thread (output-writer.ts); absent with a given sink or held lines. */
  private readonly writer: OutputWriter | undefined;

  /**
   * Opens the rings and hands each CPU's perf fd to setPerfFd (map[cpu] = fd).
   * Nothing is attached yet.
   */
  constructor(
    private readonly events: readonly SessionEvent[],
    setPerfFd: (cpu: number, fd: number) => void,
    private readonly opts: SessionOptions = {},
  ) {
    this.registry = new AttachRegistry((sig) => this.stop('signal', sig));
    const mode = opts.mode ?? 'trace';
    const holdLines = mode === 'trace' && !opts.json;
    // streamed lines to our stdout are written off this thread, so a lagging reader of it does not stop the draining
    if (!opts.sink && !holdLines) this.writer = new OutputWriter(1);
    const out = opts.sink ?? this.writer?.sink ?? fdSink(1);
    this.holdLines = holdLines;
    const kallsyms = opts.kallsyms ?? (events.some((e) => e.def.tracer !== 'uprobe') ? Kallsyms.load() : emptyKallsyms());
    this.printer = new TracePrinter({
      sink: holdLines ? (b) => this.held.push(Buffer.from(b)) : out,
      json: opts.json ?? false,
      kallsyms,
      ...(opts.scope?.pid !== undefined ? { tgid: opts.scope.pid } : {}),
      clockOffsetNs: opts.clockOffsetNs ?? 0,
      ftraceComm: opts.ftraceComm ?? false,
    });
    for (const e of events) this.printer.register(e.format, e.typeId, e.def.point);
    this.reader = PerfReader.forBpfOutput(opts.pages !== undefined ? { pages: opts.pages } : {});
    this.registry.addCleanup(() => this.reader.close(this.handler()));
    this.finalSink = out;
    try {
      if (opts.ringBuffer) this.reader.addSource(mapRingBuffer(opts.ringBuffer.fd, opts.ringBuffer.size));
      for (const [cpu, fd] of this.reader.fds()) setPerfFd(cpu, fd);
    } catch (e) {
      this.registry.closeAll();
      throw e;
    }
  }

  private readonly finalSink: Sink;

  /** The printer's ring handler, teeing printed records to the record sink when there is one. */
  private handler(): RingHandler {
    const h = this.printer.handler();
    const tee = this.opts.recordSink;
    if (!tee) return h;
    return { ...h, onSample: (raw, off, len) => { if (this.printer.printRecord(raw, off, len)) tee(raw, off, len); } };
  }

  /** Attaches every probe; on any failure detaches what was attached and throws. Installs the signal/exit hooks. */
  attach(): void {
    mark('session setup (-c spawn, rings)');
    this.registry.hook();
    const scope = this.opts.scope ?? {};
    // uprobe_multi events sharing links are attached after the others, link by link, in attach order
    const shared: GroupMember[] = [];
    try {
      for (const e of attachOrder(this.events)) {
        // the entry program first: a return seen before it is attached finds no entry words and makes no record
        if (e.entryProgFd !== undefined) {
          const { maxactive: _maxactive, ...site } = e.def;
          const entry = { ...site, isReturn: false, event: `${e.def.event}__entry` };
          this.attachments.push(this.registry.add(attachBpfProbe(entry, e.entryProgFd, scope, { uprobeMulti: e.entryUprobeMulti ?? false })));
        }
        if (this.opts.shareUprobeLinks && e.uprobeMulti && e.def.tracer === 'uprobe' && e.entryProgFd === undefined) {
          shared.push({ target: uprobeTarget(e.def), progFd: e.progFd, sleepable: e.sleepable ?? false });
          continue;
        }
        this.attachments.push(this.registry.add(attachBpfProbe(e.def, e.progFd, scope, { uprobeMulti: e.uprobeMulti ?? false })));
      }
      for (const members of planUprobeLinks(shared)) this.attachments.push(this.registry.add(attachUprobeGroup(members, scope)));
    } catch (e) {
      this.registry.closeAll();
      this.registry.unhook();
      throw e;
    }
    mark('attach');
    this.opts.onAttached?.();
  }

  /** Ends the read loop (from a signal handler, a timer, or the caller). */
  stop(reason: SessionSummary['stoppedBy'] = 'stop', sig?: NodeJS.Signals): void {
    if (this.stopReason === undefined) this.stopSignal = sig;
    this.stopReason ??= reason;
    this.wake?.();
  }

  /** Reads and prints until stopped; then drains, detaches, writes header/lines/profile. */
  async run(): Promise<SessionSummary> {
    const h = this.handler();
    const timer = this.opts.durationMs !== undefined ? setTimeout(() => this.stop('duration'), this.opts.durationMs) : undefined;
    this.opts.until?.then(
      () => this.stop('until'),
      () => this.stop('until'),
    );
    try {
      while (this.stopReason === undefined) {
        const stopped = new Promise<void>((r) => (this.wake = r));
        // over the output queue's bound: let it drain to half before reading more (the rings absorb the wait)
        if (this.writer?.full) await Promise.race([this.writer.drained(this.writer.bound / 2), stopped]);
        else await Promise.race([this.reader.poll(h, 100), stopped]);
        // --ftrace-comm: trace_pipe names each line's pid as last seen when read; the trace file, at the end
        if (!this.holdLines) this.printer.printHeld();
        this.printer.out.flush();
      }
    } finally {
      if (timer) clearTimeout(timer);
      // Detach first so no new hits arrive, then the reader cleanup drains the rest.
      await this.registry.closeAllAsync();
      this.registry.unhook();
      this.printer.printHeld();
      this.printer.flush();
      await this.writer?.drained(0);
    }
    const lost = this.printer.lost;
    const totalLost = [...lost.values()].reduce((a, b) => a + b, 0);
    if ((this.opts.mode ?? 'trace') === 'trace' && !this.opts.json) {
      // entries-written counts what the probes produced, entries-in-buffer what is shown (ftrace: overruns excluded).
      this.finalSink(Buffer.from(ftraceHeader(this.printer.written, this.printer.written + totalLost, onlineCpus().length)));
      for (const b of this.held) this.finalSink(b);
      this.held.length = 0;
    }
    const missesOf = this.opts.missesOf ?? (() => 0);
    const filteredOf = this.opts.filteredOf ?? (() => 0);
    const profile: ProfileRow[] = this.events.map((e) => ({
      event: e.format.event, hits: (this.printer.eventFor(e.typeId)?.hits ?? 0) + filteredOf(e.typeId), misses: missesOf(e.typeId),
    }));
    if (this.opts.profile) (this.opts.profileSink ?? fdSink(2))(Buffer.from(renderProfile(profile, lost)));
    return { printed: this.printer.written, lost, profile, stoppedBy: this.stopReason ?? 'stop', ...(this.stopSignal ? { signal: this.stopSignal } : {}) };
  }
}
