// `trace -o FILE.dat`: collects the records the printer prints (the same
// ones, after the -p filter) and writes trace.dat when the trace ends. The
// file is opened at once, so a path that cannot be written fails before
// anything is attached; records are kept in memory per CPU (the CPU data
// comes after kallsyms and the comm list, which are complete only at the end).
import { closeSync, openSync, writeSync } from 'node:fs';
import { PREFIX_COMM, RECORD_PREFIX_SIZE } from '../../compiler/format.js';
import { emptyKallsyms, Kallsyms } from '../kallsyms.js';
import { recordCpu, recordTime } from '../ring/record-prefix.js';
import type { DatEvent } from './event-formats.js';
import { traceDatChunks } from './file.js';
import { dataLocOffsets, entryLength } from './entry-length.js';
import { fitsPage, type DatRecord } from './ring-page.js';
import { addressFieldOffsets, symbolsFor } from './symbols.js';

/** struct trace_entry: type u16 at 0, pid s32 at 4. */
const ENTRY_PID = 4;
const TASK_COMM_LEN = 16;

export interface TraceDatWriterOptions {
  readonly pageSize?: number;
  /** CPUs the machine has (the file holds a data section for each). */
  readonly cpus: number;
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
  private readonly perCpu: DatRecord[][] = [];
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
    const whole = raw.subarray(off + RECORD_PREFIX_SIZE, off + len);
    const layout = this.layouts.get(whole.readUInt16LE(0));
    if (!layout) return;
    const view = Buffer.from(whole.subarray(0, entryLength(whole, layout.entrySize, layout.dataLocs)));
    if (!fitsPage(view.length, this.pageSize)) {
      this.tooLarge++;
      return;
    }
    (this.perCpu[recordCpu(raw, off)] ??= []).push({ ts: recordTime(raw, off), entry: view });
    const comm = raw.subarray(off + PREFIX_COMM, off + PREFIX_COMM + TASK_COMM_LEN);
    const nul = comm.indexOf(0);
    this.comms.set(view.readInt32LE(ENTRY_PID), comm.toString('latin1', 0, nul < 0 ? TASK_COMM_LEN : nul));
    for (const at of this.addressFields.get(view.readUInt16LE(0)) ?? []) this.addresses.add(view.readBigUInt64LE(at));
  };

  /** Writes the file and closes it. */
  finish(): TraceDatSummary {
    try {
      const cpus = Math.max(this.opts.cpus, this.perCpu.length);
      const records = Array.from({ length: cpus }, (_, cpu) => (this.perCpu[cpu] ?? []).sort((a, b) => a.ts - b.ts));
      const kallsyms = this.addresses.size ? (this.opts.kallsyms ?? Kallsyms.load()) : emptyKallsyms();
      const chunks = traceDatChunks({ pageSize: this.pageSize, events: this.events, symbols: symbolsFor(this.addresses, kallsyms), comms: this.comms, cpus: records });
      for (const c of chunks) for (let o = 0; o < c.length; ) o += writeSync(this.fd, c, o, c.length - o);
      this.written = records.reduce((n, r) => n + r.length, 0);
    } finally {
      closeSync(this.fd);
    }
    return { written: this.written, tooLarge: this.tooLarge };
  }
}
