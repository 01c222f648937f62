// `trace -o FILE.dat`: collects the records the printer prints (the same
// ones, after the -p filter) and writes trace.dat when the trace ends. The
// file is opened at once, so a path that cannot be written fails before
// anything is attached; records are kept in memory per CPU, entry bytes
// only (the CPU data comes after kallsyms and the comm list, which are
// complete only at the end).
import { closeSync, openSync, writeSync } from 'node:fs';
import { PREFIX_COMM, RECORD_PREFIX_SIZE } from '../../compiler/format.js';
import { emptyKallsyms, Kallsyms } from '../kallsyms.js';
import { recordCpu, recordTime } from '../ring/record-prefix.js';
import type { DatEvent } from './event-formats.js';
import { traceDatChunks } from './file.js';
import { dataLocOffsets, entryLength } from './entry-length.js';
import { CpuRecords } from './cpu-records.js';
import { fitsPage } from './ring-page.js';
import { addressFieldOffsets, symbolsFor } from './symbols.js';

/** struct trace_entry: type u16 at 0, pid s32 at 4. */
const ENTRY_PID = 4;
const TASK_COMM_LEN = 16;

export interface TraceDatWriterOptions {
  readonly pageSize?: number;
  /** CPUs the machine has (the file holds a data section for each). */
  readonly cpus: number;
  /** The trace clock the text output uses (--clock) and its offset from the records' CLOCK_MONOTONIC; default mono, 0. */
  readonly clock?: { readonly name: string; readonly offsetNs: number };
  /** Kernel symbols for kprobe addresses (default: /proc/kallsyms when an event is a kprobe). */
  readonly kallsyms?: Kallsyms;
}

export interface TraceDatSummary {
  readonly written: number;
  /** Records larger than a ring page, which the format cannot hold (the kernel caps events at a page too). */
  readonly tooLarge: number;
}

export class TraceDatWriter {
  private readonly fd: number;
  private readonly pageSize: number;
  private readonly perCpu: CpuRecords[] = [];
  private readonly lastComm = Buffer.alloc(TASK_COMM_LEN);
  private lastPid = -1;
  private readonly comms = new Map<number, string>();
  private readonly addressFields = new Map<number, number[]>();
  private readonly layouts = new Map<number, { entrySize: number; dataLocs: number[] }>();
  private readonly addresses = new Set<bigint>();
  private tooLarge = 0;
  private written = 0;

  constructor(path: string, private readonly events: readonly DatEvent[], private readonly opts: TraceDatWriterOptions) {
    this.pageSize = opts.pageSize ?? 4096;
    for (const e of events) {
      this.layouts.set(e.typeId, { entrySize: e.format.entrySize, dataLocs: dataLocOffsets(e.format) });
      const offs = addressFieldOffsets(e.format);
      if (offs.length) this.addressFields.set(e.typeId, offs);
    }
    this.fd = openSync(path, 'w');
  }

  /** One of our records (prefix + trace entry), as the printer got it. */
  readonly add = (raw: Buffer, off: number, len: number): void => {
    const entry = off + RECORD_PREFIX_SIZE;
    const type = raw.readUInt16LE(entry);
    const layout = this.layouts.get(type);
    if (!layout) return;
    const entryLen = entryLength(raw.subarray(entry, off + len), layout.entrySize, layout.dataLocs);
    if (!fitsPage(entryLen, this.pageSize)) {
      this.tooLarge++;
      return;
    }
    const cpu = recordCpu(raw, off);
    (this.perCpu[cpu] ??= new CpuRecords()).push(recordTime(raw, off) + (this.opts.clock?.offsetNs ?? 0), raw, entry, entryLen);
    this.noteComm(raw.readInt32LE(entry + ENTRY_PID), raw, off + PREFIX_COMM);
    for (const at of this.addressFields.get(type) ?? []) this.addresses.add(raw.readBigUInt64LE(entry + at));
  };

  /** saved_cmdlines keeps a pid's last comm; the string is made only when the pid or its comm changes. */
  private noteComm(pid: number, raw: Buffer, at: number): void {
    if (pid === this.lastPid && raw.compare(this.lastComm, 0, TASK_COMM_LEN, at, at + TASK_COMM_LEN) === 0) return;
    raw.copy(this.lastComm, 0, at, at + TASK_COMM_LEN);
    this.lastPid = pid;
    const nul = this.lastComm.indexOf(0);
    this.comms.set(pid, this.lastComm.toString('latin1', 0, nul < 0 ? TASK_COMM_LEN : nul));
  }

  /** Writes the file and closes it. */
  finish(): TraceDatSummary {
    try {
      const cpus = Math.max(this.opts.cpus, this.perCpu.length);
      const records = Array.from({ length: cpus }, (_, cpu) => this.perCpu[cpu]?.records() ?? []);
      const kallsyms = this.addresses.size ? (this.opts.kallsyms ?? Kallsyms.load()) : emptyKallsyms();
      const chunks = traceDatChunks({
        pageSize: this.pageSize, events: this.events, symbols: symbolsFor(this.addresses, kallsyms), comms: this.comms, cpus: records,
        ...(this.opts.clock ? { clock: this.opts.clock.name } : {}),
      });
      for (const c of chunks) for (let o = 0; o < c.length; ) o += writeSync(this.fd, c, o, c.length - o);
      this.written = records.reduce((n, r) => n + r.length, 0);
    } finally {
      closeSync(this.fd);
    }
    return { written: this.written, tooLarge: this.tooLarge };
  }
}
