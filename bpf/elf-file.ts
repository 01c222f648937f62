// The one ELF64 little-endian reader: header, section headers (named, with
// their bytes), program headers, symbol tables and SHT_REL entries, for any
// machine. The BPF object reader (elf-reader.ts) builds programs and maps on
// it; the uprobe symbol resolver (runtime/elf-symbols.ts) asks it for .symtab,
// .dynsym and the PT_LOAD segments of an executable. Layouts from the System V
// gABI (elf.h Elf64_Ehdr, Elf64_Shdr, Elf64_Phdr, Elf64_Sym, Elf64_Rel).
// Pure: bytes in, plain records out.

import { KprobeBpfError } from '../lib/errors.js';
import { EHDR_SIZE, ELFCLASS64, ELFDATA2LSB, ELFMAG, REL_SIZE, SHDR_SIZE, SHT, SYM_SIZE } from './elf.js';
import { cString } from './string-table.js';

/** Bytes that are not the ELF object the reader expected. */
export class ObjectReadError extends KprobeBpfError {}

export function need(cond: boolean, what: string): asserts cond {
  if (!cond) throw new ObjectReadError(what);
}

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

/** One program header (Elf64_Phdr). */
export interface ElfSegment {
  type: number;
  flags: number;
  offset: bigint;
  vaddr: bigint;
  filesz: bigint;
  memsz: bigint;
}

/** One entry of a symbol table (Elf64_Sym) of the file. */
export interface ElfSymbol {
  /** Index in its table (what relocations name). */
  index: number;
  name: string;
  /** STB_* (st_info >> 4). */
  bind: number;
  /** STT_* (st_info & 0xf). */
  type: number;
  shndx: number;
  value: bigint;
  size: bigint;
}

/** One SHT_REL entry (Elf64_Rel): `offset` within the section it applies to. */
export interface ElfRel {
  offset: number;
  symbol: ElfSymbol;
  type: number;
}

export interface ElfFile {
  /** e_type (ET_REL, ET_EXEC, ET_DYN). */
  type: number;
  /** e_machine. */
  machine: number;
  sections: ElfSection[];
  segments: ElfSegment[];
  section(name: string): ElfSection | undefined;
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** The e_ident checks: magic, 64-bit, little-endian. */
export function checkIdent(bytes: Uint8Array): void {
  need(bytes.length >= EHDR_SIZE, 'not an ELF file (too short)');
  need(ELFMAG.every((b, i) => bytes[i] === b), 'not an ELF file (bad magic)');
  need(bytes[4] === ELFCLASS64, 'not a 64-bit ELF file');
  need(bytes[5] === ELFDATA2LSB, 'not a little-endian ELF file');
}

/** The section header table, each section named from e_shstrndx's string table. */
export function readSections(bytes: Uint8Array): ElfSection[] {
  const v = view(bytes);
  const shoff = Number(v.getBigUint64(40, true));
  const shentsize = v.getUint16(58, true);
  const shnum = v.getUint16(60, true);
  const shstrndx = v.getUint16(62, true);
  if (shnum === 0) return [];
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
  return raw.map(({ nameOff, ...s }) => ({ ...s, name: cString(shstr, nameOff) }));
}

/** The program header table (empty in a relocatable object). */
export function readSegments(bytes: Uint8Array): ElfSegment[] {
  const v = view(bytes);
  const phoff = Number(v.getBigUint64(32, true));
  const phentsize = v.getUint16(54, true);
  const phnum = v.getUint16(56, true);
  need(phnum === 0 || phoff + phnum * phentsize <= bytes.length, 'program header table past end of file');
  return Array.from({ length: phnum }, (_, i) => {
    const at = phoff + i * phentsize;
    return {
      type: v.getUint32(at, true),
      flags: v.getUint32(at + 4, true),
      offset: v.getBigUint64(at + 8, true),
      vaddr: v.getBigUint64(at + 16, true),
      filesz: v.getBigUint64(at + 32, true),
      memsz: v.getBigUint64(at + 40, true),
    };
  });
}

/** Parses the headers of an ELF64 little-endian file of any machine. */
export function readElf(bytes: Uint8Array): ElfFile {
  checkIdent(bytes);
  const v = view(bytes);
  const sections = readSections(bytes);
  const byName = new Map(sections.map((s) => [s.name, s] as const));
  return { type: v.getUint16(16, true), machine: v.getUint16(18, true), sections, segments: readSegments(bytes), section: (name) => byName.get(name) };
}

/** Every entry of a symbol table section (index 0, the null symbol, included), named from its sh_link string table. */
export function readSymbols(elf: ElfFile, table: ElfSection): ElfSymbol[] {
  const strs = elf.sections[table.link]?.data ?? new Uint8Array(0);
  const v = view(table.data);
  return Array.from({ length: Math.floor(table.data.length / SYM_SIZE) }, (_, i) => {
    const at = i * SYM_SIZE;
    const info = v.getUint8(at + 4);
    return {
      index: i,
      name: cString(strs, v.getUint32(at, true)),
      bind: info >> 4,
      type: info & 0xf,
      shndx: v.getUint16(at + 6, true),
      value: v.getBigUint64(at + 8, true),
      size: v.getBigUint64(at + 16, true),
    };
  });
}

/** The entries of an SHT_REL section, each with the symbol it names. */
export function readRelocations(rel: ElfSection, symbols: readonly ElfSymbol[]): ElfRel[] {
  const v = view(rel.data);
  const out: ElfRel[] = [];
  for (let at = 0; at + REL_SIZE <= rel.data.length; at += REL_SIZE) {
    const info = v.getBigUint64(at + 8, true);
    const symbol = symbols[Number(info >> 32n)];
    need(symbol !== undefined, `relocation in ${rel.name} names symbol ${info >> 32n}, past the symbol table`);
    out.push({ offset: Number(v.getBigUint64(at, true)), symbol, type: Number(info & 0xffffffffn) });
  }
  return out;
}
