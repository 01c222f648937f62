// The fields a filter can name on one event, in the kernel's lookup order
// (trace_find_event_field: the event's own fields, then the generic ones,
// then the common header), and the filter type each gets from its format
// type text (kernel: filter_assign_type, trace_define_generic_fields).
import type { FilterRules } from './versions.js';

/** One field of an event, as its format file describes it (a neutral view of `field:TYPE NAME; offset:; size:; signed:;`). */
export interface EventField {
  readonly name: string;
  /** The type text as the kernel keeps it: `u32`, `s64`, `__data_loc char[]`, `char[16]`, `u8[4]`, `char *`... */
  readonly type: string;
  readonly offset: number;
  readonly size: number;
  readonly signed: boolean;
}

/**
 * kernel: FILTER_* types. `cpu` and `comm` are the generic fields (the running
 * CPU, current->comm: not record data); `stacktrace` is a generic field of
 * size 0 that numeric tests accept and never match.
 */
export type FilterType = 'dyn_string' | 'rdyn_string' | 'static_string' | 'ptr_string' | 'cpumask' | 'other' | 'cpu' | 'comm' | 'stacktrace';

export interface FilterField extends EventField {
  readonly filterType: FilterType;
  readonly origin: 'event' | 'generic' | 'common';
}

/** kernel: filter_assign_type (6.1 has no cpumask_t branch). */
export function filterTypeOf(type: string, rules: FilterRules): FilterType {
  if (type.includes('__data_loc')) {
    if (type.includes('char')) return 'dyn_string';
    if (rules.cpus && type.includes('cpumask_t')) return 'cpumask';
  }
  if (type.includes('__rel_loc') && type.includes('char')) return 'rdyn_string';
  if (type.includes('[') && type.includes('char')) return 'static_string';
  if (type === 'char *' || type === 'const char *') return 'ptr_string';
  return 'other';
}

/** kernel: is_string_field. */
export const isStringField = (f: FilterField): boolean =>
  f.filterType === 'dyn_string' || f.filterType === 'rdyn_string' || f.filterType === 'static_string'
  || f.filterType === 'ptr_string' || f.filterType === 'comm';

/** kernel: trace_define_common_fields. */
export const COMMON_FIELDS: readonly EventField[] = [
  { name: 'common_type', type: 'unsigned short', offset: 0, size: 2, signed: false },
  { name: 'common_flags', type: 'unsigned char', offset: 2, size: 1, signed: false },
  { name: 'common_preempt_count', type: 'unsigned char', offset: 3, size: 1, signed: false },
  { name: 'common_pid', type: 'int', offset: 4, size: 4, signed: true },
];

/**
 * kernel: trace_define_generic_fields: offset 0 and size 0 (so `.function`
 * is refused on them and a numeric test on `stacktrace` never matches:
 * verified live); signed from the C type.
 */
function genericFields(rules: FilterRules): FilterField[] {
  const cpu = (name: string): FilterField => ({ name, type: 'int', offset: 0, size: 0, signed: true, filterType: 'cpu', origin: 'generic' });
  const ptr = (name: string, filterType: FilterType): FilterField => ({ name, type: 'char *', offset: 0, size: 0, signed: false, filterType, origin: 'generic' });
  return [
    cpu('CPU'), cpu('cpu'), cpu('common_cpu'), ptr('COMM', 'comm'), ptr('comm', 'comm'),
    ...(rules.stacktraceField ? [ptr('stacktrace', 'stacktrace'), ptr('STACKTRACE', 'stacktrace')] : []),
  ];
}

/** The field a filter's NAME refers to on an event with `fields`, or undefined (Field not found). */
export function findFilterField(name: string, fields: readonly EventField[], rules: FilterRules): FilterField | undefined {
  const own = fields.find((f) => f.name === name);
  if (own) return { ...own, filterType: filterTypeOf(own.type, rules), origin: 'event' };
  const generic = genericFields(rules).find((f) => f.name === name);
  if (generic) return generic;
  const common = COMMON_FIELDS.find((f) => f.name === name);
  return common ? { ...common, filterType: filterTypeOf(common.type, rules), origin: 'common' } : undefined;
}

/**
 * The event's own fields from its format file text (the common ones left
 * out). An array keeps its brackets in the type (`u8 cs[]` becomes `u8[]`):
 * filter_assign_type only asks whether there is a '['.
 */
export function fieldsFromFormat(format: string): EventField[] {
  const out: EventField[] = [];
  const re = /field:(.+?)\s+([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?;\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);/g;
  for (const m of format.matchAll(re)) {
    const [, type, name, array, offset, size, signed] = m;
    if (name!.startsWith('common_')) continue;
    out.push({ name: name!, type: `${type!}${array ?? ''}`, offset: Number(offset), size: Number(size), signed: signed === '1' });
  }
  return out;
}
