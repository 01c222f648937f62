// The kernel's fetch type table (kernel/trace/trace_probe.c: probe_fetch_types[],
// built by ASSIGN_FETCH_TYPE* in trace_probe.h) as data: the one copy, read by
// the grammar's type check (find_fetch_type) and by the compiler's record
// layout and `print fmt:` line.
import type { ArgType, BaseType } from './ast.js';

export interface FetchType {
  readonly name: BaseType;
  /** Bytes the value takes in the record (a string: its u32 __data_loc). */
  readonly size: number;
  readonly signed: boolean;
  /** kernel: is_string — stored as a __data_loc u32 pointing at dynamic data. */
  readonly isString: boolean;
  /** Type name in the format file (x8 shows as u8, char as u8 ...). */
  readonly fmttype: string;
  /** printf conversion in `print fmt:` for one value. */
  readonly fmt: string;
}

const basic = (name: BaseType, size: number, signed: boolean, fmttype: string, fmt: string): FetchType =>
  ({ name, size, signed, isString: false, fmttype, fmt });
const str = (name: BaseType): FetchType =>
  ({ name, size: 4, signed: true, isString: true, fmttype: '__data_loc char[]', fmt: '\\"%s\\"' });

export const FETCH_TYPES: Readonly<Record<BaseType, FetchType>> = {
  string: str('string'),
  ustring: str('ustring'),
  symstr: str('symstr'),
  u8: basic('u8', 1, false, 'u8', '%u'),
  u16: basic('u16', 2, false, 'u16', '%u'),
  u32: basic('u32', 4, false, 'u32', '%u'),
  u64: basic('u64', 8, false, 'u64', '%Lu'),
  s8: basic('s8', 1, true, 's8', '%d'),
  s16: basic('s16', 2, true, 's16', '%d'),
  s32: basic('s32', 4, true, 's32', '%d'),
  s64: basic('s64', 8, true, 's64', '%Ld'),
  x8: basic('x8', 1, false, 'u8', '0x%x'),
  x16: basic('x16', 2, false, 'u16', '0x%x'),
  x32: basic('x32', 4, false, 'u32', '0x%x'),
  x64: basic('x64', 8, false, 'u64', '0x%Lx'),
  char: basic('char', 1, false, 'u8', "'%c'"),
  // kernel: symbol is an alias of the address type, printed with %pS
  symbol: basic('symbol', 8, false, 'u64', '%pS'),
};

const isBaseType = (name: string): name is BaseType => Object.hasOwn(FETCH_TYPES, name);

/** The fetch type an argument is stored as (a bitfield is stored in its container). */
export function fetchTypeOf(type: ArgType): FetchType {
  return FETCH_TYPES[type.base];
}

/** The table entry named `name`, if any (kernel: the lookup loop of find_fetch_type). */
export function fetchTypeNamed(name: string): FetchType | undefined {
  return isBaseType(name) ? FETCH_TYPES[name] : undefined;
}
