// Event probes compiled to a tracepoint program (BPF_PROG_TYPE_TRACEPOINT on
// the attached event, `tracepoint/SYS/EVENT`): its ctx is the attached
// event's raw trace record, laid out as that event's `format` file says. The
// program copies the record into its scratch value once (a ctx pointer may
// not be moved and read through), checks the `if` filter on the copy as the
// kernel's trigger filter does on the record, then reads each `$FIELD` from
// the copy the way get_event_field does (kernel: trace_eprobe.c).
import { R1, R2, R3, R6, R7, sizeFieldFor } from '../bpf/insn.js';
import { type AsmItem, Helper, alu64Imm, alu64Reg, annotate, call, ja, label, ldx, mov64Imm, mov64Reg, stx } from '../bpf/asm.js';
import type { AttachedEvent } from '../grammar/ast.js';
import { filterTypeOf, type CheckedExpr, type CheckedFilter, type EventField } from '../grammar/filter/index.js';
import { rulesAt } from '../grammar/kernel-rules/index.js';
import { PREFIX_COMM, PREFIX_CPU, RECORD_PREFIX_SIZE, TASK_COMM_LEN } from './abi.js';
import { emitFilter } from './filter-codegen.js';
import type { EventFieldSource, FetchProgram, ProbeProgram, RawRecordCopy } from './ir.js';

/** Room for an attached event's dynamic strings after its fixed fields (a longer string is not read whole). */
const DYNAMIC_WINDOW = 1024;
const align8 = (n: number) => (n + 7) & ~7;

/** kernel: get_event_field's choice, from the field's filter type (filter_assign_type, the same on 6.1 and 6.12). */
export function eventFieldSource(fields: readonly EventField[], name: string): EventFieldSource {
  const f = fields.find((x) => x.name === name);
  if (!f) throw new Error(`$${name}: the attached event has no such field (the grammar checks this)`);
  // the cpumask branch of filter_assign_type is not a string: any version's answer is the same here
  const type = filterTypeOf(f.type, rulesAt('6.1').filter);
  const string = type === 'dyn_string' ? 'dynamic' : type === 'rdyn_string' ? 'relative' : type === 'static_string' ? 'static'
    : type === 'ptr_string' ? 'pointer' : undefined;
  return { op: 'event-field', name, offset: f.offset, size: f.size, signed: f.signed, ...(string ? { string } : {}) };
}

/** Whether a filter tests a `__data_loc` string. */
function testsDynamic(e: CheckedExpr): boolean {
  switch (e.kind) {
    case 'and': case 'or': return e.terms.some(testsDynamic);
    case 'not': return testsDynamic(e.term);
    case 'pred': return e.pred.test.kind === 'string' && e.pred.test.source === 'dynamic';
  }
}

/** Whether the program reads an attached dynamic string: the record copy then holds room for them. */
function readsDynamic(fetches: readonly FetchProgram[], filter: CheckedFilter | undefined): boolean {
  const src = fetches.some((f) => f.source.op === 'event-field' && (f.source.string === 'dynamic' || f.source.string === 'relative'));
  return src || (filter !== undefined && testsDynamic(filter.expr));
}

/** The record copy's place (after the record the program builds, `recordBytes`) and size. */
export function attachedOf(point: AttachedEvent, fetches: readonly FetchProgram[], recordBytes: number): NonNullable<ProbeProgram['attached']> {
  const fixed = Math.max(8, ...point.fields.map((f) => f.offset + f.size));
  const filter = point.filter?.checked;
  const dynamic = readsDynamic(fetches, filter) ? DYNAMIC_WINDOW : 0;
  const raw: RawRecordCopy = { offset: align8(recordBytes) + RECORD_PREFIX_SIZE, size: align8(fixed) + dynamic, dynamicWindow: dynamic };
  return { raw, ...(filter ? { filter } : {}) };
}

/** r3 = the field's value, or its string's address in the copy (kernel: get_event_field). */
export function emitEventField(src: EventFieldSource, raw: RawRecordCopy): AsmItem[] {
  const at = raw.offset + src.offset;
  const addrOf = (extra: AsmItem[]): AsmItem[] => [...extra, alu64Reg('add', R3, R7), alu64Imm('add', R3, raw.offset)];
  switch (src.string) {
    // __data_loc: the low 16 bits are the string's offset from the record's start
    case 'dynamic': return addrOf([ldx(sizeFieldFor(4), R3, R7, at), alu64Imm('and', R3, 0xffff)]);
    // __rel_loc: from the field itself (the kernel adds it to the field's address)
    case 'relative': return addrOf([ldx(sizeFieldFor(4), R3, R7, at), alu64Imm('and', R3, 0xffff), alu64Imm('add', R3, src.offset)]);
    case 'static': return [mov64Reg(R3, R7), alu64Imm('add', R3, at)];
    // the kernel's reading of a `char *` field: its first char, as a (signed) char
    case 'pointer': return [ldx(sizeFieldFor(1), R3, R7, at), alu64Imm('lsh', R3, 56), alu64Imm('arsh', R3, 56)];
    default: {
      const size = src.size === 1 || src.size === 2 || src.size === 4 ? src.size : 8;
      const out: AsmItem[] = [ldx(sizeFieldFor(size), R3, R7, at)];
      if (src.signed && size < 8) out.push(alu64Imm('lsh', R3, 64 - size * 8), alu64Imm('arsh', R3, 64 - size * 8));
      return out;
    }
  }
}

/**
 * The record copy, then the `if` filter on it. The filter code reads an
 * entry at r7 + RECORD_PREFIX_SIZE and the CPU and comm at r7's prefix, so
 * r7 is moved to 32 bytes before the copy, where cpu and comm are put, for
 * the filter's span. A record the filter drops is no hit of the eprobe at
 * all (the kernel's trigger never runs): nothing is counted.
 */
export function emitAttached(p: ProbeProgram, fresh: (prefix: string) => string, exit: string): AsmItem[] {
  const a = p.attached;
  if (!a) return [];
  const { raw, filter } = a;
  const copy = annotate(`attached event record: ${raw.size} bytes of the tracepoint's ctx`, [
    mov64Reg(R1, R7), alu64Imm('add', R1, raw.offset),
    mov64Imm(R2, raw.size),
    mov64Reg(R3, R6),
    call(Helper.probe_read_kernel),
  ]);
  if (!filter) return copy;
  const shift = raw.offset - RECORD_PREFIX_SIZE;
  const keep = fresh('attached_keep');
  const reject = fresh('attached_reject');
  const prefix: AsmItem[] = [
    ldx(sizeFieldFor(4), R1, R7, PREFIX_CPU), stx(sizeFieldFor(4), R7, shift + PREFIX_CPU, R1),
  ];
  for (let i = 0; i < TASK_COMM_LEN; i += 8) prefix.push(ldx(sizeFieldFor(8), R1, R7, PREFIX_COMM + i), stx(sizeFieldFor(8), R7, shift + PREFIX_COMM + i, R1));
  const target = {
    program: p, capacity: RECORD_PREFIX_SIZE + raw.size, fresh, dynamicWindow: () => raw.dynamicWindow,
  };
  return [
    ...copy,
    ...annotate(`filter of the attached event: ${filter.text}`, [
      ...prefix,
      alu64Imm('add', R7, shift),
      ...emitFilter(target, filter, reject),
      alu64Imm('add', R7, -shift),
      ja(keep),
    ]),
    label(reject),
    ja(exit),
    label(keep),
  ];
}
