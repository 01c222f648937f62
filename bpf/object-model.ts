// What a relocatable BPF object file holds, as the reader returns it and the
// writer and disassembler speak of it: its programs (functions of executable
// sections), maps, externs, and the named addresses of a section.

import type { Btf, BtfExtSection } from './btf.js';
import type { ElfSection, ElfSymbol } from './elf-file.js';
import type { Insn } from './insn.js';

/** A named address in an executable section (a function or label symbol), what llvm-objdump names addresses after. */
export interface SectionSymbol {
  name: string;
  /** Byte offset within the section (st_value). */
  address: number;
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

/** A program of the file: one global function of an executable section. */
export interface ObjectProgram {
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

/** A map definition of the file (BTF-defined in `.maps`, or legacy struct bpf_map_def in `maps`). */
export interface ObjectMap {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags: number;
  /** Offset of the definition in `.maps` (or legacy `maps`). */
  offset: number;
}

/** An undefined global symbol, with the BTF DATASEC that declares it (`.ksyms`) when there is one. */
export interface ObjectExtern {
  name: string;
  section?: string;
}

export interface ObjectFile {
  sections: ElfSection[];
  symbols: ElfSymbol[];
  programs: ObjectProgram[];
  maps: ObjectMap[];
  externs: ObjectExtern[];
  license: string | undefined;
  btf: Btf | undefined;
  btfExt: BtfExtSection[] | undefined;
  section(name: string): ElfSection | undefined;
}
