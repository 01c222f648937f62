// Lays out the trace entry of one probe event exactly as the kernel does
// (kernel/trace/trace_probe.c: traceprobe_update_arg offsets, __set_print_fmt,
// traceprobe_define_arg_fields): fields packed with no padding, in argument order.
import type { ProbeDefinition } from '../grammar/ast.js';
import { fetchTypeOf } from '../grammar/fetch-types.js';
import { FIELD_STRING_FUNC, FIELD_STRING_IP, FIELD_STRING_RETIP, type ArgField, type EventFormat, type FieldFormat } from './abi.js';
import type { Building } from '../lib/mutable.js';

/**
 * A field list as every event of a kind has it: one array, shared (see
 * SHARED_FIELD_LISTS), readonly by its type. Not frozen: V8 reads frozen
 * arrays and objects on slower paths, and codegen looks fields up in these.
 */
const shared = (fields: FieldFormat[]): readonly FieldFormat[] => fields;

// kernel: struct trace_entry
const COMMON_FIELDS = shared([
  { ctype: 'unsigned short', name: 'common_type', offset: 0, size: 2, signed: false },
  { ctype: 'unsigned char', name: 'common_flags', offset: 2, size: 1, signed: false },
  { ctype: 'unsigned char', name: 'common_preempt_count', offset: 3, size: 1, signed: false },
  { ctype: 'int', name: 'common_pid', offset: 4, size: 4, signed: true },
]);
const COMMON_SIZE = 8;

const ulong = (name: string, offset: number): FieldFormat =>
  ({ ctype: 'unsigned long', name, offset, size: 8, signed: false });

const ENTRY_PROBE_FIELDS = shared([ulong(FIELD_STRING_IP, COMMON_SIZE)]);
const RETURN_PROBE_FIELDS = shared([ulong(FIELD_STRING_FUNC, COMMON_SIZE), ulong(FIELD_STRING_RETIP, COMMON_SIZE + 8)]);
// an eprobe's entry has no probe fields
const NO_PROBE_FIELDS = shared([]);

/**
 * The field lists layoutEvent shares between events (every format's
 * commonFields, and its probeFields but for eprobes): the metadata writer
 * writes each one's JSON once, not once per event (compiler/metadata.ts).
 */
export const SHARED_FIELD_LISTS: readonly (readonly FieldFormat[])[] = [COMMON_FIELDS, ENTRY_PROBE_FIELDS, RETURN_PROBE_FIELDS, NO_PROBE_FIELDS];
if (SHARED_FIELD_LISTS.length > 10) throw new Error('internal: the metadata writer marks a shared field list by one digit');

/** One argument's value reference(s) in the print fmt argument list, each after ", ". */
function printRefs(name: string, dynamic: boolean, count: number | undefined): string {
  const one = (sub: string) => (dynamic ? `, __get_str(${sub})` : `, REC->${sub}`);
  if (count === undefined) return one(name);
  let out = '';
  for (let i = 0; i < count; i++) out += one(`${name}[${i}]`);
  return out;
}

/** The event's fields and print fmt, identical to the kernel's `format` file. */
export function layoutEvent(def: ProbeDefinition): EventFormat {
  // kernel: an eprobe's entry is the common header then its arguments (eprobe_trace_entry_head)
  const probe = def.tracer === 'eprobe' ? NO_PROBE_FIELDS : def.isReturn ? RETURN_PROBE_FIELDS : ENTRY_PROBE_FIELDS;
  let offset = COMMON_SIZE + probe.length * 8;
  const argFields: ArgField[] = [];
  // kernel: __set_print_fmt, "\"%s" then " NAME=FMT" per argument; PROBE_PRINT_EVENT has an empty head
  let fmt = def.tracer === 'eprobe' ? '' : def.isReturn ? '(%lx <- %lx)' : '(%lx)';
  let refs = '';
  for (const f of probe) refs += `, REC->${f.name}`;
  // strings built as they go (no part lists joined): this runs for every argument of every definition
  for (const arg of def.args) {
    const ft = fetchTypeOf(arg.type);
    const count = arg.type.arrayLength;
    const size = ft.size * (count ?? 1);
    const ctype = count === undefined ? ft.fmttype : `${ft.fmttype}[${count}]`;
    let fragment: string;
    if (count === undefined) fragment = `${arg.name}=${ft.fmt}`;
    else {
      fragment = `${arg.name}={`;
      for (let i = 0; i < count; i++) fragment += i === 0 ? ft.fmt : `,${ft.fmt}`;
      fragment += '}';
    }
    // two literals, not a conditional spread (a runtime copy per field): the key order is the metadata's
    argFields.push(count === undefined
      ? { ctype, name: arg.name, offset, size, signed: ft.signed, print: arg.type.base, printFragment: fragment }
      : { ctype, name: arg.name, offset, size, signed: ft.signed, print: arg.type.base, count, printFragment: fragment });
    fmt += ` ${fragment}`;
    refs += printRefs(arg.name, ft.isString, count);
    offset += size;
  }
  const format: Building<EventFormat> = {
    group: def.group,
    event: def.event,
    tracer: def.tracer,
    isReturn: def.isReturn,
    commonFields: COMMON_FIELDS,
    probeFields: probe,
    argFields,
    entrySize: offset,
    printFmt: `"${fmt}"${refs}`,
  };
  if (def.point.kind === 'event') format.attached = { system: def.point.system, event: def.point.event };
  return format;
}
