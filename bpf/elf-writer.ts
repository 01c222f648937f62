// Writes a relocatable BPF object (ELF64 ET_REL, EM_BPF) the way libbpf 1.x
// expects to open it (libbpf.c bpf_object__elf_collect and friends):
//
//   - one executable section per section name the caller gives (`kprobe/SYM`...);
//     programs sharing a name are concatenated in it, each covered by a global
//     STT_FUNC symbol (st_value its byte offset, st_size its length), which is how
//     clang lays out two functions with the same SEC() and how libbpf 1.x finds
//     them (libbpf.c bpf_object__add_programs);
//   - `license` holding "GPL\0" (needed for GPL-only helpers such as probe_read);
//   - `.maps`: one zeroed struct per map, a global STT_OBJECT symbol each, and
//     the BTF that describes it (BTF-defined maps, the __uint() convention);
//   - externs as undefined global NOTYPE symbols plus a VAR in the `.ksyms` DATASEC;
//   - `.rel<section>` SHT_REL sections with R_BPF_64_64 against those symbols;
//   - `.BTF` (+ `.BTF.ext` func_info/line_info), `.symtab`, `.strtab`, `.shstrtab`;
//   - extra non-allocated sections given by the caller (our metadata).

import { assemble, type AsmItem } from './asm.js';
import { KprobeBpfError } from '../lib/errors.js';
import { BtfBuilder, CORE_FIELD_BYTE_OFFSET, encodeBtfExt, FuncLinkage, IntEncoding, type TypeId, VarLinkage, type BtfExtSection, type CoreRelo, type LineInfo } from './btf.js';
import { coreAccessString, CoreTypeWriter } from './btf-core.js';
import { ByteWriter } from './byte-writer.js';
import {
  EHDR_SIZE,
  ELFCLASS64,
  ELFDATA2LSB,
  ELFMAG,
  EM_BPF,
  ET_REL,
  EV_CURRENT,
  R_BPF,
  REL_SIZE,
  SEC,
  SHDR_SIZE,
  SHF,
  SHN_UNDEF,
  SHT,
  STB,
  STT,
  STV_DEFAULT,
  SYM_SIZE,
} from './elf.js';
import type { ElfSymbol } from './elf-file.js';
import { decode, encodeInto, type Insn, LD_IMM64, SLOT_BYTES } from './insn.js';
import type { SectionSymbol } from './object-model.js';
import { StringTable } from './string-table.js';

export interface ProgramSpec {
  /** Function name (ELF symbol, BTF FUNC, and the kernel's prog name truncated to 15). */
  name: string;
  /** Section name libbpf derives the program type from, e.g. `kprobe/do_sys_open`; programs may share one. */
  section: string;
  /** Instructions; those with `ref` get a relocation. */
  insns?: readonly Insn[];
  /** Alternatively: already-encoded bytes plus relocations by instruction index. */
  bytes?: Uint8Array;
  relocations?: readonly { insnIndex: number; symbol: string; kind: 'map' | 'extern' }[];
  /** Local label symbols (name -> instruction index), so llvm-objdump shows `<name>` at jump targets. */
  labels?: ReadonlyMap<string, number>;
  /** Name of the struct the context argument points to (BTF FWD); void * when absent. */
  ctxStruct?: string;
}

export interface MapSpec {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  /** 0 lets libbpf pick (PERF_EVENT_ARRAY: number of possible CPUs). */
  maxEntries: number;
  mapFlags?: number;
  /**
   * Describe key and value by BTF type (`__type(key, int)`, `__type(value,
   * u8[valueSize])`) instead of by size: the kernel requires it of local
   * storage maps (bpf_local_storage_map_alloc_check: btf_key_type_id, btf_value_type_id).
   */
  btfKeyValue?: boolean;
}

export interface ExternSpec {
  /** Kernel symbol, resolved by libbpf from /proc/kallsyms (typeless __ksym). */
  name: string;
}

export interface ExtraSection {
  name: string;
  /** The contents; a string is written as UTF-8 straight into the file (no encoded copy first). */
  data: Uint8Array | string;
  /** ELF section type; default SHT_PROGBITS (libbpf then logs "skipping unrecognized data section"; SHT.NOTE is skipped quietly). */
  type?: number;
}

export interface ObjectSpec {
  license: string;
  programs: readonly ProgramSpec[];
  maps?: readonly MapSpec[];
  externs?: readonly ExternSpec[];
  extraSections?: readonly ExtraSection[];
  /** Emit .BTF.ext func_info (and line_info from insn comments). Default true. */
  btfExt?: boolean;
  /** File name used in line_info records. */
  sourceName?: string;
}

/** An ObjectSpec that cannot be written (a name defined twice, a reference to nothing...). */
export class ObjectWriteError extends KprobeBpfError {}

interface Section {
  name: string;
  type: number;
  flags: number;
  /**
   * The contents: bytes, UTF-8 text, or `size` bytes the writer fills in at
   * their place in the file (programs are encoded there, not into a copy first).
   */
  data: Uint8Array | string | { size: number; fill: (file: Uint8Array, view: DataView, at: number) => void };
  link?: number;
  info?: number;
  align: number;
  entsize?: number;
}

/** A symbol before it has its table index (offsets within its section, as numbers). */
type Sym = Omit<ElfSymbol, 'index' | 'value' | 'size'> & { value: number; size: number };

/** Bytes of one map definition in `.maps`: one pointer-sized slot per member. */
const MAP_MEMBER_BYTES = 8;

/** The members libbpf's parse_btf_map_def reads, in the order clang lays them out (`key`/`value`: typed by buildBtf). */
function mapMembers(m: MapSpec): [string, number][] {
  const out: [string, number][] = [['type', m.type]];
  if (m.maxEntries) out.push(['max_entries', m.maxEntries]);
  out.push(...(m.btfKeyValue ? [['key', m.keySize], ['value', m.valueSize]] as [string, number][] : [['key_size', m.keySize], ['value_size', m.valueSize]] as [string, number][]));
  if (m.mapFlags) out.push(['map_flags', m.mapFlags]);
  return out;
}

function programInsns(p: ProgramSpec): readonly Insn[] {
  // the writer only reads them: no copy
  if (p.insns) return p.insns;
  if (!p.bytes) throw new ObjectWriteError(`program '${p.name}' has neither insns nor bytes`);
  const insns = decode(p.bytes);
  for (const r of p.relocations ?? []) {
    const i = insns[r.insnIndex];
    if (!i) throw new ObjectWriteError(`program '${p.name}': relocation at instruction ${r.insnIndex} is past the end`);
    insns[r.insnIndex] = { ...i, ref: { kind: r.kind, symbol: r.symbol } };
  }
  return insns;
}

/** A program placed in its section. */
interface PlacedProgram {
  /** Index in ObjectSpec.programs. */
  index: number;
  spec: ProgramSpec;
  insns: readonly Insn[];
  /** Slot index of each instruction, and the total slots at the end (computed once; every pass needs them). */
  slotAt: readonly number[];
  /** Indices of the instructions with a relocation, a comment (line info), a CO-RE access. */
  refs: readonly number[];
  comments: readonly number[];
  cores: readonly number[];
  /** Bytes it contributes to its section. */
  size: number;
  /** Its bytes when given encoded (ProgramSpec.bytes); otherwise its instructions are encoded in place. */
  bytes?: Uint8Array;
  /** Byte offset within the section. */
  offset: number;
}

interface SectionGroup {
  name: string;
  programs: PlacedProgram[];
  /** Local label symbols, byte offsets within the section. */
  labels: SectionSymbol[];
}

/**
 * What the writer's later passes need of a program's instructions, in one
 * pass: the instructions come from many builders, so reading a field is a
 * megamorphic lookup, and each pass over all of them used to repeat those.
 */
function scanProgram(insns: readonly Insn[]): Pick<PlacedProgram, 'slotAt' | 'refs' | 'comments' | 'cores'> {
  const slotAt = new Array<number>(insns.length + 1);
  const refs: number[] = [];
  const comments: number[] = [];
  const cores: number[] = [];
  let slot = 0;
  for (let k = 0; k < insns.length; k++) {
    const i = insns[k]!;
    slotAt[k] = slot;
    slot += i.code === LD_IMM64 ? 2 : 1;
    if (i.ref) refs.push(k);
    if (i.comment !== undefined) comments.push(k);
    if (i.core) cores.push(k);
  }
  slotAt[insns.length] = slot;
  return { slotAt, refs, comments, cores };
}

/**
 * Sections in first-seen order, each holding its programs back to back in the
 * order given: the layout clang produces for functions sharing a SEC().
 */
function groupBySection(programs: readonly ProgramSpec[]): SectionGroup[] {
  const groups = new Map<string, SectionGroup>();
  programs.forEach((spec, index) => {
    // libbpf rejects programs whose offset or size is not a whole number of instructions.
    if (!spec.insns && spec.bytes && spec.bytes.length % SLOT_BYTES) {
      throw new ObjectWriteError(`program '${spec.name}' is ${spec.bytes.length} bytes, not a multiple of ${SLOT_BYTES}`);
    }
    const insns = programInsns(spec);
    const scan = scanProgram(insns);
    const bytes = spec.insns ? undefined : spec.bytes;
    let g = groups.get(spec.section);
    if (!g) groups.set(spec.section, (g = { name: spec.section, programs: [], labels: [] }));
    const last = g.programs[g.programs.length - 1];
    const placed: PlacedProgram = { index, spec, insns, ...scan, size: bytes ? bytes.length : scan.slotAt[insns.length]! * SLOT_BYTES, offset: last ? last.offset + last.size : 0 };
    if (bytes) placed.bytes = bytes;
    g.programs.push(placed);
  });
  for (const g of groups.values()) {
    // One symbol per address (llvm-objdump shows one name per address): the
    // function symbols own their starts, then the first label wins (disassemble() does the same).
    const taken = new Set<number>(g.programs.map((p) => p.offset));
    for (const p of g.programs) {
      const end = p.slotAt[p.insns.length]!;
      for (const [name, idx] of p.spec.labels ?? []) {
        const address = p.offset + (idx < p.insns.length ? p.slotAt[idx]! : end) * SLOT_BYTES;
        if (taken.has(address)) continue;
        taken.add(address);
        g.labels.push({ name, address });
      }
    }
  }
  return [...groups.values()];
}

/** A section's programs back to back, as they are in the file. */
function sectionContents(g: SectionGroup): Extract<Section['data'], { size: number }> {
  const last = g.programs[g.programs.length - 1];
  return {
    size: last ? last.offset + last.size : 0,
    fill: (file, view, at) => {
      for (const p of g.programs) {
        if (p.bytes) file.set(p.bytes, at + p.offset);
        else encodeInto(p.insns, view, at + p.offset);
      }
    },
  };
}

/** A section's programs encoded into a buffer of their own. */
function sectionBytes(g: SectionGroup): Uint8Array {
  const c = sectionContents(g);
  const out = new Uint8Array(c.size);
  c.fill(out, new DataView(out.buffer), 0);
  return out;
}

export interface ProgramPlacement {
  name: string;
  section: string;
  /** Byte offset of the program within its section (its symbol's st_value). */
  offset: number;
  /** Bytes (its symbol's st_size). */
  size: number;
  /** Every symbol writeObject puts in the section (functions and labels), shared by its programs. */
  sectionSymbols: readonly SectionSymbol[];
  /** The section's contents, shared by its programs. */
  sectionBytes: Uint8Array;
}

/**
 * Where writeObject puts each program (same order as given): a caller can then
 * disassemble one program as llvm-objdump prints it inside a shared section:
 * `disassembleProgram({ ...spec, ...placement }, { relocations: [] })`, or
 * `disassemble(insns, { name, labels, address: offset, sectionSymbols, sectionBytes })`.
 */
export function placePrograms(programs: readonly ProgramSpec[]): ProgramPlacement[] {
  const out: ProgramPlacement[] = [];
  for (const g of groupBySection(programs)) {
    const sectionSymbols = [...g.programs.map((p) => ({ name: p.spec.name, address: p.offset })), ...g.labels].sort((a, b) => a.address - b.address);
    const bytes = sectionBytes(g);
    for (const p of g.programs) out[p.index] = { name: p.spec.name, section: g.name, offset: p.offset, size: p.size, sectionSymbols, sectionBytes: bytes };
  }
  return out;
}

/** Assembles DSL items straight into a ProgramSpec (labels become local symbols). */
export function programFromAsm(name: string, section: string, items: readonly AsmItem[], ctxStruct?: string): ProgramSpec {
  const a = assemble(items);
  const spec: ProgramSpec = { name, section, insns: a.insns, labels: a.labels };
  if (ctxStruct !== undefined) spec.ctxStruct = ctxStruct;
  return spec;
}

/** Builds the BTF for maps, externs and programs; returns the type ids the ELF side needs. */
function buildBtf(spec: ObjectSpec, mapOffsets: number[], mapSizes: number[]) {
  const btf = new BtfBuilder();
  const int = btf.int('int', 4, IntEncoding.SIGNED);
  // clang's name for the index type of arrays that only carry a number.
  const index = btf.int('__ARRAY_SIZE_TYPE__', 4, IntEncoding.NONE);
  const ptrToArray = new Map<number, TypeId>();
  // __uint(name, val) is `int (*name)[val]`: a pointer to an array of val ints.
  const uintField = (val: number): TypeId => {
    let id = ptrToArray.get(val);
    if (id === undefined) {
      const arr = btf.array(int, index, val);
      id = btf.ptr(arr);
      ptrToArray.set(val, id);
    }
    return id;
  };
  // __type(key, int) is `int *key`; __type(value, u8[N]) is `u8 (*value)[N]` (only 4-byte int keys are typed)
  let u8: TypeId | undefined;
  const typedField = (name: string, val: number): TypeId => {
    if (name === 'key') return btf.ptr(int);
    u8 ??= btf.int('unsigned char', 1, IntEncoding.NONE);
    return btf.ptr(btf.array(u8, index, val));
  };
  const maps = spec.maps ?? [];
  const mapVars = maps.map((m, i) => {
    const members = mapMembers(m).map(([name, val], k) => ({
      name, type: name === 'key' || name === 'value' ? typedField(name, val) : uintField(val), bitOffset: k * MAP_MEMBER_BYTES * 8,
    }));
    const st = btf.struct('', mapSizes[i]!, members);
    return btf.var(m.name, st, VarLinkage.GLOBAL);
  });
  const externs = spec.externs ?? [];
  const externVars = externs.map((e) => {
    // `extern const void NAME __ksym;`: typeless, libbpf retypes it to int.
    const cv = btf.const(0);
    return btf.var(e.name, cv, VarLinkage.EXTERN);
  });
  const funcIds = spec.programs.map((p) => {
    const ctxTarget = p.ctxStruct !== undefined ? btf.fwd(p.ctxStruct) : 0;
    const proto = btf.funcProto(int, [{ name: 'ctx', type: btf.ptr(ctxTarget) }]);
    return btf.func(p.name, proto, FuncLinkage.GLOBAL);
  });
  if (externVars.length) {
    btf.datasec(
      SEC.KSYMS,
      0,
      externVars.map((type) => ({ type, offset: 0, size: 1 })),
    );
  }
  if (mapVars.length) {
    const total = mapOffsets.length ? mapOffsets[mapOffsets.length - 1]! + mapSizes[mapSizes.length - 1]! : 0;
    btf.datasec(
      SEC.MAPS,
      total,
      mapVars.map((type, i) => ({ type, offset: mapOffsets[i]!, size: mapSizes[i]! })),
    );
  }
  return { btf, funcIds };
}

/** Line info from instruction comments: a record where each annotated run starts, appended to `out` with offsets in slots from the section's start. */
function lineInfoFor(p: PlacedProgram, file: string, out: LineInfo[]): void {
  const base = p.offset / SLOT_BYTES;
  const first = out.length;
  const { insns, slotAt } = p;
  for (const k of p.comments) out.push({ insnOff: base + slotAt[k]!, fileName: file, line: insns[k]!.comment!, lineNum: out.length - first + 1, col: 0 });
  // The kernel wants line_info[0] at instruction 0 (verifier.c check_btf_line),
  // and libbpf drops all line info when the main program has none.
  if (out.length === first || out[first]!.insnOff !== base) out.splice(first, 0, { insnOff: base, fileName: file, line: p.spec.name, lineNum: 0, col: 0 });
}

/** CO-RE field-offset relocations of a program's instructions, appended to `out` with offsets in slots from the section's start. */
function coreRelosFor(p: PlacedProgram, core: CoreTypeWriter, out: CoreRelo[]): void {
  const base = p.offset / SLOT_BYTES;
  const { insns, slotAt } = p;
  for (const k of p.cores) {
    const c = insns[k]!.core!;
    out.push({ insnOff: base + slotAt[k]!, typeId: core.add(c.root), access: coreAccessString(c), kind: CORE_FIELD_BYTE_OFFSET });
  }
}

/**
 * Externs declared by the caller plus any an instruction refers to, in
 * first-seen order. Reads only the instructions scanProgram found a reference
 * on (a few per program), not every instruction again.
 */
function collectExterns(spec: ObjectSpec, groups: readonly SectionGroup[]): ExternSpec[] {
  const seen = new Set<string>();
  const out: ExternSpec[] = [];
  const add = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    out.push({ name });
  };
  for (const e of spec.externs ?? []) add(e.name);
  const placed: PlacedProgram[] = [];
  for (const g of groups) for (const p of g.programs) placed[p.index] = p;
  for (const p of placed) {
    if (!p.spec.insns) {
      for (const r of p.spec.relocations ?? []) if (r.kind === 'extern') add(r.symbol);
      continue;
    }
    for (const k of p.refs) {
      const ref = p.insns[k]!.ref!;
      if (ref.kind === 'extern') add(ref.symbol);
    }
  }
  return out;
}

/** Every program, map and extern names one symbol: refuses a name given twice. */
function checkUniqueNames(spec: ObjectSpec): void {
  const names = new Set<string>();
  for (const n of [...spec.programs.map((p) => p.name), ...(spec.maps ?? []).map((m) => m.name), ...(spec.externs ?? []).map((e) => e.name)]) {
    if (names.has(n)) throw new ObjectWriteError(`symbol '${n}' defined twice`);
    names.add(n);
  }
}

/** Where each map's definition sits in `.maps`: back to back, one pointer-sized slot per member. */
interface MapLayout {
  sizes: number[];
  offsets: number[];
}

function layoutMaps(maps: readonly MapSpec[]): MapLayout {
  const sizes = maps.map((m) => mapMembers(m).length * MAP_MEMBER_BYTES);
  const offsets: number[] = [];
  maps.reduce((off, _m, i) => (offsets.push(off), off + sizes[i]!), 0);
  return { sizes, offsets };
}

/**
 * .BTF.ext: one record set per section, offsets relative to the section (libbpf
 * slices them per program by range and rebases them: adjust_prog_btf_ext_info).
 */
function btfExtFor(spec: ObjectSpec, groups: readonly SectionGroup[], btf: BtfBuilder, funcIds: readonly TypeId[]): Uint8Array | undefined {
  if (spec.btfExt === false || !spec.programs.length) return undefined;
  const file = spec.sourceName ?? 'kprobe-bpf';
  const core = new CoreTypeWriter(btf);
  const ext: BtfExtSection[] = groups.map((g) => {
    const lineInfo: LineInfo[] = [];
    const coreRelos: CoreRelo[] = [];
    for (const p of g.programs) lineInfoFor(p, file, lineInfo);
    for (const p of g.programs) coreRelosFor(p, core, coreRelos);
    return { section: g.name, funcInfo: g.programs.map((p) => ({ insnOff: p.offset / SLOT_BYTES, typeId: funcIds[p.index]! })), lineInfo, coreRelos };
  });
  return encodeBtfExt(btf, ext);
}

/** The section header table being built; index 0 is the null section. */
class SectionTable {
  readonly list: Section[] = [{ name: '', type: SHT.NULL, flags: 0, data: new Uint8Array(0), align: 0 }];
  add(s: Section): number {
    return this.list.push(s) - 1;
  }
  get length(): number {
    return this.list.length;
  }
}

/** Section indices the symbols and relocations refer to. */
interface DataSections {
  /** Per section group, its executable section. */
  groupSecIdx: number[];
  licenseIdx: number;
  licenseSize: number;
  /** -1 without maps. */
  mapsIdx: number;
}

const LICENSE_ENCODER = new TextEncoder();

/** Program sections, license, `.maps`, the caller's extra sections, `.BTF` and `.BTF.ext`, in that order. */
function addDataSections(t: SectionTable, spec: ObjectSpec, groups: readonly SectionGroup[], mapLayout: MapLayout, btf: Section['data'], btfExt: Uint8Array | undefined): DataSections {
  const groupSecIdx = groups.map((g) => t.add({ name: g.name, type: SHT.PROGBITS, flags: SHF.ALLOC | SHF.EXECINSTR, data: sectionContents(g), align: 8 }));
  const licenseBytes = LICENSE_ENCODER.encode(spec.license + '\0');
  const licenseIdx = t.add({ name: SEC.LICENSE, type: SHT.PROGBITS, flags: SHF.ALLOC | SHF.WRITE, data: licenseBytes, align: 1 });
  const mapsSize = mapLayout.sizes.reduce((a, b) => a + b, 0);
  // zeroes: the file's buffer already is
  const mapsIdx = spec.maps?.length ? t.add({ name: SEC.MAPS, type: SHT.PROGBITS, flags: SHF.ALLOC | SHF.WRITE, data: { size: mapsSize, fill: () => {} }, align: 8 }) : -1;
  for (const x of spec.extraSections ?? []) t.add({ name: x.name, type: x.type ?? SHT.PROGBITS, flags: 0, data: x.data, align: 8 });
  t.add({ name: SEC.BTF, type: SHT.PROGBITS, flags: 0, data: btf, align: 4 });
  if (btfExt) t.add({ name: SEC.BTF_EXT, type: SHT.PROGBITS, flags: 0, data: btfExt, align: 4 });
  return { groupSecIdx, licenseIdx, licenseSize: licenseBytes.length, mapsIdx };
}

interface SymbolTable {
  syms: Sym[];
  /** sh_info of .symtab: index of the first global. */
  firstGlobal: number;
  /** Global symbol name -> index. */
  index: Map<string, number>;
}

/** Locals (labels) first, as ELF requires, then programs, maps, externs and LICENSE. */
function buildSymbols(spec: ObjectSpec, groups: readonly SectionGroup[], d: DataSections, mapLayout: MapLayout): SymbolTable {
  const syms: Sym[] = [{ name: '', bind: STB.LOCAL, type: STT.NOTYPE, shndx: SHN_UNDEF, value: 0, size: 0 }];
  groups.forEach((g, k) => {
    for (const l of g.labels) syms.push({ name: l.name, bind: STB.LOCAL, type: STT.NOTYPE, shndx: d.groupSecIdx[k]!, value: l.address, size: 0 });
  });
  const firstGlobal = syms.length;
  const index = new Map<string, number>();
  const addSym = (s: Sym): void => {
    index.set(s.name, syms.length);
    syms.push(s);
  };
  const placed = new Map(groups.flatMap((g, k) => g.programs.map((p) => [p.index, { p, shndx: d.groupSecIdx[k]! }] as const)));
  spec.programs.forEach((prog, i) => {
    const { p, shndx } = placed.get(i)!;
    addSym({ name: prog.name, bind: STB.GLOBAL, type: STT.FUNC, shndx, value: p.offset, size: p.size });
  });
  (spec.maps ?? []).forEach((m, i) => addSym({ name: m.name, bind: STB.GLOBAL, type: STT.OBJECT, shndx: d.mapsIdx, value: mapLayout.offsets[i]!, size: mapLayout.sizes[i]! }));
  for (const e of spec.externs ?? []) addSym({ name: e.name, bind: STB.GLOBAL, type: STT.NOTYPE, shndx: SHN_UNDEF, value: 0, size: 0 });
  addSym({ name: 'LICENSE', bind: STB.GLOBAL, type: STT.OBJECT, shndx: d.licenseIdx, value: 0, size: d.licenseSize });
  return { syms, firstGlobal, index };
}

const hasRefs = (g: SectionGroup): boolean => g.programs.some((p) => p.refs.length > 0);

/** The SHT_REL entries of one section group: R_BPF_64_64 on each ld_imm64 with a ref, offsets relative to the section. */
function relocationEntries(g: SectionGroup, symbols: SymbolTable, mapsIdx: number): Uint8Array {
  const w = new ByteWriter(g.programs.reduce((n, p) => n + p.refs.length, 0) * REL_SIZE);
  for (const { spec: p, insns, offset, slotAt: at, refs } of g.programs) {
    for (const idx of refs) {
      const i = insns[idx]!;
      if (!i.ref) continue;
      const s = symbols.index.get(i.ref.symbol);
      if (s === undefined) throw new ObjectWriteError(`program '${p.name}' instruction ${idx} refers to unknown ${i.ref.kind} '${i.ref.symbol}'`);
      const want = i.ref.kind === 'map' ? mapsIdx : SHN_UNDEF;
      if (symbols.syms[s]!.shndx !== want) throw new ObjectWriteError(`program '${p.name}' instruction ${idx}: '${i.ref.symbol}' is not a ${i.ref.kind}`);
      if (i.code !== LD_IMM64) throw new ObjectWriteError(`program '${p.name}' instruction ${idx}: relocation on a non-ld_imm64 instruction`);
      // r_info: symbol index in the high half, type in the low half
      w.u64(offset + at[idx]! * SLOT_BYTES).u32(R_BPF['64_64']).u32(s);
    }
  }
  return w.finish();
}

/** `.rel<section>` per group with references, then `.symtab`, `.strtab` (relocations link to the symtab that follows them). */
function addSymbolSections(t: SectionTable, groups: readonly SectionGroup[], d: DataSections, symbols: SymbolTable): void {
  const symtabIdx = t.length + groups.filter(hasRefs).length;
  groups.forEach((g, k) => {
    if (!hasRefs(g)) return;
    t.add({ name: `.rel${g.name}`, type: SHT.REL, flags: SHF.INFO_LINK, data: relocationEntries(g, symbols, d.mapsIdx), link: symtabIdx, info: d.groupSecIdx[k]!, align: 8, entsize: REL_SIZE });
  });
  const strtab = new StringTable();
  const symw = new ByteWriter(symbols.syms.length * SYM_SIZE);
  for (const s of symbols.syms) symw.u32(strtab.add(s.name)).u8((s.bind << 4) | s.type).u8(STV_DEFAULT).u16(s.shndx).u64(s.value).u64(s.size);
  const strtabIdx = t.length + 1;
  if (t.add({ name: SEC.SYMTAB, type: SHT.SYMTAB, flags: 0, data: symw.finish(), link: strtabIdx, info: symbols.firstGlobal, align: 8, entsize: SYM_SIZE }) !== symtabIdx) {
    throw new ObjectWriteError('internal: symtab index mismatch');
  }
  t.add({ name: SEC.STRTAB, type: SHT.STRTAB, flags: 0, data: strtab.text(), align: 1 });
}

/** Adds `.shstrtab` last; returns its index and each section's name offset in it. */
function addSectionNames(t: SectionTable): { shstrIdx: number; nameOffs: number[] } {
  const shstrtab = new StringTable();
  const shstrIdx = t.add({ name: SEC.SHSTRTAB, type: SHT.STRTAB, flags: 0, data: new Uint8Array(0), align: 1 });
  const nameOffs = t.list.map((s) => shstrtab.add(s.name));
  t.list[shstrIdx]!.data = shstrtab.text();
  return { shstrIdx, nameOffs };
}

const TEXT_ENCODER = new TextEncoder();

/** A section's bytes in the file (text: its UTF-8 length, counted natively without encoding it). */
function sectionSize(s: Section): number {
  const d = s.data;
  if (d instanceof Uint8Array) return d.length;
  return typeof d === 'string' ? Buffer.byteLength(d, 'utf8') : d.size;
}

/** The file: ELF header, section data (each at its alignment), then the section header table. */
function layoutFile(sections: readonly Section[], nameOffs: readonly number[], shstrIdx: number): Uint8Array {
  // where everything goes first, then one buffer of exactly that size, written in place
  const alignUp = (at: number, n: number): number => Math.ceil(at / n) * n;
  let at = EHDR_SIZE;
  const sizes = sections.map(sectionSize);
  const offsets = sections.map((s, i) => {
    if (s.type === SHT.NULL) return 0;
    const off = alignUp(at, Math.max(1, s.align));
    at = off + sizes[i]!;
    return off;
  });
  const shoff = alignUp(at, 8);
  const bytes = new Uint8Array(shoff + sections.length * SHDR_SIZE);
  const h = new DataView(bytes.buffer);
  sections.forEach((s, i) => {
    if (s.type === SHT.NULL) return;
    const off = offsets[i]!;
    const d = s.data;
    if (d instanceof Uint8Array) bytes.set(d, off);
    else if (typeof d === 'string') TEXT_ENCODER.encodeInto(d, bytes.subarray(off, off + sizes[i]!));
    else d.fill(bytes, h, off);
  });
  const u64 = (off: number, v: number): void => {
    // values below 2^53: two 32-bit halves, no BigInt
    h.setUint32(off, v % 0x1_0000_0000, true);
    h.setUint32(off + 4, Math.floor(v / 0x1_0000_0000), true);
  };
  sections.forEach((s, i) => {
    const o = shoff + i * SHDR_SIZE;
    h.setUint32(o, nameOffs[i]!, true);
    h.setUint32(o + 4, s.type, true);
    u64(o + 8, s.flags);
    u64(o + 16, 0); // sh_addr
    u64(o + 24, offsets[i]!);
    u64(o + 32, sizes[i]!);
    h.setUint32(o + 40, s.link ?? 0, true);
    h.setUint32(o + 44, s.info ?? 0, true);
    u64(o + 48, s.align);
    u64(o + 56, s.entsize ?? 0);
  });
  writeElfHeader(bytes, shoff, sections.length, shstrIdx);
  return bytes;
}

/** Elf64_Ehdr of a relocatable EM_BPF object: no program headers, sections at `shoff`. */
function writeElfHeader(bytes: Uint8Array, shoff: number, shnum: number, shstrIdx: number): void {
  const h = new DataView(bytes.buffer);
  bytes.set([...ELFMAG, ELFCLASS64, ELFDATA2LSB, EV_CURRENT], 0);
  h.setUint16(16, ET_REL, true);
  h.setUint16(18, EM_BPF, true);
  h.setUint32(20, EV_CURRENT, true);
  h.setBigUint64(24, 0n, true); // e_entry
  h.setBigUint64(32, 0n, true); // e_phoff
  h.setBigUint64(40, BigInt(shoff), true);
  h.setUint32(48, 0, true); // e_flags
  h.setUint16(52, EHDR_SIZE, true);
  h.setUint16(54, 0, true); // e_phentsize
  h.setUint16(56, 0, true); // e_phnum
  h.setUint16(58, SHDR_SIZE, true);
  h.setUint16(60, shnum, true);
  h.setUint16(62, shstrIdx, true);
}

/** Writes the object; returns its bytes. Externs referenced by instructions need not be listed. */
export function writeObject(given: ObjectSpec): Uint8Array {
  const groups = groupBySection(given.programs);
  const spec: ObjectSpec = { ...given, externs: collectExterns(given, groups) };
  checkUniqueNames(spec);
  const mapLayout = layoutMaps(spec.maps ?? []);
  const { btf, funcIds } = buildBtf(spec, mapLayout.offsets, mapLayout.sizes);
  // .BTF.ext adds its strings to .BTF's table, so it is encoded first.
  const btfExt = btfExtFor(spec, groups, btf, funcIds);
  const t = new SectionTable();
  const data = addDataSections(t, spec, groups, mapLayout, btf.section(), btfExt);
  addSymbolSections(t, groups, data, buildSymbols(spec, groups, data, mapLayout));
  const { shstrIdx, nameOffs } = addSectionNames(t);
  return layoutFile(t.list, nameOffs, shstrIdx);
}
