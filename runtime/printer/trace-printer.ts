// Turns records into ftrace's `trace` file lines (or JSON lines):
//   "%16s-%-7d [%03d] FLAGS %5lu.%06lu: EVENT: (...) name=value\n"
// (kernel/trace/trace_output.c: trace_print_context, trace_print_lat_fmt,
// trace_print_time). Records are dispatched to their event's compiled
// printer by the entry's common_type. Two record sources:
//   - our BPF programs' perf samples: RECORD_PREFIX (compiler/format.ts:
//     ts, tgid, cpu, comm) followed by the kernel-identical trace entry;
//   - a bare trace entry with the context given by the caller (kernel
//     tracepoint samples, used to test against the kernel).
import { PREFIX_COMM, RECORD_PREFIX_SIZE, type EventFormat } from '../../compiler/format.js';
import type { ProbePlace } from '../../compiler/abi.js';
import { traceContextRulesFor } from '../../compiler/codegen-flags-rules.js';
import { release } from 'node:os';
import { recordCpu, recordTgid, recordTime } from '../ring/record-prefix.js';
import type { RingHandler, SampleMeta } from '../ring/source.js';
import { emptyKallsyms, type Kallsyms } from '../kallsyms.js';
import { compileEventPrinter, type EventPrinter } from './event-printer.js';
import { stackPrinter } from './stack-printer.js';
import { STACK_ENTRY_TYPE } from '../../compiler/trigger-codegen.js';
import { ftraceHeader } from './ftrace-header.js';
import { latFmtBytes } from './lat-fmt.js';
import { SavedCmdlines } from './saved-cmdlines.js';
import { uprobeFuncOf } from './uprobe-func.js';
import { jsonStringBody } from './values.js';
import { OutBuffer, fdSink, type Sink } from './out-buffer.js';

/** struct trace_entry (include/linux/trace_events.h): type u16, flags u8, preempt_count u8, pid s32. */
const ENTRY_TYPE = 0;
const ENTRY_FLAGS = 2;
const ENTRY_PREEMPT = 3;
const ENTRY_PID = 4;
const TASK_COMM_LEN = 16;

export interface TracePrinterOptions {
  /** Where lines go (default stdout). */
  sink?: Sink;
  json?: boolean;
  /** Kernel symbols for kprobe lines and %pS (default: none known). */
  kallsyms?: Kallsyms;
  /**
   * -p PID: print only records whose prefix tgid is this process. uprobes
   * are already scoped by the kernel (by mm), but a BPF program on a kprobe
   * runs for every task whatever the perf event's task, so the check is here.
   */
  tgid?: number;
  /**
   * ns added to a record's bpf_ktime_get_ns (CLOCK_MONOTONIC) to put it on
   * the chosen trace clock (runtime/trace-clock.ts); default 0: `mono`.
   */
  clockOffsetNs?: number;
  /**
   * --ftrace-comm: print each pid's last name seen (ftrace's saved_cmdlines)
   * instead of the name at the hit; records are then held until printHeld().
   */
  ftraceComm?: boolean;
  /** The flags column of a kernel with lazy reschedule (6.13+; lat-fmt.ts); default: the running kernel's. */
  lazyResched?: boolean;
}

export class TracePrinter {
  readonly out: OutBuffer;
  private readonly json: boolean;
  private readonly ksyms: Kallsyms;
  private readonly byType: (EventPrinter | undefined)[] = [];
  /** The stacktrace trigger's records (runtime/printer/stack-printer.ts). */
  private stacks: EventPrinter | undefined;
  /** Records whose common_type matched no registered event. */
  unknown = 0;
  /** Records of other processes dropped by the tgid filter. */
  filtered = 0;
  private readonly tgid: number;
  private readonly clockOffsetNs: number;
  private readonly cmdlines: SavedCmdlines | undefined;
  private readonly lazyResched: boolean;
  /** Lost samples reported by the ring, per CPU. */
  readonly lost = new Map<number, number>();
  /** Lines printed. */
  written = 0;

  constructor(opts: TracePrinterOptions = {}) {
    this.out = new OutBuffer(opts.sink ?? fdSink(1));
    this.json = opts.json ?? false;
    this.ksyms = opts.kallsyms ?? emptyKallsyms();
    this.tgid = opts.tgid ?? -1;
    this.clockOffsetNs = opts.clockOffsetNs ?? 0;
    this.cmdlines = opts.ftraceComm ? new SavedCmdlines() : undefined;
    this.lazyResched = opts.lazyResched ?? traceContextRulesFor(release(), true).tifNeedReschedLazy !== undefined;
  }

  /** Compiles the printer for an event whose entries carry common_type === typeId. */
  register(format: EventFormat, typeId: number, place?: ProbePlace): EventPrinter {
    if (!Number.isInteger(typeId) || typeId < 0 || typeId > 0xffff) throw new Error(`event type id ${typeId} is not a u16`);
    // a return uprobe's function address, where the kernel left it 0 (before 6.6), from where it sits
    const uprobeFunc = place && format.tracer === 'uprobe' && format.isReturn ? uprobeFuncOf(place) : undefined;
    const p = compileEventPrinter(format, this.ksyms, uprobeFunc);
    this.byType[typeId] = p;
    return p;
  }

  /** The printer registered for a common_type, if any. */
  eventFor(typeId: number): EventPrinter | undefined {
    return this.byType[typeId];
  }

  events(): EventPrinter[] {
    return this.byType.filter((p): p is EventPrinter => p !== undefined);
  }

  /** The `# tracer: nop` header; ftrace counts entries in the buffer and written, then #P (online CPUs). */
  header(entriesInBuffer: number, entriesWritten: number, cpus: number): void {
    if (this.json) return;
    this.out.ascii(ftraceHeader(entriesInBuffer, entriesWritten, cpus));
  }

  /** One record from our BPF programs: prefix, then the trace entry. Returns false for an unknown event. */
  printRecord(buf: Buffer, off: number, len: number): boolean {
    if (len < RECORD_PREFIX_SIZE + 8) {
      this.unknown++;
      return false;
    }
    if (this.tgid >= 0 && recordTgid(buf, off) !== this.tgid) {
      this.filtered++;
      return false;
    }
    if (this.cmdlines) {
      this.cmdlines.save(buf.readInt32LE(off + RECORD_PREFIX_SIZE + ENTRY_PID), buf, off + PREFIX_COMM);
      this.cmdlines.hold(buf, off, len);
      return true;
    }
    return this.recordLine(buf, off, len, buf, off + PREFIX_COMM);
  }

  private recordLine(buf: Buffer, off: number, len: number, comm: Uint8Array, commOff: number): boolean {
    return this.line(buf, off + RECORD_PREFIX_SIZE, off + len, comm, commOff, recordCpu(buf, off), recordTime(buf, off) + this.clockOffsetNs);
  }

  /**
   * --ftrace-comm: prints the records held so far, each with its pid's name
   * as last seen now (as ftrace reads saved_cmdlines when the trace is read).
   */
  printHeld(): void {
    const names = this.cmdlines;
    if (!names) return;
    for (const r of names.takeHeld()) {
      const name = names.nameOf(r.readInt32LE(RECORD_PREFIX_SIZE + ENTRY_PID));
      if (name) this.recordLine(r, 0, r.length, name, 0);
      else this.recordLine(r, 0, r.length, r, PREFIX_COMM);
    }
  }

  /** A bare trace entry; comm is the task name as bytes (NUL-terminated or not). */
  printEntry(buf: Buffer, entry: number, entryEnd: number, comm: Uint8Array, cpu: number, tsNs: number): boolean {
    return this.line(buf, entry, entryEnd, comm, 0, cpu, tsNs);
  }

  private line(buf: Buffer, entry: number, entryEnd: number, comm: Uint8Array, commOff: number, cpu: number, tsNs: number): boolean {
    const type = buf.readUInt16LE(entry + ENTRY_TYPE);
    const ev = type === STACK_ENTRY_TYPE ? (this.stacks ??= stackPrinter(this.ksyms, (id) => this.byType[id]?.format)) : this.byType[type];
    if (!ev) {
      this.unknown++;
      return false;
    }
    ev.hits++;
    this.written++;
    const out = this.out;
    out.reserve(512);
    const pid = buf.readInt32LE(entry + ENTRY_PID);
    let commEnd = commOff;
    const commMax = Math.min(commOff + TASK_COMM_LEN, comm.length);
    while (commEnd < commMax && comm[commEnd] !== 0) commEnd++;
    // ns2usecs() rounds to the nearest microsecond (kernel/trace/trace.c).
    const usecs = Math.floor((tsNs + 500) / 1000);
    const secs = Math.floor(usecs / 1e6);
    const usecRem = usecs - secs * 1e6;
    if (this.json) {
      out.ascii('{"time":"');
      out.udec(secs);
      out.byte(0x2e);
      out.udec(usecRem, 6, 0x30);
      out.ascii('","comm":"');
      jsonStringBody(out, comm, commOff, commEnd);
      out.ascii('","pid":');
      out.sdec(pid);
      out.ascii(',"cpu":');
      out.udec(cpu);
      out.byte(0x2c);
      ev.json(out, buf, entry, entryEnd);
      out.ascii('}\n');
      return true;
    }
    // "%16s-%-7d [%03d] "
    out.fill(0x20, TASK_COMM_LEN - (commEnd - commOff));
    out.bytes(comm, commOff, commEnd);
    out.byte(0x2d);
    out.decLeft(pid, 7);
    out.ascii(' [');
    out.udec(cpu, 3, 0x30);
    out.ascii('] ');
    out.bytes(latFmtBytes(buf[entry + ENTRY_FLAGS]!, buf[entry + ENTRY_PREEMPT]!, this.lazyResched));
    // " %5lu.%06lu: "
    out.byte(0x20);
    out.udec(secs, 5);
    out.byte(0x2e);
    out.udec(usecRem, 6, 0x30);
    out.ascii(': ');
    ev.text(out, buf, entry, entryEnd);
    out.byte(0x0a);
    return true;
  }

  /** A ring handler that prints our BPF records and counts lost samples. */
  handler(): RingHandler {
    return {
      onSample: (raw: Buffer, off: number, len: number, _meta: SampleMeta) => {
        this.printRecord(raw, off, len);
      },
      onLost: (cpu: number, n: number) => {
        this.lost.set(cpu, (this.lost.get(cpu) ?? 0) + n);
      },
    };
  }

  flush(): void {
    this.out.flush();
  }
}

/** Registers every format under the type id it will carry, e.g. from the object's metadata. */
export function printerFor(formats: readonly { format: EventFormat; typeId: number }[], opts: TracePrinterOptions = {}): TracePrinter {
  const p = new TracePrinter(opts);
  for (const f of formats) p.register(f.format, f.typeId);
  return p;
}
