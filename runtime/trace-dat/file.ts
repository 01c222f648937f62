// A whole trace.dat, version 6 (trace-cmd.dat.v6(5)), from its parts: the
// initial format, header info, event formats, kallsyms, trace_printk formats
// (none: our events are no trace_printk), saved cmdlines, the CPU count,
// options (the trace clock), "flyrecord" with each CPU's (offset, size), then each CPU's pages at a
// page-aligned offset.
import { cmdlinesSection } from './cmdlines.js';
import { u32, u64 } from './bytes.js';
import { eventFormats, type DatEvent } from './event-formats.js';
import { headerInfo } from './header-info.js';
import { initialFormat } from './initial.js';
import { kallsymsSection, type DatSymbol } from './kallsyms-section.js';
import { optionsSection } from './options.js';
import { cpuPages, type DatRecord } from './ring-page.js';

export interface TraceDatContents {
  readonly pageSize: number;
  readonly events: readonly DatEvent[];
  readonly symbols: readonly DatSymbol[];
  readonly comms: ReadonlyMap<number, string>;
  /** The trace clock the timestamps are on (default mono). */
  readonly clock?: string;
  /** Per CPU (index = CPU number), records in time order. */
  readonly cpus: readonly (readonly DatRecord[])[];
}

const FLYRECORD = Buffer.from('flyrecord\0', 'latin1');

/** Everything before the CPU data, given each CPU's data size; the header's length does not depend on the offsets. */
function header(c: TraceDatContents, sizes: readonly number[], dataStart: number): Buffer {
  const parts: Buffer[] = [
    initialFormat(c.pageSize),
    headerInfo(c.pageSize),
    eventFormats(c.events),
    kallsymsSection(c.symbols),
    u32(0), // trace_printk formats: none
    cmdlinesSection(c.comms),
    u32(sizes.length),
    optionsSection(c.clock),
    FLYRECORD,
  ];
  let off = dataStart;
  for (const size of sizes) {
    parts.push(u64(off), u64(size));
    off += size;
  }
  return Buffer.concat(parts);
}

/** The file's bytes, as chunks to write in order. */
export function traceDatChunks(c: TraceDatContents): Buffer[] {
  const data = c.cpus.map((records) => cpuPages(records, c.pageSize));
  const sizes = data.map((d) => d.length);
  const headerLength = header(c, sizes, 0).length;
  const dataStart = Math.ceil(headerLength / c.pageSize) * c.pageSize;
  const head = header(c, sizes, dataStart);
  return [head, Buffer.alloc(dataStart - head.length), ...data];
}
