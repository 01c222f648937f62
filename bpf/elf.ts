// ELF64 constants shared by the object writer and the ELF reader (System V
// gABI, elf.h) and the BPF-specific ones (EM_BPF, R_BPF_*), plus the map types
// and section names libbpf gives meaning to.

export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const EV_CURRENT = 1;
export const ET_REL = 1;
/** elf.h EM_BPF */
export const EM_BPF = 247;

/** e_ident[0..3]: "\x7fELF". */
export const ELFMAG = [0x7f, 0x45, 0x4c, 0x46] as const;

export const EHDR_SIZE = 64;
export const SHDR_SIZE = 64;
export const SYM_SIZE = 24;
export const REL_SIZE = 16;

export const SHT = {
  NULL: 0,
  PROGBITS: 1,
  SYMTAB: 2,
  STRTAB: 3,
  RELA: 4,
  NOTE: 7,
  NOBITS: 8,
  REL: 9,
  DYNSYM: 11,
} as const;

/** Program header types and flags (elf.h PT_*, PF_*). */
export const PT_LOAD = 1;
export const PF = { X: 0x1, W: 0x2, R: 0x4 } as const;

export const SHF = {
  WRITE: 0x1,
  ALLOC: 0x2,
  EXECINSTR: 0x4,
  INFO_LINK: 0x40,
} as const;

export const STB = { LOCAL: 0, GLOBAL: 1, WEAK: 2 } as const;
export const STT = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4, GNU_IFUNC: 10 } as const;
export const STV_DEFAULT = 0;
export const SHN_UNDEF = 0;
export const SHN_ABS = 0xfff1;

/** BPF relocation types (llvm BPF ELF relocations, elf.h R_BPF_*). */
export const R_BPF = {
  NONE: 0,
  /** 64-bit immediate of ld_imm64: maps and externs. */
  '64_64': 1,
  '64_ABS64': 2,
  '64_ABS32': 3,
  '64_NODYLD32': 4,
  '64_32': 10,
} as const;

/** Map types by their uapi name (enum bpf_map_type). */
export const MapType = {
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  STACK_TRACE: 7,
  LRU_HASH: 9,
  RINGBUF: 27,
  TASK_STORAGE: 29,
} as const;
export type MapType = (typeof MapType)[keyof typeof MapType];

/** Section names libbpf looks for (libbpf.c: MAPS_ELF_SEC, KSYMS_SEC, BTF_ELF_SEC, BTF_EXT_ELF_SEC). */
export const SEC = {
  MAPS: '.maps',
  KSYMS: '.ksyms',
  LICENSE: 'license',
  BTF: '.BTF',
  BTF_EXT: '.BTF.ext',
  SYMTAB: '.symtab',
  STRTAB: '.strtab',
  SHSTRTAB: '.shstrtab',
} as const;
