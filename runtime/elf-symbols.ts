// Our PATH:SYMBOL[+off] uprobe extension: a symbol of an ELF file resolved to
// the file offset the kernel wants in PATH:OFFSET (uprobetracer.rst: "OFFSET
// is the offset of the probe point in the file"). Looks in .symtab, then
// .dynsym; turns the symbol's virtual address into a file offset through the
// PT_LOAD program header that maps it (same for PIE and non-PIE: for a PIE
// the first segment maps offset 0 at vaddr 0, for a non-PIE at 0x400000).
import { readFileSync } from 'node:fs';
import { PF, PT_LOAD, SHN_UNDEF, SHT, STT } from '../bpf/elf.js';
import { type ElfFile, type ElfSegment, ObjectReadError, readElf, readSymbols } from '../bpf/elf-file.js';
import { KprobeBpfError } from '../lib/errors.js';

/** st_info types we accept as a probe target. */
const PROBEABLE_TYPES = new Set<number>([STT.NOTYPE, STT.OBJECT, STT.FUNC, STT.GNU_IFUNC]);

/** A symbol an executable or library defines, by the table it came from. */
export interface ProbeableSymbol {
  readonly name: string;
  readonly value: bigint;
  readonly size: bigint;
  readonly type: number;
  readonly table: '.symtab' | '.dynsym';
}

/** A file that is not a usable ELF file, or a symbol that does not resolve to one file offset. */
export class ElfSymbolError extends KprobeBpfError {}

/** The defined, probeable symbols of .symtab then .dynsym (what the reader calls tables of type SYMTAB and DYNSYM). */
function definedSymbols(elf: ElfFile): ProbeableSymbol[] {
  const out: ProbeableSymbol[] = [];
  for (const [want, table] of [[SHT.SYMTAB, '.symtab'], [SHT.DYNSYM, '.dynsym']] as const) {
    for (const sec of elf.sections) {
      if (sec.type !== want || sec.entsize === 0) continue;
      for (const s of readSymbols(elf, sec)) {
        if (s.shndx === SHN_UNDEF || s.value === 0n || !PROBEABLE_TYPES.has(s.type)) continue;
        out.push({ name: s.name, value: s.value, size: s.size, type: s.type, table });
      }
    }
  }
  return out;
}

export class ElfSymbols {
  readonly path: string;
  readonly symbols: readonly ProbeableSymbol[];
  private readonly segments: readonly ElfSegment[];

  constructor(path: string, bytes: Uint8Array = readFileSync(path)) {
    this.path = path;
    let elf: ElfFile;
    try {
      elf = readElf(bytes);
    } catch (e) {
      if (e instanceof ObjectReadError) throw new ElfSymbolError(`${path}: ${e.message}`, { cause: e });
      throw e;
    }
    this.segments = elf.segments.filter((s) => s.type === PT_LOAD);
    this.symbols = definedSymbols(elf);
  }

  /** Symbols with this name (a trailing @VERSION on either side is ignored), .symtab ones first. */
  find(name: string): ProbeableSymbol[] {
    const bare = (s: string) => s.replace(/@.*$/, '');
    const want = bare(name);
    return this.symbols.filter((s) => bare(s.name) === want);
  }

  /** File offset of a virtual address, through the PT_LOAD that maps it from the file. */
  vaddrToOffset(vaddr: bigint): bigint {
    const seg =
      this.segments.find((s) => (s.flags & PF.X) !== 0 && vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz) ??
      this.segments.find((s) => vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz);
    if (!seg) throw new ElfSymbolError(`${this.path}: address 0x${vaddr.toString(16)} is not mapped from the file by any PT_LOAD segment`);
    return vaddr - seg.vaddr + seg.offset;
  }

  /** SYMBOL[+off] -> file offset for PATH:OFFSET. */
  resolve(symbol: string, offset = 0n): bigint {
    const found = this.find(symbol);
    if (found.length === 0) throw new ElfSymbolError(`${this.path}: symbol '${symbol}' not found in .symtab or .dynsym`);
    const values = new Set(found.map((s) => s.value));
    if (values.size > 1) {
      const list = [...values].map((v) => `0x${v.toString(16)}`).join(', ');
      throw new ElfSymbolError(`${this.path}: symbol '${symbol}' is ambiguous (${list}); use PATH:OFFSET`);
    }
    const sym = found[0]!;
    if (offset < 0n || (sym.size > 0n && offset >= sym.size)) {
      throw new ElfSymbolError(`${this.path}: offset 0x${offset.toString(16)} is outside '${symbol}' (size 0x${sym.size.toString(16)})`);
    }
    return this.vaddrToOffset(sym.value + offset);
  }
}

/** Resolves PATH:SYMBOL[+off] to the kernel's PATH:OFFSET file offset. */
export function resolveFileSymbol(path: string, symbol: string, offset = 0n): bigint {
  return new ElfSymbols(path).resolve(symbol, offset);
}
