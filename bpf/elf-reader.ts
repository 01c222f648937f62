// Reads relocatable BPF objects: ours (bpf/elf-writer.ts) fully, clang-built
// libbpf objects well enough to list programs, maps, externs and sections.
// Programs are the global functions of executable sections, one per symbol
// even when several share a section, each sliced out with its relocations,
// labels and line-info comments rebased to its own first instruction.
// Pure: bytes in, a plain description out.

import { type Btf, type BtfExtSection, BtfError, type BtfType, Kind, parseBtf, parseBtfExt, VarLinkage } from './btf.js';
import { EM_BPF, R_BPF, SEC, SHF, SHN_UNDEF, SHT, STB, STT } from './elf.js';
import { type ElfFile, type ElfRel, type ElfSection, type ElfSymbol, need, ObjectReadError, readElf, readRelocations, readSymbols } from './elf-file.js';
import { decode, slotOffsets } from './insn.js';
import type { ObjectExtern, ObjectFile, ObjectMap, ObjectProgram, ProgramRelocation, SectionSymbol } from './object-model.js';
import { cString } from './string-table.js';

/** Parses an ELF64 little-endian BPF relocatable object. */
export function readObject(bytes: Uint8Array): ObjectFile {
  const elf = readElf(bytes);
  need(elf.machine === EM_BPF, `not a BPF object (e_machine ${elf.machine}, want ${EM_BPF})`);
  const symtab = elf.sections.find((s) => s.type === SHT.SYMTAB);
  const symbols = symtab ? readSymbols(elf, symtab) : [];
  const relocs = relocationsByTarget(elf, symbols);
  const kindOf = symbolKinds(elf);
  const programs = elf.sections.filter(isProgramSection).flatMap((sec) => sectionPrograms(sec, symbols, relocs.get(sec.index) ?? [], kindOf));
  const btf = readBtfSection(elf, SEC.BTF, parseBtf);
  const btfExt = btf ? readBtfSection(elf, SEC.BTF_EXT, (b) => parseBtfExt(b, btf)) : undefined;
  if (btfExt) for (const p of programs) putBackLineInfo(p, btfExt);
  const maps = [...btfMaps(elf, symbols, btf), ...legacyMaps(elf, symbols)];
  const licenseSec = elf.section(SEC.LICENSE);
  const license = licenseSec ? cString(licenseSec.data, 0) : undefined;
  return { sections: elf.sections, symbols, programs, maps, externs: externsOf(symbols, btf), license, btf, btfExt, section: elf.section };
}

/** Relocations, by the index of the section they apply to (sh_info). */
export function relocationsByTarget(elf: ElfFile, symbols: readonly ElfSymbol[]): Map<number, ElfRel[]> {
  return new Map(elf.sections.filter((s) => s.type === SHT.REL).map((s) => [s.info, readRelocations(s, symbols)] as const));
}

/** What a relocation's symbol is: a map (in `.maps` or legacy `maps`), an extern (undefined), or other. */
export function symbolKinds(elf: ElfFile): (s: ElfSymbol) => ProgramRelocation['kind'] {
  const maps = [elf.section(SEC.MAPS)?.index, elf.section('maps')?.index];
  return (s) => (s.shndx === SHN_UNDEF ? 'extern' : maps.includes(s.shndx) ? 'map' : 'other');
}

/** Executable sections that hold programs (clang puts subprograms in .text). */
const isProgramSection = (sec: ElfSection): boolean => (sec.flags & SHF.EXECINSTR) !== 0 && sec.type === SHT.PROGBITS && sec.size > 0 && sec.name !== '.text';

/**
 * The programs of one section. Several functions may share it (clang, two
 * functions with one SEC()): each global FUNC is a program at st_value,
 * st_size long (libbpf.c bpf_object__add_programs).
 */
export function sectionPrograms(sec: ElfSection, symbols: readonly ElfSymbol[], relocs: readonly ElfRel[], kindOf: (s: ElfSymbol) => ProgramRelocation['kind']): ObjectProgram[] {
  const here = symbols.filter((s) => s.shndx === sec.index);
  const funcs = here.filter((s) => s.type === STT.FUNC && s.bind !== STB.LOCAL).sort((a, b) => Number(a.value - b.value));
  // What llvm-objdump names addresses after: the section's named symbols, not the section symbol.
  const sectionSymbols: SectionSymbol[] = here.filter((s) => s.name && s.type !== STT.SECTION && s.type !== STT.FILE).map((s) => ({ name: s.name, address: Number(s.value) }));
  return funcs.map((f) => {
    const start = Number(f.value);
    need(start % 8 === 0 && start <= sec.size, `function ${f.name} at ${sec.name}+${start} is not on an instruction boundary inside its section`);
    const size = Math.min(Number(f.size) || sec.size - start, sec.size - start);
    const bytes = sec.data.subarray(start, start + size);
    const insns = decode(bytes);
    const indexOfSlot = new Map(slotOffsets(insns).map((s, i) => [s, i] as const));
    const p: ObjectProgram = { name: f.name, section: sec.name, offset: start, bytes, insns, relocations: [], labels: new Map(), sectionSymbols, sectionBytes: sec.data };
    p.relocations = programRelocations(p, sec, relocs, indexOfSlot, kindOf);
    p.labels = programLabels(p, sec, here, indexOfSlot);
    return p;
  });
}

/** The section's relocations that fall inside the program, rebased to it; map and extern loads get their `ref`. */
function programRelocations(p: ObjectProgram, sec: ElfSection, relocs: readonly ElfRel[], indexOfSlot: ReadonlyMap<number, number>, kindOf: (s: ElfSymbol) => ProgramRelocation['kind']): ProgramRelocation[] {
  const out: ProgramRelocation[] = [];
  for (const r of relocs) {
    if (r.offset < p.offset || r.offset >= p.offset + p.bytes.length) continue;
    const offset = r.offset - p.offset;
    const insnIndex = indexOfSlot.get(offset / 8);
    need(insnIndex !== undefined, `relocation at ${sec.name}+${r.offset} is not on an instruction boundary`);
    const kind = kindOf(r.symbol);
    out.push({ insnIndex, offset, symbol: r.symbol.name, type: r.type, kind });
    if (r.type === R_BPF['64_64'] && kind !== 'other') p.insns[insnIndex]!.ref = { kind, symbol: r.symbol.name };
  }
  return out;
}

/** Local NOTYPE symbols inside the program (its labels), name -> instruction index. */
function programLabels(p: ObjectProgram, sec: ElfSection, here: readonly ElfSymbol[], indexOfSlot: ReadonlyMap<number, number>): Map<string, number> {
  const labels = new Map<string, number>();
  const end = p.offset + p.bytes.length;
  for (const s of here) {
    if (s.bind !== STB.LOCAL || s.type !== STT.NOTYPE || !s.name) continue;
    const at = Number(s.value);
    // A label at the very end belongs to the function only at the section's end
    // (elsewhere that address is the next function's start).
    if (at < p.offset || at > end || (at === end && end !== sec.size)) continue;
    labels.set(s.name, indexOfSlot.get((at - p.offset) / 8) ?? p.insns.length);
  }
  return labels;
}

/** Parses one BTF section if present; a malformed one is an ObjectReadError naming the section. */
function readBtfSection<T>(elf: ElfFile, name: string, parse: (bytes: Uint8Array) => T): T | undefined {
  const sec = elf.section(name);
  if (!sec) return undefined;
  try {
    return parse(sec.data);
  } catch (e) {
    if (e instanceof BtfError) throw new ObjectReadError(`section ${name}: ${e.message}`, { cause: e });
    throw e;
  }
}

/**
 * Line info written by our writer carries each run's annotation; puts it back on
 * the instructions (line 0 is the writer's placeholder at instruction 0).
 * Records are section-relative; keeps the program's own.
 */
export function putBackLineInfo(p: ObjectProgram, btfExt: readonly BtfExtSection[]): void {
  const sec = btfExt.find((x) => x.section === p.section);
  if (!sec?.lineInfo.length) return;
  const indexOfSlot = new Map(slotOffsets(p.insns).map((s, i) => [s, i] as const));
  const first = p.offset / 8;
  for (const l of sec.lineInfo) {
    if (l.insnOff < first || l.insnOff >= first + p.bytes.length / 8) continue;
    const idx = indexOfSlot.get(l.insnOff - first);
    if (idx === undefined || l.lineNum === 0 || !l.line) continue;
    p.insns[idx]!.comment = l.line;
  }
}

/** BTF-defined maps: the VARs of the `.maps` DATASEC, at their symbol's offset. */
function btfMaps(elf: ElfFile, symbols: readonly ElfSymbol[], btf: Btf | undefined): ObjectMap[] {
  const mapsSec = elf.section(SEC.MAPS);
  if (!mapsSec || !btf) return [];
  const out: ObjectMap[] = [];
  for (const vi of btf.find(Kind.DATASEC, SEC.MAPS)?.vars ?? []) {
    const vt = btf.types[vi.type];
    if (!vt || vt.kind !== Kind.VAR) continue;
    const sym = symbols.find((s) => s.name === vt.name && s.shndx === mapsSec.index);
    out.push({ name: vt.name, offset: sym ? Number(sym.value) : vi.offset, ...mapDefFromBtf(btf, btf.resolve(vt.type ?? 0)) });
  }
  return out;
}

/** Legacy maps: struct bpf_map_def { type, key_size, value_size, max_entries, map_flags } per symbol of `maps`. */
function legacyMaps(elf: ElfFile, symbols: readonly ElfSymbol[]): ObjectMap[] {
  const sec = elf.section('maps');
  if (!sec) return [];
  const mv = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
  const out: ObjectMap[] = [];
  for (const s of symbols.filter((x) => x.shndx === sec.index && x.type !== STT.SECTION)) {
    const at = Number(s.value);
    if (at + 16 > sec.size) continue;
    const u = (k: number): number => (at + 4 * k + 4 <= sec.size ? mv.getUint32(at + 4 * k, true) : 0);
    out.push({ name: s.name, offset: at, type: u(0), keySize: u(1), valueSize: u(2), maxEntries: u(3), mapFlags: u(4) });
  }
  return out;
}

/** Undefined global symbols, with the DATASEC (`.ksyms`) that declares each as an extern VAR or FUNC. */
function externsOf(symbols: readonly ElfSymbol[], btf: Btf | undefined): ObjectExtern[] {
  const externSec = new Map<string, string>();
  const types = btf?.types ?? [];
  for (const t of types) {
    if (t.kind !== Kind.DATASEC) continue;
    for (const vi of t.vars ?? []) {
      const vt = types[vi.type];
      if (vt && (vt.kind === Kind.FUNC || (vt.kind === Kind.VAR && vt.linkage === VarLinkage.EXTERN))) externSec.set(vt.name, t.name);
    }
  }
  return symbols
    .filter((s) => s.index > 0 && s.shndx === SHN_UNDEF && s.bind !== STB.LOCAL && s.name)
    .map((s) => {
      const section = externSec.get(s.name);
      return section === undefined ? { name: s.name } : { name: s.name, section };
    });
}

/** Size in bytes of a BTF type (for __type(key, T) map members). */
export function btfSizeOf(btf: Btf, id: number): number {
  const t = btf.resolve(id);
  switch (t.kind) {
    case Kind.PTR:
      return 8;
    case Kind.ARRAY:
      return t.array!.nelems * btfSizeOf(btf, t.array!.type);
    default:
      return t.size ?? 0;
  }
}

/**
 * Reads a BTF-defined map struct the way libbpf's parse_btf_map_def does:
 * __uint(name, N) is a pointer to an array of N elements, __type(name, T) a
 * pointer to T whose size gives key_size/value_size.
 */
function mapDefFromBtf(btf: Btf, st: BtfType): Omit<ObjectMap, 'name' | 'offset'> {
  const def = { type: 0, keySize: 0, valueSize: 0, maxEntries: 0, mapFlags: 0 };
  const uint = (id: number): number => {
    const p = btf.resolve(id);
    if (p.kind !== Kind.PTR) return 0;
    const a = btf.resolve(p.type ?? 0);
    return a.kind === Kind.ARRAY ? a.array!.nelems : 0;
  };
  const pointee = (id: number): number => {
    const p = btf.resolve(id);
    return p.kind === Kind.PTR ? btfSizeOf(btf, p.type ?? 0) : 0;
  };
  const FIELDS: Record<string, (id: number) => void> = {
    type: (id) => (def.type = uint(id)),
    key_size: (id) => (def.keySize = uint(id)),
    value_size: (id) => (def.valueSize = uint(id)),
    max_entries: (id) => (def.maxEntries = uint(id)),
    map_flags: (id) => (def.mapFlags = uint(id)),
    key: (id) => (def.keySize = pointee(id)),
    value: (id) => (def.valueSize = pointee(id)),
  };
  for (const m of st.members ?? []) FIELDS[m.name]?.(m.type);
  return def;
}
