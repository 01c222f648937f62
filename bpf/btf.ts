// BTF (BPF Type Format) writer and reader, enough for what an object file of
// ours carries: BTF-defined maps in `.maps`, typeless `__ksym` externs in
// `.ksyms`, FUNC/FUNC_PROTO per program, and (in .BTF.ext) func_info and
// line_info. Layout from the kernel's Documentation/bpf/btf.rst and
// include/uapi/linux/btf.h.
//
//   .BTF:  header (24 bytes) | type section | string section
//   type:  struct btf_type { u32 name_off; u32 info; u32 size_or_type; } + kind data
//   info:  bits 0-15 vlen, bits 24-28 kind, bit 31 kind_flag

import { KprobeBpfError } from '../lib/errors.js';
import { ByteWriter } from './byte-writer.js';
import { cString, StringTable } from './string-table.js';

export const BTF_MAGIC = 0xeb9f;
export const BTF_VERSION = 1;
const BTF_HDR_LEN = 24;

/** BTF kinds (uapi/linux/btf.h BTF_KIND_*). */
export const Kind = {
  UNKN: 0,
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];
export const KIND_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(Kind).map(([k, v]) => [v, k]));

/** BTF_INT_* encoding bits. */
export const IntEncoding = { NONE: 0, SIGNED: 1, CHAR: 2, BOOL: 4 } as const;
/** VAR linkage (uapi/linux/btf.h enum btf_var_linkage... BTF_VAR_*). */
export const VarLinkage = { STATIC: 0, GLOBAL: 1, EXTERN: 2 } as const;
/** FUNC linkage (enum btf_func_linkage). */
export const FuncLinkage = { STATIC: 0, GLOBAL: 1, EXTERN: 2 } as const;

/** Type id; 0 is `void`. */
export type TypeId = number;

export interface BtfMember {
  name: string;
  type: TypeId;
  /** Offset in bits (no bitfields here, kind_flag 0). */
  bitOffset: number;
}
export interface BtfParam {
  name: string;
  type: TypeId;
}
export interface BtfVarSecinfo {
  type: TypeId;
  offset: number;
  size: number;
}

/** One decoded type; the fields present depend on the kind. */
export interface BtfType {
  id: TypeId;
  kind: Kind;
  name: string;
  /** size (INT, STRUCT, UNION, ENUM, DATASEC, FLOAT) */
  size?: number;
  /** referenced type (PTR, TYPEDEF, CONST, VOLATILE, RESTRICT, FUNC, FUNC_PROTO return, VAR, TYPE_TAG, DECL_TAG) */
  type?: TypeId;
  /** FUNC/VAR linkage */
  linkage?: number;
  kindFlag?: boolean;
  vlen?: number;
  int?: { encoding: number; offset: number; bits: number };
  array?: { type: TypeId; indexType: TypeId; nelems: number };
  members?: BtfMember[];
  params?: BtfParam[];
  vars?: BtfVarSecinfo[];
  enumValues?: { name: string; value: bigint }[];
  /** DECL_TAG component index */
  componentIdx?: number;
}

/** Builds a .BTF section type by type; ids are handed out in call order from 1. */
export class BtfBuilder {
  readonly strings = new StringTable();
  private readonly types = new ByteWriter(4096);
  private count = 0;
  private readonly intIds = new Map<string, TypeId>();

  private head(name: string, kind: Kind, vlen: number, sizeOrType: number, kindFlag = false): TypeId {
    this.types.u32(this.strings.add(name));
    this.types.u32(((kindFlag ? 1 : 0) << 31) | ((kind & 0x1f) << 24) | (vlen & 0xffff));
    this.types.u32(sizeOrType);
    return ++this.count;
  }

  /** An INT (deduplicated by name+size+encoding). */
  int(name: string, size: number, encoding: number = IntEncoding.NONE): TypeId {
    const key = `${name}/${size}/${encoding}`;
    const have = this.intIds.get(key);
    if (have !== undefined) return have;
    const id = this.head(name, Kind.INT, 0, size);
    this.types.u32(((encoding & 0xf) << 24) | (size * 8));
    this.intIds.set(key, id);
    return id;
  }
  ptr(type: TypeId): TypeId {
    return this.head('', Kind.PTR, 0, type);
  }
  const(type: TypeId): TypeId {
    return this.head('', Kind.CONST, 0, type);
  }
  volatile(type: TypeId): TypeId {
    return this.head('', Kind.VOLATILE, 0, type);
  }
  typedef(name: string, type: TypeId): TypeId {
    return this.head(name, Kind.TYPEDEF, 0, type);
  }
  fwd(name: string, union = false): TypeId {
    return this.head(name, Kind.FWD, 0, 0, union);
  }
  array(elem: TypeId, index: TypeId, nelems: number): TypeId {
    const id = this.head('', Kind.ARRAY, 0, 0);
    this.types.u32(elem).u32(index).u32(nelems);
    return id;
  }
  /** An ENUM with no values: enough for a CO-RE local type, which libbpf matches by kind and name. */
  enumType(name: string, size: number, signed = false): TypeId {
    return this.head(name, Kind.ENUM, 0, size, signed);
  }
  union(name: string, size: number, members: readonly BtfMember[]): TypeId {
    const id = this.head(name, Kind.UNION, members.length, size);
    for (const m of members) this.types.u32(this.strings.add(m.name)).u32(m.type).u32(m.bitOffset);
    return id;
  }
  struct(name: string, size: number, members: readonly BtfMember[]): TypeId {
    const id = this.head(name, Kind.STRUCT, members.length, size);
    for (const m of members) this.types.u32(this.strings.add(m.name)).u32(m.type).u32(m.bitOffset);
    return id;
  }
  funcProto(ret: TypeId, params: readonly BtfParam[]): TypeId {
    const id = this.head('', Kind.FUNC_PROTO, params.length, ret);
    for (const p of params) this.types.u32(this.strings.add(p.name)).u32(p.type);
    return id;
  }
  func(name: string, proto: TypeId, linkage: number = FuncLinkage.GLOBAL): TypeId {
    return this.head(name, Kind.FUNC, linkage, proto);
  }
  var(name: string, type: TypeId, linkage: number = VarLinkage.GLOBAL): TypeId {
    const id = this.head(name, Kind.VAR, 0, type);
    this.types.u32(linkage);
    return id;
  }
  datasec(name: string, size: number, vars: readonly BtfVarSecinfo[]): TypeId {
    const id = this.head(name, Kind.DATASEC, vars.length, size);
    for (const v of vars) this.types.u32(v.type).u32(v.offset).u32(v.size);
    return id;
  }

  get typeCount(): number {
    return this.count;
  }

  /** The .BTF section bytes. */
  encode(): Uint8Array {
    const section = this.section();
    const out = new Uint8Array(section.size);
    section.fill(out, new DataView(out.buffer), 0);
    return out;
  }

  /**
   * The .BTF section as its size and a writer of its bytes at a place in a
   * bigger buffer (the object writer's file: no copy of the types or the
   * strings first). Nothing may be added to the builder after this.
   */
  section(): { size: number; fill: (file: Uint8Array, view: DataView, at: number) => void } {
    const types = this.types.writtenSoFar();
    const text = this.strings.text();
    const strLen = this.strings.size;
    return {
      size: BTF_HDR_LEN + types.length + strLen,
      fill: (file, view, at) => {
        view.setUint16(at, BTF_MAGIC, true);
        view.setUint8(at + 2, BTF_VERSION);
        view.setUint8(at + 3, 0);
        view.setUint32(at + 4, BTF_HDR_LEN, true);
        view.setUint32(at + 8, 0, true); // type_off, type_len (relative to header end)
        view.setUint32(at + 12, types.length, true);
        view.setUint32(at + 16, types.length, true); // str_off, str_len
        view.setUint32(at + 20, strLen, true);
        file.set(types, at + BTF_HDR_LEN);
        const strAt = at + BTF_HDR_LEN + types.length;
        const { written } = STRINGS_ENCODER.encodeInto(text, file.subarray(strAt, strAt + strLen));
        if (written !== strLen) throw new Error(`internal: BTF strings are ${written} bytes, counted ${strLen}`);
      },
    };
  }
}

const STRINGS_ENCODER = new TextEncoder();

/** A .BTF or .BTF.ext section that does not parse. */
export class BtfError extends KprobeBpfError {}

/** A parsed .BTF section. */
export interface Btf {
  /** types[id]; types[0] is void. */
  types: BtfType[];
  strings: Uint8Array;
  str(off: number): string;
  /** First type with this kind and name. */
  find(kind: Kind, name: string): BtfType | undefined;
  /** Follows CONST/VOLATILE/TYPEDEF/RESTRICT/TYPE_TAG to the underlying type. */
  resolve(id: TypeId): BtfType;
}

/** Where the header (struct btf_header) says the type and string sections are, absolute in `bytes`. */
export interface BtfLayout {
  typeOff: number;
  typeLen: number;
  strOff: number;
  strLen: number;
}

/** Reads and checks struct btf_header: magic, then type/string offsets relative to the header's end. */
export function parseBtfHeader(bytes: Uint8Array): BtfLayout {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < BTF_HDR_LEN || v.getUint16(0, true) !== BTF_MAGIC) throw new BtfError('not a BTF section (bad magic)');
  const hdrLen = v.getUint32(4, true);
  const layout = { typeOff: hdrLen + v.getUint32(8, true), typeLen: v.getUint32(12, true), strOff: hdrLen + v.getUint32(16, true), strLen: v.getUint32(20, true) };
  if (layout.typeOff + layout.typeLen > bytes.length || layout.strOff + layout.strLen > bytes.length) throw new BtfError('BTF section truncated');
  return layout;
}

/** Reads the u32/s32 words of the type section in order. */
class WordCursor {
  constructor(
    private readonly v: DataView,
    public at: number,
  ) {}
  u32(): number {
    this.at += 4;
    return this.v.getUint32(this.at - 4, true);
  }
  s32(): number {
    this.at += 4;
    return this.v.getInt32(this.at - 4, true);
  }
}

/** What follows struct btf_type for one kind; `head` is its third word (size or type). */
type KindReader = (t: BtfType, head: number, r: WordCursor, str: (off: number) => string) => void;

const asType: KindReader = (t, head) => {
  t.type = head;
};
const asSize: KindReader = (t, head) => {
  t.size = head;
};

/** The kind-specific data of each kind (uapi/linux/btf.h, the comment above each BTF_KIND_*). */
const KIND_READERS: Readonly<Record<number, KindReader>> = {
  [Kind.INT]: (t, head, r) => {
    t.size = head;
    const d = r.u32();
    t.int = { encoding: (d >>> 24) & 0xf, offset: (d >>> 16) & 0xff, bits: d & 0xff };
  },
  [Kind.PTR]: asType,
  [Kind.FWD]: asType,
  [Kind.TYPEDEF]: asType,
  [Kind.VOLATILE]: asType,
  [Kind.CONST]: asType,
  [Kind.RESTRICT]: asType,
  [Kind.TYPE_TAG]: asType,
  [Kind.FUNC]: (t, head) => {
    t.type = head;
    t.linkage = t.vlen;
  },
  [Kind.ARRAY]: (t, _head, r) => {
    t.array = { type: r.u32(), indexType: r.u32(), nelems: r.u32() };
  },
  [Kind.STRUCT]: (t, head, r, str) => readMembers(t, head, r, str),
  [Kind.UNION]: (t, head, r, str) => readMembers(t, head, r, str),
  [Kind.ENUM]: (t, head, r, str) => {
    t.size = head;
    t.enumValues = Array.from({ length: t.vlen ?? 0 }, () => ({ name: str(r.u32()), value: BigInt(r.s32()) }));
  },
  [Kind.ENUM64]: (t, head, r, str) => {
    t.size = head;
    t.enumValues = Array.from({ length: t.vlen ?? 0 }, () => {
      const name = str(r.u32());
      const lo = BigInt(r.u32());
      return { name, value: (BigInt(r.u32()) << 32n) | lo };
    });
  },
  [Kind.FUNC_PROTO]: (t, head, r, str) => {
    t.type = head;
    t.params = Array.from({ length: t.vlen ?? 0 }, () => ({ name: str(r.u32()), type: r.u32() }));
  },
  [Kind.VAR]: (t, head, r) => {
    t.type = head;
    t.linkage = r.u32();
  },
  [Kind.DATASEC]: (t, head, r) => {
    t.size = head;
    t.vars = Array.from({ length: t.vlen ?? 0 }, () => ({ type: r.u32(), offset: r.u32(), size: r.u32() }));
  },
  [Kind.FLOAT]: asSize,
  [Kind.DECL_TAG]: (t, head, r) => {
    t.type = head;
    t.componentIdx = r.s32();
  },
};

function readMembers(t: BtfType, head: number, r: WordCursor, str: (off: number) => string): void {
  t.size = head;
  t.members = Array.from({ length: t.vlen ?? 0 }, () => ({ name: str(r.u32()), type: r.u32(), bitOffset: r.u32() }));
}

/** One struct btf_type and its kind data at the cursor; `id` is its type id. */
function readBtfType(r: WordCursor, id: TypeId, str: (off: number) => string): BtfType {
  const nameOff = r.u32();
  const info = r.u32();
  const head = r.u32();
  const kind = ((info >>> 24) & 0x1f) as Kind;
  const t: BtfType = { id, kind, name: str(nameOff), vlen: info & 0xffff, kindFlag: info >>> 31 === 1 };
  const read = KIND_READERS[kind];
  if (!read) throw new BtfError(`unknown BTF kind ${kind} at type ${id}`);
  read(t, head, r, str);
  return t;
}

/**
 * The one type whose struct btf_type starts at byte `at` of `bytes` (the
 * kernel BTF reader decodes only the types a lookup touches).
 */
export function readBtfTypeAt(bytes: Uint8Array, at: number, id: TypeId, str: (off: number) => string): BtfType {
  return readBtfType(new WordCursor(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), at), id, str);
}

/** Every type of the type section, void first. */
export function readBtfTypes(bytes: Uint8Array, layout: BtfLayout, str: (off: number) => string): BtfType[] {
  const r = new WordCursor(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), layout.typeOff);
  const types: BtfType[] = [{ id: 0, kind: Kind.UNKN, name: '' }];
  while (r.at < layout.typeOff + layout.typeLen) types.push(readBtfType(r, types.length, str));
  return types;
}

const MODIFIERS = new Set<number>([Kind.CONST, Kind.VOLATILE, Kind.TYPEDEF, Kind.RESTRICT, Kind.TYPE_TAG]);

/** Parses a .BTF section (little-endian only, as on x86-64). */
export function parseBtf(bytes: Uint8Array): Btf {
  const layout = parseBtfHeader(bytes);
  const strings = bytes.subarray(layout.strOff, layout.strOff + layout.strLen);
  const str = (off: number): string => cString(strings, off);
  const types = readBtfTypes(bytes, layout, str);
  return {
    types,
    strings,
    str,
    find: (kind, name) => types.find((t) => t.kind === kind && t.name === name),
    resolve(id) {
      let t = types[id];
      for (let guard = 0; t && MODIFIERS.has(t.kind) && guard < 64; guard++) t = types[t.type ?? 0];
      if (!t) throw new BtfError(`BTF type ${id} out of range`);
      return t;
    },
  };
}

// ---- .BTF.ext ----

export interface FuncInfo {
  /** Instruction index (slot) within the section. */
  insnOff: number;
  typeId: TypeId;
}
export interface LineInfo {
  insnOff: number;
  fileName: string;
  line: string;
  lineNum: number;
  col: number;
}
/** A CO-RE relocation (uapi bpf_core_relo): which instruction, the local root type, the access string "0:i:j...", the kind. */
export interface CoreRelo {
  insnOff: number;
  typeId: TypeId;
  access: string;
  kind: number;
}
export interface BtfExtSection {
  section: string;
  funcInfo: FuncInfo[];
  lineInfo: LineInfo[];
  coreRelos?: CoreRelo[];
}

/** uapi/linux/bpf.h enum bpf_core_relo_kind: BPF_CORE_FIELD_BYTE_OFFSET. */
export const CORE_FIELD_BYTE_OFFSET = 0;

const BTF_EXT_HDR_LEN = 24; // magic..line_info_len
const BTF_EXT_HDR_CORE_LEN = 32; // + core_relo_off, core_relo_len
const CORE_RELO_REC = 16;
const FUNC_INFO_REC = 8;
const LINE_INFO_REC = 16;

/**
 * Encodes .BTF.ext with func_info and line_info. Its strings (section, file
 * and line text) go into the .BTF string table, so call before btf.encode().
 * Offsets are in bytes in the object file (libbpf divides by 8).
 */
export function encodeBtfExt(btf: BtfBuilder, sections: readonly BtfExtSection[]): Uint8Array {
  // every subsection's size is known from the record counts: one buffer, each written at its place
  let funcLen = 4;
  let lineLen = 4;
  let coreLen = 4;
  for (const s of sections) {
    if (s.funcInfo.length) funcLen += 8 + s.funcInfo.length * FUNC_INFO_REC;
    if (s.lineInfo.length) lineLen += 8 + s.lineInfo.length * LINE_INFO_REC;
    if (s.coreRelos?.length) coreLen += 8 + s.coreRelos.length * CORE_RELO_REC;
  }
  const hasLines = lineLen > 4;
  const hasCore = coreLen > 4;
  const hdrLen = hasCore ? BTF_EXT_HDR_CORE_LEN : BTF_EXT_HDR_LEN;
  const linesLen = hasLines ? lineLen : 0;
  const out = new Uint8Array(hdrLen + funcLen + linesLen + (hasCore ? coreLen : 0));
  const v = new DataView(out.buffer);
  v.setUint16(0, BTF_MAGIC, true);
  out[2] = BTF_VERSION;
  out[3] = 0;
  v.setUint32(4, hdrLen, true);
  v.setUint32(8, 0, true);
  v.setUint32(12, funcLen, true);
  v.setUint32(16, funcLen, true);
  v.setUint32(20, linesLen, true);
  if (hasCore) {
    v.setUint32(24, funcLen + linesLen, true);
    v.setUint32(28, coreLen, true);
  }
  let f = hdrLen;
  let l = hdrLen + funcLen;
  const u32 = (at: number, x: number): void => v.setUint32(at, x >>> 0, true);
  u32(f, FUNC_INFO_REC);
  f += 4;
  if (hasLines) u32(l, LINE_INFO_REC);
  l += 4;
  // strings are added in the order the sections list them (section, then each line's file and text), then the CO-RE ones
  for (const s of sections) {
    const secOff = btf.strings.add(s.section);
    if (s.funcInfo.length) {
      u32(f, secOff);
      u32(f + 4, s.funcInfo.length);
      f += 8;
      for (const r of s.funcInfo) {
        u32(f, r.insnOff * 8);
        u32(f + 4, r.typeId);
        f += FUNC_INFO_REC;
      }
    }
    if (s.lineInfo.length) {
      u32(l, secOff);
      u32(l + 4, s.lineInfo.length);
      l += 8;
      for (const r of s.lineInfo) {
        u32(l, r.insnOff * 8);
        u32(l + 4, btf.strings.add(r.fileName));
        u32(l + 8, btf.strings.add(r.line));
        // line_col: line number << 10 | column (kernel: BPF_LINE_INFO_LINE_NUM)
        u32(l + 12, ((r.lineNum & 0x3fffff) << 10) | (r.col & 0x3ff));
        l += LINE_INFO_REC;
      }
    }
  }
  if (!hasCore) return out;
  let c = hdrLen + funcLen + linesLen;
  u32(c, CORE_RELO_REC);
  c += 4;
  for (const s of sections) {
    if (!s.coreRelos?.length) continue;
    u32(c, btf.strings.add(s.section));
    u32(c + 4, s.coreRelos.length);
    c += 8;
    for (const r of s.coreRelos) {
      u32(c, r.insnOff * 8);
      u32(c + 4, r.typeId);
      u32(c + 8, btf.strings.add(r.access));
      u32(c + 12, r.kind);
      c += CORE_RELO_REC;
    }
  }
  return out;
}

/** Parses .BTF.ext func_info and line_info (CO-RE relocations are skipped). */
export function parseBtfExt(bytes: Uint8Array, btf: Btf): BtfExtSection[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < BTF_EXT_HDR_LEN || v.getUint16(0, true) !== BTF_MAGIC) throw new BtfError('not a BTF.ext section (bad magic)');
  const hdrLen = v.getUint32(4, true);
  const bySec = new Map<string, BtfExtSection>();
  const sec = (name: string): BtfExtSection => {
    let s = bySec.get(name);
    if (!s) bySec.set(name, (s = { section: name, funcInfo: [], lineInfo: [] }));
    return s;
  };
  const walk = (off: number, len: number, each: (s: BtfExtSection, rec: number) => void): void => {
    if (len === 0) return;
    let at = hdrLen + off;
    const end = at + len;
    const recSize = v.getUint32(at, true);
    at += 4;
    while (at < end) {
      const name = btf.str(v.getUint32(at, true));
      const n = v.getUint32(at + 4, true);
      at += 8;
      // kernel/libbpf: a record size of 0 or records past the section are corrupt (else this never ends)
      if (recSize === 0 || at + n * recSize > end) throw new BtfError(`.BTF.ext: ${n} records of ${recSize} bytes overrun their ${len}-byte section`);
      for (let i = 0; i < n; i++, at += recSize) each(sec(name), at);
    }
  };
  walk(v.getUint32(8, true), v.getUint32(12, true), (s, at) =>
    s.funcInfo.push({ insnOff: v.getUint32(at, true) / 8, typeId: v.getUint32(at + 4, true) }),
  );
  if (hdrLen >= 24) {
    walk(v.getUint32(16, true), v.getUint32(20, true), (s, at) => {
      const lc = v.getUint32(at + 12, true);
      s.lineInfo.push({
        insnOff: v.getUint32(at, true) / 8,
        fileName: btf.str(v.getUint32(at + 4, true)),
        line: btf.str(v.getUint32(at + 8, true)),
        lineNum: lc >>> 10,
        col: lc & 0x3ff,
      });
    });
  }
  return [...bySec.values()];
}
