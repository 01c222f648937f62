// One writer per fetch type, in the kernel's print formats
// (kernel/trace/trace_probe.c: DEFINE_BASIC_PRINT_TYPE_FUNC, print_type_string,
// print_type_symbol) and, for --json, as JSON values. A writer reads the value
// at buf[p] of the entry that starts at buf[entry] and formats it into out.
import { PRINT_KIND_SIZE } from '../../compiler/abi.js';
import type { BaseType } from '../../grammar/ast.js';
import type { Kallsyms } from '../kallsyms.js';
import type { OutBuffer } from './out-buffer.js';

export type ValueWriter = (out: OutBuffer, buf: Buffer, p: number, entry: number, entryEnd: number) => void;

/** Bytes each element occupies in the entry (strings are a u32 __data_loc). */
export const ELEMENT_SIZE: Readonly<Record<BaseType, number>> = PRINT_KIND_SIZE;

const FAULT = Buffer.from('(fault)', 'latin1');
const Q = 0x22; // "
const SQ = 0x27; // '

/** __data_loc (u32): low 16 bits offset from the entry start, high 16 bits length (0: the fetch faulted). */
// Reused to keep string writers allocation-free.
const span = { start: 0, end: 0 };
function dataLocInto(buf: Buffer, p: number, entry: number, entryEnd: number): boolean {
  const loc = buf.readUInt32LE(p);
  const len = loc >>> 16;
  if (len === 0) return false;
  span.start = entry + (loc & 0xffff);
  span.end = Math.min(span.start + len, entryEnd);
  return true;
}

/** Text writers: what the kernel's trace file prints. */
export function textWriters(ksyms: Kallsyms): Readonly<Record<BaseType, ValueWriter>> {
  const str: ValueWriter = (out, buf, p, entry, end) => {
    if (!dataLocInto(buf, p, entry, end)) return out.bytes(FAULT);
    out.byte(Q);
    out.cstr(buf, span.start, span.end);
    out.byte(Q);
  };
  // symstr: our BPF stores the 8-byte address in the dynamic area (compiler/
  // codegen.ts emitStore 'symstr'); the kernel's fetch_store_symstring stores
  // the text sprint_symbol() makes of it, which is %pS, rendered here. A
  // __data_loc of any other length holds that text already (a kernel entry).
  const symstr: ValueWriter = (out, buf, p, entry, end) => {
    if (!dataLocInto(buf, p, entry, end)) return out.bytes(FAULT);
    if (span.end - span.start !== SYMSTR_ADDR_SIZE) return str(out, buf, p, entry, end);
    out.byte(Q);
    out.bytes(ksyms.format(buf.readUInt32LE(span.start), buf.readUInt32LE(span.start + 4), 'pS'));
    out.byte(Q);
  };
  const hexPrefix = (out: OutBuffer): void => {
    out.byte(0x30);
    out.byte(0x78);
  };
  return {
    u8: (out, buf, p) => out.udec(buf[p]!),
    u16: (out, buf, p) => out.udec(buf.readUInt16LE(p)),
    u32: (out, buf, p) => out.udec(buf.readUInt32LE(p)),
    u64: (out, buf, p) => out.u64dec(buf.readUInt32LE(p), buf.readUInt32LE(p + 4)),
    s8: (out, buf, p) => out.sdec(buf.readInt8(p)),
    s16: (out, buf, p) => out.sdec(buf.readInt16LE(p)),
    s32: (out, buf, p) => out.sdec(buf.readInt32LE(p)),
    s64: (out, buf, p) => out.s64dec(buf.readUInt32LE(p), buf.readUInt32LE(p + 4)),
    x8: (out, buf, p) => (hexPrefix(out), out.hex32(buf[p]!)),
    x16: (out, buf, p) => (hexPrefix(out), out.hex32(buf.readUInt16LE(p))),
    x32: (out, buf, p) => (hexPrefix(out), out.hex32(buf.readUInt32LE(p))),
    x64: (out, buf, p) => (hexPrefix(out), out.hex64(buf.readUInt32LE(p), buf.readUInt32LE(p + 4))),
    char: (out, buf, p) => (out.byte(SQ), out.byte(buf[p]!), out.byte(SQ)),
    symbol: (out, buf, p) => out.bytes(ksyms.format(buf.readUInt32LE(p), buf.readUInt32LE(p + 4), 'pS')),
    string: str,
    ustring: str,
    symstr,
  };
}

/** Dynamic bytes our symstr fetch stores: the address. */
const SYMSTR_ADDR_SIZE = 8;

/** Writes src[start,end) up to the first NUL as the body of a JSON string. */
export function jsonStringBody(out: OutBuffer, src: Uint8Array, start: number, end: number): void {
  for (let i = start; i < end; i++) {
    const c = src[i]!;
    if (c === 0) break;
    if (c === 0x22 || c === 0x5c) {
      out.byte(0x5c);
      out.byte(c);
    } else if (c < 0x20) {
      out.ascii('\\u00');
      out.hex32(c, 2);
    } else out.byte(c);
  }
}

/**
 * JSON writers: integers as numbers (64-bit ones beyond 2^53 as decimal
 * strings, which JSON parsers would otherwise round), x-types and symbols as
 * "0x.." strings, strings as strings, faults as null.
 */
export function jsonWriters(ksyms: Kallsyms): Readonly<Record<BaseType, ValueWriter>> {
  const text = textWriters(ksyms);
  const quoted = (w: ValueWriter): ValueWriter => (out, buf, p, e, end) => {
    out.byte(Q);
    w(out, buf, p, e, end);
    out.byte(Q);
  };
  const str: ValueWriter = (out, buf, p, entry, end) => {
    if (!dataLocInto(buf, p, entry, end)) return out.ascii('null');
    out.byte(Q);
    jsonStringBody(out, buf, span.start, span.end);
    out.byte(Q);
  };
  // |v| < 2^53 <=> hi (of v, or of -v for negatives) below 0x200000.
  const u64: ValueWriter = (out, buf, p, e, end) => {
    if (buf.readUInt32LE(p + 4) < 0x200000) text.u64(out, buf, p, e, end);
    else quoted(text.u64)(out, buf, p, e, end);
  };
  const s64: ValueWriter = (out, buf, p, e, end) => {
    const hi = buf.readInt32LE(p + 4);
    if (hi < 0x200000 && hi >= -0x200000) text.s64(out, buf, p, e, end);
    else quoted(text.s64)(out, buf, p, e, end);
  };
  return {
    ...text,
    u64,
    s64,
    x8: quoted(text.x8),
    x16: quoted(text.x16),
    x32: quoted(text.x32),
    x64: quoted(text.x64),
    symbol: quoted(text.symbol),
    char: (out, buf, p) => {
      out.byte(Q);
      jsonStringBody(out, buf, p, p + 1);
      out.byte(Q);
    },
    string: str,
    ustring: str,
    // "sym+0x1/0x2 [mod]" or "0x.." holds nothing JSON must escape; a fault is null
    symstr: (out, buf, p, e, end) => (dataLocInto(buf, p, e, end) ? text.symstr(out, buf, p, e, end) : out.ascii('null')),
  };
}
