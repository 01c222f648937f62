// The kernel's own BTF (/sys/kernel/btf/vmlinux, and a module's split BTF
// under /sys/kernel/btf/<module>) read the way kernel/trace/trace_btf.c and
// trace_probe.c read it for BTF probe arguments: a function's prototype by
// name, typedef/const/volatile chains, struct and union members by name
// (anonymous members searched as btf_find_struct_member does).
//
// Start-up matters and vmlinux BTF holds ~150k types: nothing is decoded up
// front. The first lookup walks the type headers once (lengths only, to know
// where each id starts) and indexes FUNC names; a type is decoded when a
// lookup touches it, and kept. A module's BTF is opened only when a lookup
// needs that module (bpf/btf-split-modules.ts says which one holds a name).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BtfError, Kind, parseBtfHeader, readBtfTypeAt, type BtfType, type TypeId } from './btf.js';
import { cString } from './string-table.js';
import { moduleLocator, SYS_KERNEL_BTF, type ModuleLocator } from './btf-split-modules.js';

export { SYS_KERNEL_BTF };
export const VMLINUX_BTF = `${SYS_KERNEL_BTF}/vmlinux`;

export interface FuncParam {
  /** The parameter's name ('' for a variadic `...`). */
  readonly name: string;
  readonly type: TypeId;
}

/** A FUNC and its FUNC_PROTO (kernel: btf_find_func_proto + btf_get_func_param). */
export interface FuncProto {
  readonly name: string;
  readonly funcId: TypeId;
  readonly protoId: TypeId;
  readonly params: readonly FuncParam[];
  /** 0 for a `void` function. */
  readonly returnType: TypeId;
  /** The BTF the ids belong to (vmlinux, or the module that holds the function). */
  readonly btf: KernelBtf;
}

/** A struct/union member found by name. */
export interface Member {
  readonly name: string;
  readonly type: TypeId;
  /** Bits from the start of the searched struct (anonymous members' offsets included). */
  readonly bitOffset: number;
  /** Width of a bitfield member (kind_flag structs), else 0. */
  readonly bitfieldSize: number;
  /** Member indices from the searched struct down through anonymous members to this one (CO-RE access string). */
  readonly accessIndices: readonly number[];
  /** kernel: the anon_offset btf_find_struct_member returns (bits to the anonymous member that holds it). */
  readonly anonBitOffset: number;
  /** kernel: member->offset as stored (bitfield size in the top byte when the holder has kind_flag). */
  readonly offsetWord: number;
}

/**
 * btf_find_struct_member's answer: the member, undefined when no member has
 * the name, or 'not-struct' when the type (or an anonymous member searched on
 * the way) is no struct/union (the kernel's ERR_PTR(-EINVAL)).
 */
export type MemberLookup = Member | undefined | 'not-struct';

export interface KernelBtf {
  /** The file read (vmlinux or a module's). */
  readonly path: string;
  /** The module this BTF is split BTF of; undefined for vmlinux. */
  readonly module: string | undefined;
  /**
   * The function's prototype (kernel: bpf_find_btf_id): vmlinux first, then
   * the loaded modules' BTF in load order. Only the modules that can hold
   * `name` are opened (kallsyms tags it with them); a name no module symbol
   * has (`MOD:SYM` as written, which the kernel looks up literally) opens none.
   */
  funcProto(name: string): FuncProto | undefined;
  /** A module's split BTF (ids and strings after vmlinux's), read on first use; undefined when there is none. */
  moduleBtf(name: string): KernelBtf | undefined;
  /** Type `id` decoded (id 0 is void). */
  type(id: TypeId): BtfType;
  /** Follows typedef/volatile/const/restrict/type_tag (kernel: btf_type_skip_modifiers). */
  skipModifiers(id: TypeId): { readonly id: TypeId; readonly type: BtfType };
  /** The first type of `kind` named `name` in this BTF (not its modules). */
  findNamed(kind: Kind, name: string): TypeId | undefined;
  /** kernel: btf_find_struct_member on `structId` (already past modifiers). */
  member(structId: TypeId, name: string): MemberLookup;
  /** The type's third header word (size or type id), read raw as the kernel's `type->size`/`type->type`. */
  headWord(id: TypeId): number;
  /** The word after the header, read raw as the kernel's btf_type_int() does whatever the kind. */
  intData(id: TypeId): number;
  /** The type spelt as in C ("struct file *", "size_t", "char[32]"). */
  typeName(id: TypeId): string;
  /** How many types this BTF holds (its base's included). */
  readonly typeCount: number;
}

const MODIFIERS: ReadonlySet<number> = new Set([Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG]);
/** kernel: BTF_ANON_STACK_MAX (trace_btf.c). */
const BTF_ANON_STACK_MAX = 16;
const VOID: BtfType = { id: 0, kind: Kind.UNKN, name: '' };

/** Words of kind data after struct btf_type (uapi/linux/btf.h). */
function kindDataWords(kind: number, vlen: number): number {
  switch (kind) {
    case Kind.INT: case Kind.VAR: case Kind.DECL_TAG: return 1;
    case Kind.ARRAY: return 3;
    case Kind.STRUCT: case Kind.UNION: case Kind.DATASEC: case Kind.ENUM64: return 3 * vlen;
    case Kind.ENUM: case Kind.FUNC_PROTO: return 2 * vlen;
    default: return 0;
  }
}

/** One BTF blob: vmlinux, or a module's split BTF on top of vmlinux's. */
class BtfFile implements KernelBtf {
  /** The blob as little-endian u32 words (the type section is word-aligned). */
  private readonly words: Uint32Array;
  /** Type section bounds, in words. */
  private readonly typeOff: number;
  private readonly typeEnd: number;
  private readonly strings: Uint8Array;
  /** First id and first string offset of this blob (non-zero for split BTF). */
  private readonly startId: number;
  private readonly startStr: number;
  private offsets: Uint32Array | undefined;
  private named: Map<string, TypeId> | undefined;
  private readonly decoded = new Map<TypeId, BtfType>();
  /** Module BTF opened so far (null: the module has none), vmlinux only. */
  private readonly modules = new Map<string, BtfFile | null>();

  constructor(
    readonly path: string,
    private bytes: Uint8Array,
    private readonly base: BtfFile | undefined,
    private readonly locator: ModuleLocator | undefined,
    readonly module: string | undefined = undefined,
  ) {
    const layout = parseBtfHeader(bytes);
    if (bytes.byteOffset % 4 !== 0) bytes = this.bytes = bytes.slice();
    if (layout.typeOff % 4 !== 0) throw new BtfError(`${path}: type section not word-aligned`);
    this.words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
    this.typeOff = layout.typeOff >>> 2;
    this.typeEnd = (layout.typeOff + layout.typeLen) >>> 2;
    this.strings = bytes.subarray(layout.strOff, layout.strOff + layout.strLen);
    this.startId = base ? base.typeCount : 1;
    this.startStr = base ? base.stringsLength : 0;
  }

  get stringsLength(): number { return this.startStr + this.strings.length; }

  get typeCount(): number { return this.startId + this.index().length; }

  /** kernel: btf_name_by_offset (an offset past the strings has no name). */
  str = (off: number): string => {
    if (off < this.startStr) return this.base!.str(off);
    const o = off - this.startStr;
    return o < this.strings.length ? cString(this.strings, o) : '';
  };

  /** Word offset of each own type's header, built on first use by walking the headers. */
  private index(): Uint32Array {
    if (this.offsets) return this.offsets;
    const w = this.words;
    // a type takes at least 3 words: that many slots are enough
    let found = new Uint32Array(Math.ceil((this.typeEnd - this.typeOff) / 3));
    let n = 0;
    for (let at = this.typeOff; at < this.typeEnd;) {
      found[n++] = at;
      const info = w[at + 1]!;
      at += 3 + kindDataWords((info >>> 24) & 0x1f, info & 0xffff);
    }
    found = found.slice(0, n);
    this.offsets = found;
    return found;
  }

  private own(id: TypeId): BtfFile {
    if (id < this.startId) {
      if (!this.base) throw new BtfError(`BTF type ${id} out of range`);
      return this.base.own(id);
    }
    if (id - this.startId >= this.index().length) throw new BtfError(`BTF type ${id} out of range in ${this.path}`);
    return this;
  }

  private headerAt(id: TypeId): number { return this.index()[id - this.startId]!; }

  type(id: TypeId): BtfType {
    if (id === 0) return VOID;
    const f = this.own(id);
    let t = f.decoded.get(id);
    if (!t) {
      t = readBtfTypeAt(f.bytes, f.headerAt(id) * 4, id, this.str);
      f.decoded.set(id, t);
    }
    return t;
  }

  headWord(id: TypeId): number {
    if (id === 0) return 0;
    const f = this.own(id);
    return f.words[f.headerAt(id) + 2]!;
  }

  intData(id: TypeId): number {
    if (id === 0) return 0;
    const f = this.own(id);
    return f.words[f.headerAt(id) + 3] ?? 0;
  }

  skipModifiers(id: TypeId): { id: TypeId; type: BtfType } {
    let t = this.type(id);
    for (let guard = 0; MODIFIERS.has(t.kind) && guard < 64; guard++) {
      id = t.type ?? 0;
      t = this.type(id);
    }
    return { id, type: t };
  }

  /**
   * The first FUNC named `name` (kernel: btf_find_by_name_kind scans from the
   * first id). Without decoding names: the name's offsets are found in the
   * string section (a native byte search), then the FUNC headers are matched
   * by name offset.
   */
  private findFunc(name: string): TypeId | undefined {
    return this.findNamed(Kind.FUNC, name);
  }

  /** The first type of `kind` named `name` (kernel: btf_find_by_name_kind). */
  findNamed(kind: Kind, name: string): TypeId | undefined {
    const key = `${kind}:${name}`;
    const cached = this.named?.get(key);
    if (cached !== undefined) return cached;
    const needle = Buffer.from(`\0${name}\0`, 'utf8');
    const nameOffs = new Set<number>();
    // split BTF names its own types with the base's strings too (libbpf's dedup reuses a string the base has),
    // and its own strings start with a name, not with the NUL vmlinux's start with
    for (let f: BtfFile | undefined = this; f; f = f.base) {
      const hay = Buffer.from(f.strings.buffer, f.strings.byteOffset, f.strings.byteLength);
      if (hay.subarray(0, needle.length - 1).equals(needle.subarray(1))) nameOffs.add(f.startStr);
      for (let at = hay.indexOf(needle); at >= 0; at = hay.indexOf(needle, at + 1)) nameOffs.add(f.startStr + at + 1);
    }
    if (nameOffs.size === 0) return undefined;
    const offsets = this.index();
    for (let i = 0; i < offsets.length; i++) {
      const at = offsets[i]!;
      if (((this.words[at + 1]! >>> 24) & 0x1f) !== kind || !nameOffs.has(this.words[at]!)) continue;
      (this.named ??= new Map()).set(key, this.startId + i);
      return this.startId + i;
    }
    return undefined;
  }

  private ownFuncProto(name: string): FuncProto | undefined {
    const funcId = this.findFunc(name);
    if (funcId === undefined) return undefined;
    const protoId = this.type(funcId).type ?? 0;
    const proto = this.type(protoId);
    if (proto.kind !== Kind.FUNC_PROTO) return undefined;
    return { name, funcId, protoId, params: proto.params ?? [], returnType: proto.type ?? 0, btf: this };
  }

  moduleBtf(name: string): KernelBtf | undefined {
    if (this.base) return this.base.moduleBtf(name);
    return this.openModule(name);
  }

  private openModule(name: string): BtfFile | undefined {
    let m = this.modules.get(name);
    if (m === undefined) {
      const path = this.locator?.path(name);
      // not loaded (yet): nothing kept, so a later modprobe is seen
      if (path === undefined) return undefined;
      // kernel: a module without BTF (or whose BTF does not read) holds no function
      try { m = new BtfFile(path, readFileSync(path), this, undefined, name); } catch { m = null; }
      this.modules.set(name, m);
    }
    return m ?? undefined;
  }

  funcProto(name: string): FuncProto | undefined {
    const own = this.ownFuncProto(name);
    if (own || this.base || !this.locator) return own;
    for (const mod of this.locator.holders(name)) {
      const p = this.openModule(mod)?.ownFuncProto(name);
      if (p) return p;
    }
    return undefined;
  }

  member(structId: TypeId, name: string): MemberLookup {
    // kernel: btf_find_struct_member — named members first, then anonymous ones from a stack (last pushed first)
    const stack: { id: TypeId; offset: number; path: number[] }[] = [];
    let type = this.type(structId);
    let base = 0;
    let path: number[] = [];
    for (;;) {
      if (type.kind !== Kind.STRUCT && type.kind !== Kind.UNION) return 'not-struct';
      const members = type.members ?? [];
      for (let i = 0; i < members.length; i++) {
        const m = members[i]!;
        if (m.name === '') {
          const inner = this.skipModifiers(m.type);
          if (stack.length < BTF_ANON_STACK_MAX) stack.push({ id: inner.id, offset: base + m.bitOffset, path: [...path, i] });
        } else if (m.name === name) {
          const bitfield = type.kindFlag === true;
          return {
            name,
            type: m.type,
            bitOffset: base + (bitfield ? m.bitOffset & 0xffffff : m.bitOffset),
            bitfieldSize: bitfield ? m.bitOffset >>> 24 : 0,
            accessIndices: [...path, i],
            anonBitOffset: base,
            offsetWord: m.bitOffset,
          };
        }
      }
      const next = stack.pop();
      if (!next) return undefined;
      type = this.type(next.id);
      base = next.offset;
      path = next.path;
    }
  }

  typeName(id: TypeId): string {
    return spell(this, id, '');
  }
}

/** C spelling of a type with `inner` as the declarator text (for pointers and arrays). */
function spell(btf: KernelBtf, id: TypeId, inner: string): string {
  const t = btf.type(id);
  const named = (prefix: string) => `${prefix}${t.name === '' ? '(anon)' : t.name}${inner ? ` ${inner}` : ''}`;
  switch (t.kind) {
    case Kind.UNKN: return `void${inner ? ` ${inner}` : ''}`;
    case Kind.INT: case Kind.FLOAT: case Kind.TYPEDEF: return named('');
    case Kind.STRUCT: return named('struct ');
    case Kind.UNION: return named('union ');
    case Kind.ENUM: case Kind.ENUM64: return named('enum ');
    case Kind.FWD: return named(t.kindFlag ? 'union ' : 'struct ');
    case Kind.PTR: return spell(btf, t.type ?? 0, `*${inner}`);
    case Kind.CONST: return `const ${spell(btf, t.type ?? 0, inner)}`;
    case Kind.VOLATILE: return `volatile ${spell(btf, t.type ?? 0, inner)}`;
    case Kind.RESTRICT: return spell(btf, t.type ?? 0, `restrict ${inner}`.trim());
    case Kind.TYPE_TAG: return spell(btf, t.type ?? 0, inner);
    case Kind.ARRAY: return spell(btf, t.array!.type, `${inner}[${t.array!.nelems}]`);
    case Kind.FUNC_PROTO: return `${spell(btf, t.type ?? 0, '')} (${inner})(...)`;
    default: return named('');
  }
}

/**
 * Where `--btf` points: a vmlinux BTF blob (e.g. a copy of another kernel's
 * /sys/kernel/btf/vmlinux, or the .BTF section of its vmlinux), or a
 * directory laid out as /sys/kernel/btf is (`vmlinux` and one file per
 * module, each its module's split BTF). Module BTF is read from the
 * directory, or beside a file named `vmlinux`; a blob by another name has none.
 */
export function btfLayout(path: string): { readonly vmlinux: string; readonly modulesDir: string | undefined } {
  if (existsSync(path) && statSync(path).isDirectory()) return { vmlinux: join(path, 'vmlinux'), modulesDir: path };
  return { vmlinux: path, modulesDir: path.endsWith('/vmlinux') ? path.slice(0, -'/vmlinux'.length) : undefined };
}

/**
 * Opens a kernel's BTF: `path` (see btfLayout), else the running kernel's.
 * Returns undefined when there is no such file (a kernel without BTF).
 */
export function openKernelBtf(path: string = VMLINUX_BTF): KernelBtf | undefined {
  const { vmlinux, modulesDir } = btfLayout(path);
  if (!existsSync(vmlinux)) return undefined;
  const locator = modulesDir === undefined ? undefined : moduleLocator(modulesDir);
  return new BtfFile(vmlinux, readFileSync(vmlinux), undefined, locator);
}

let running: KernelBtf | undefined | null = null;
/** The running kernel's BTF, opened once per process on first use (undefined: the kernel has none). */
export function runningKernelBtf(): KernelBtf | undefined {
  if (running === null) running = openKernelBtf();
  return running;
}

const opened = new Map<string, KernelBtf | undefined>();
/** `path`'s BTF (openKernelBtf), opened once per process (the running kernel's is runningKernelBtf's). */
export function kernelBtfAt(path: string): KernelBtf | undefined {
  if (path === VMLINUX_BTF) return runningKernelBtf();
  if (!opened.has(path)) opened.set(path, openKernelBtf(path));
  return opened.get(path);
}
