// The kernel's fetch type table (kernel/trace/trace_probe.c: probe_fetch_types[]),
// as data: storage size, signedness, the format-file type name and the
// printf fragment the `print fmt:` line uses.
import type { ArgType, BaseType } from '../grammar/ast.js';

export interface FetchType {
  readonly size: number;
  readonly signed: boolean;
  /** Type name in the format file (x8 shows as u8, char as u8 ...). */
  readonly fmttype: string;
  /** printf conversion in `print fmt:` for one value. */
  readonly fmt: string;
  /** Stored as a __data_loc u32 pointing at dynamic data. */
  readonly dynamic: boolean;
}

const basic = (size: number, signed: boolean, fmttype: string, fmt: string): FetchType =>
  ({ size, signed, fmttype, fmt, dynamic: false });
const str: FetchType = { size: 4, signed: true, fmttype: '__data_loc char[]', fmt: '\\"%s\\"', dynamic: true };

export const FETCH_TYPES: Readonly<Record<BaseType, FetchType>> = {
  u8: basic(1, false, 'u8', '%u'),
  u16: basic(2, false, 'u16', '%u'),
  u32: basic(4, false, 'u32', '%u'),
  u64: basic(8, false, 'u64', '%Lu'),
  s8: basic(1, true, 's8', '%d'),
  s16: basic(2, true, 's16', '%d'),
  s32: basic(4, true, 's32', '%d'),
  s64: basic(8, true, 's64', '%Ld'),
  x8: basic(1, false, 'u8', '0x%x'),
  x16: basic(2, false, 'u16', '0x%x'),
  x32: basic(4, false, 'u32', '0x%x'),
  x64: basic(8, false, 'u64', '0x%Lx'),
  char: basic(1, false, 'u8', "'%c'"),
  // kernel: symbol is an alias of the address type, printed with %pS
  symbol: basic(8, false, 'u64', '%pS'),
  string: str,
  ustring: str,
  symstr: str,
};

/** The fetch type an argument is stored as (a bitfield is stored in its container). */
export function fetchTypeOf(type: ArgType): FetchType {
  return FETCH_TYPES[type.base];
}
