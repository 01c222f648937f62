// Reads relocatable BPF objects: ours (bpf/elf-writer.ts) fully, clang-built
// libbpf objects well enough to list programs, maps, externs and sections.
// Programs are the global functions of executable sections, one per symbol
// even when several share a section, each sliced out with its relocations,
// labels and line-info comments rebased to its own first instruction.
// Pure: bytes in, a plain description out.

import { type Btf, type BtfExtSection, type BtfType, cString, Kind, parseBtf, parseBtfExt, VarLinkage } from './btf.js';
import { EHDR_SIZE, ELFCLASS64, ELFDATA2LSB, EM_BPF, R_BPF, REL_SIZE, SEC, SHDR_SIZE, SHF, SHN_UNDEF, SHT, STB, STT, SYM_SIZE } from './elf.js';
import type { SectionSymbol } from './disasm.js';
import { decode, type Insn, slotOffsets } from './insn.js';

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  align: number;
  entsize: number;
  /** Section contents (empty for SHT_NOBITS). */
  data: Uint8Array;
}

export interface ElfSymbol {
  index: number;
  name: string;
  bind: number;
  type: number;
  shndx: number;
  value: number;
  size: number;
}

export interface ProgramRelocation {
  /** Index into the program's `insns`. */
  insnIndex: number;
  /** Byte offset within the program. */
  offset: number;
  symbol: string;
  type: number;
  /** What the symbol is: a map in `.maps`, an undefined extern, or something else (data, subprogram). */
  kind: 'map' | 'extern' | 'other';
}

export interface ProgramInfo {
  name: string;
  section: string;
  /** Byte offset of the program within its section. */
  offset: number;
  bytes: Uint8Array;
  insns: Insn[];
  relocations: ProgramRelocation[];
  /** Local symbols inside the program (labels), name -> instruction index. */
  labels: Map<string, number>;
  /** Every named function/label symbol of its section (shared by its programs), for disassembleProgram. */
  sectionSymbols: SectionSymbol[];
  /** Its section's contents (bytes is the program's slice of it). */
  sectionBytes: Uint8Array;
}

export interface MapInfo {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags: number;
  /** Offset of the definition in `.maps` (or legacy `maps`). */
  offset: number;
}

export interface ObjectFile {
  sections: ElfSection[];
  symbols: ElfSymbol[];
  programs: ProgramInfo[];
  maps: MapInfo[];
  externs: { name: string; section?: string }[];
  license: string | undefined;
  btf: Btf | undefined;
  btfExt: BtfExtSection[] | undefined;
  section(name: string): ElfSection | undefined;
}

export class ObjectReadError extends Error {
  override name = 'ObjectReadError';
}

function need(cond: boolean, what: string): asserts cond {
  if (!cond) throw new ObjectReadError(what);
}

/** Parses an ELF64 little-endian BPF relocatable object. */
export function readObject(bytes: Uint8Array): ObjectFile {
  need(bytes.length >= EHDR_SIZE, 'not an ELF file (too short)');
  need(bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46, 'not an ELF file (bad magic)');
  need(bytes[4] === ELFCLASS64, 'not a 64-bit ELF file');
  need(bytes[5] === ELFDATA2LSB, 'not a little-endian ELF file');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const machine = v.getUint16(18, true);
  need(machine === EM_BPF, `not a BPF object (e_machine ${machine}, want ${EM_BPF})`);
  const shoff = Number(v.getBigUint64(40, true));
  const shentsize = v.getUint16(58, true);
  const shnum = v.getUint16(60, true);
  const shstrndx = v.getUint16(62, true);
  need(shentsize === SHDR_SIZE, `unexpected section header size ${shentsize}`);
  need(shoff + shnum * SHDR_SIZE <= bytes.length, 'section header table past end of file');

  const raw = Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * SHDR_SIZE;
    const type = v.getUint32(at + 4, true);
    const offset = Number(v.getBigUint64(at + 24, true));
    const size = Number(v.getBigUint64(at + 32, true));
    need(type === SHT.NOBITS || offset + size <= bytes.length, `section ${i} past end of file`);
    return {
      index: i,
      nameOff: v.getUint32(at, true),
      type,
      flags: Number(v.getBigUint64(at + 8, true)),
      offset,
      size,
      link: v.getUint32(at + 40, true),
      info: v.getUint32(at + 44, true),
      align: Number(v.getBigUint64(at + 48, true)),
      entsize: Number(v.getBigUint64(at + 56, true)),
      data: type === SHT.NOBITS ? new Uint8Array(0) : bytes.subarray(offset, offset + size),
    };
  });
  const shstr = raw[shstrndx]?.data ?? new Uint8Array(0);
  const sections: ElfSection[] = raw.map(({ nameOff, ...s }) => ({ ...s, name: cString(shstr, nameOff) }));
  const byName = new Map(sections.map((s) => [s.name, s] as const));

  // ---- symbols ----
  const symtab = sections.find((s) => s.type === SHT.SYMTAB);
  const symbols: ElfSymbol[] = [];
  if (symtab) {
    const strs = sections[symtab.link]?.data ?? new Uint8Array(0);
    const sv = new DataView(symtab.data.buffer, symtab.data.byteOffset, symtab.data.byteLength);
    for (let i = 0; i * SYM_SIZE < symtab.data.length; i++) {
      const at = i * SYM_SIZE;
      const info = sv.getUint8(at + 4);
      symbols.push({
        index: i,
        name: cString(strs, sv.getUint32(at, true)),
        bind: info >> 4,
        type: info & 0xf,
        shndx: sv.getUint16(at + 6, true),
        value: Number(sv.getBigUint64(at + 8, true)),
        size: Number(sv.getBigUint64(at + 16, true)),
      });
    }
  }

  const mapsSec = byName.get(SEC.MAPS);
  const legacyMapsSec = byName.get('maps');
  const symKind = (s: ElfSymbol): ProgramRelocation['kind'] => {
    if (s.shndx === SHN_UNDEF) return 'extern';
    if (s.shndx === mapsSec?.index || s.shndx === legacyMapsSec?.index) return 'map';
    return 'other';
  };

  // ---- relocations, by target section ----
  const relocsFor = new Map<number, { offset: number; sym: ElfSymbol; type: number }[]>();
  for (const s of sections) {
    if (s.type !== SHT.REL) continue;
    const rv = new DataView(s.data.buffer, s.data.byteOffset, s.data.byteLength);
    const list: { offset: number; sym: ElfSymbol; type: number }[] = [];
    for (let at = 0; at + REL_SIZE <= s.data.length; at += REL_SIZE) {
      const info = rv.getBigUint64(at + 8, true);
      const sym = symbols[Number(info >> 32n)];
      need(sym !== undefined, `relocation in ${s.name} names symbol ${info >> 32n}, past the symbol table`);
      list.push({ offset: Number(rv.getBigUint64(at, true)), sym, type: Number(info & 0xffffffffn) });
    }
    relocsFor.set(s.info, list);
  }

  // ---- programs: global functions in executable sections (clang puts subprograms in .text) ----
  const programs: ProgramInfo[] = [];
  for (const sec of sections) {
    if (!(sec.flags & SHF.EXECINSTR) || sec.type !== SHT.PROGBITS || sec.size === 0 || sec.name === '.text') continue;
    // Several functions may share a section (clang, two functions with one SEC()):
    // each global FUNC is a program at st_value, st_size long (libbpf.c bpf_object__add_programs).
    const funcs = symbols.filter((s) => s.shndx === sec.index && s.type === STT.FUNC && s.bind !== STB.LOCAL).sort((a, b) => a.value - b.value);
    // What llvm-objdump names addresses after: the section's named symbols, not the section symbol.
    const sectionSymbols = symbols
      .filter((s) => s.shndx === sec.index && s.name && s.type !== STT.SECTION && s.type !== STT.FILE)
      .map((s) => ({ name: s.name, address: s.value }));
    for (const f of funcs) {
      need(f.value % 8 === 0 && f.value <= sec.size, `function ${f.name} at ${sec.name}+${f.value} is not on an instruction boundary inside its section`);
      const size = Math.min(f.size || sec.size - f.value, sec.size - f.value);
      const body = sec.data.subarray(f.value, f.value + size);
      const insns = decode(body);
      const slotAt = slotOffsets(insns);
      const indexOfSlot = new Map(slotAt.map((s, i) => [s, i] as const));
      const relocations: ProgramRelocation[] = [];
      for (const r of relocsFor.get(sec.index) ?? []) {
        if (r.offset < f.value || r.offset >= f.value + size) continue;
        const off = r.offset - f.value;
        const insnIndex = indexOfSlot.get(off / 8);
        need(insnIndex !== undefined, `relocation at ${sec.name}+${r.offset} is not on an instruction boundary`);
        const kind = symKind(r.sym);
        relocations.push({ insnIndex, offset: off, symbol: r.sym.name, type: r.type, kind });
        const insn = insns[insnIndex]!;
        if (r.type === R_BPF['64_64'] && kind !== 'other') insn.ref = { kind, symbol: r.sym.name };
      }
      const labels = new Map<string, number>();
      for (const s of symbols) {
        if (s.shndx !== sec.index || s.bind !== STB.LOCAL || s.type !== STT.NOTYPE || !s.name) continue;
        // A label at the very end belongs to the function only at the section's end
        // (elsewhere that address is the next function's start).
        const end = f.value + size;
        if (s.value < f.value || s.value > end || (s.value === end && end !== sec.size)) continue;
        const slot = (s.value - f.value) / 8;
        labels.set(s.name, indexOfSlot.get(slot) ?? insns.length);
      }
      programs.push({ name: f.name, section: sec.name, offset: f.value, bytes: body, insns, relocations, labels, sectionSymbols, sectionBytes: sec.data });
    }
  }

  // ---- BTF ----
  const btfSec = byName.get(SEC.BTF);
  const btf = btfSec ? parseBtf(btfSec.data) : undefined;
  const btfExtSec = byName.get(SEC.BTF_EXT);
  const btfExt = btf && btfExtSec ? parseBtfExt(btfExtSec.data, btf) : undefined;

  // Line info written by our writer carries each run's annotation; put it back on
  // the instructions (line 0 is the writer's placeholder at instruction 0).
  for (const p of programs) {
    const sec = btfExt?.find((x) => x.section === p.section);
    if (!sec?.lineInfo.length) continue;
    const slotAt = slotOffsets(p.insns);
    const indexOfSlot = new Map(slotAt.map((s, i) => [s, i] as const));
    // Records are section-relative; keep this program's own.
    const first = p.offset / 8;
    for (const l of sec.lineInfo) {
      if (l.insnOff < first || l.insnOff >= first + p.bytes.length / 8) continue;
      const idx = indexOfSlot.get(l.insnOff - first);
      if (idx === undefined || l.lineNum === 0 || !l.line) continue;
      p.insns[idx]!.comment = l.line;
    }
  }

  // ---- maps ----
  const maps: MapInfo[] = [];
  if (mapsSec && btf) {
    const ds = btf.find(Kind.DATASEC, SEC.MAPS);
    for (const vi of ds?.vars ?? []) {
      const vt = btf.types[vi.type];
      if (!vt || vt.kind !== Kind.VAR) continue;
      const sym = symbols.find((s) => s.name === vt.name && s.shndx === mapsSec.index);
      maps.push({ name: vt.name, offset: sym?.value ?? vi.offset, ...mapDefFromBtf(btf, btf.resolve(vt.type ?? 0)) });
    }
  }
  if (legacyMapsSec) {
    // struct bpf_map_def { type, key_size, value_size, max_entries, map_flags } (libbpf legacy maps)
    const mv = new DataView(legacyMapsSec.data.buffer, legacyMapsSec.data.byteOffset, legacyMapsSec.data.byteLength);
    for (const s of symbols.filter((x) => x.shndx === legacyMapsSec.index && x.type !== STT.SECTION)) {
      if (s.value + 16 > legacyMapsSec.size) continue;
      const u = (k: number): number => (s.value + 4 * k + 4 <= legacyMapsSec.size ? mv.getUint32(s.value + 4 * k, true) : 0);
      maps.push({ name: s.name, offset: s.value, type: u(0), keySize: u(1), valueSize: u(2), maxEntries: u(3), mapFlags: u(4) });
    }
  }

  // ---- externs: undefined global symbols ----
  const externSec = new Map<string, string>();
  if (btf) {
    for (const t of btf.types) {
      if (t.kind !== Kind.DATASEC) continue;
      for (const vi of t.vars ?? []) {
        const vt = btf.types[vi.type];
        if (vt && (vt.kind === Kind.FUNC || (vt.kind === Kind.VAR && vt.linkage === VarLinkage.EXTERN))) externSec.set(vt.name, t.name);
      }
    }
  }
  const externs = symbols
    .filter((s) => s.index > 0 && s.shndx === SHN_UNDEF && s.bind !== STB.LOCAL && s.name)
    .map((s) => {
      const section = externSec.get(s.name);
      return section === undefined ? { name: s.name } : { name: s.name, section };
    });

  const licenseSec = byName.get(SEC.LICENSE);
  const license = licenseSec ? cString(licenseSec.data, 0) : undefined;

  return { sections, symbols, programs, maps, externs, license, btf, btfExt, section: (name) => byName.get(name) };
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
function mapDefFromBtf(btf: Btf, st: BtfType): Omit<MapInfo, 'name' | 'offset'> {
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
