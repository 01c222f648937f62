// The kernel's per-event `format` file (events/<grp>/<ev>/format), written
// from an EventFormat exactly as the kernel prints it (kernel/trace/
// trace_events.c: f_show). The compiler owns it: `compile --format` prints it,
// and the runtime only ever reads formats (from metadata or the kernel's file).
import type { EventFormat, FieldFormat } from './abi.js';

// The contract's types and record prefix, for importers that predate compiler/abi.ts.
export type { ArgField, EventFormat, FieldFormat } from './abi.js';
export { PREFIX_COMM, PREFIX_CPU, PREFIX_TGID, PREFIX_TS, RECORD_PREFIX_SIZE } from './abi.js';

/** The `field:` declaration: arrays as `TYPE NAME[]` (probe fields have len 0), __data_loc as is. */
function fieldDecl(f: FieldFormat): string {
  const bracket = f.ctype.indexOf('[');
  if (bracket < 0 || f.ctype.startsWith('__data_loc')) return `${f.ctype} ${f.name}`;
  return `${f.ctype.slice(0, bracket)} ${f.name}[]`;
}

function fieldLine(f: FieldFormat): string {
  return `\tfield:${fieldDecl(f)};\toffset:${f.offset};\tsize:${f.size};\tsigned:${f.signed ? 1 : 0};\n`;
}

/** The format file text for an event; `id` is the trace event type number (common_type). */
export function renderFormatFile(fmt: EventFormat, id: number): string {
  let s = `name: ${fmt.event}\nID: ${id}\nformat:\n`;
  for (const f of fmt.commonFields) s += fieldLine(f);
  s += '\n';
  for (const f of fmt.probeFields) s += fieldLine(f);
  for (const f of fmt.argFields) s += fieldLine(f);
  s += `\nprint fmt: ${fmt.printFmt}\n`;
  return s;
}
