// Our PATH:SYMBOL[+off] uprobe extension: a symbol of an ELF file resolved to
// the file offset the kernel wants in PATH:OFFSET (uprobetracer.rst: "OFFSET
// is the offset of the probe point in the file"). Looks in .symtab, then
// .dynsym; turns the symbol's virtual address into a file offset through the
// PT_LOAD program header that maps it (same for PIE and non-PIE: for a PIE
// the first segment maps offset 0 at vaddr 0, for a non-PIE at 0x400000).
import { readFileSync } from 'node:fs';

const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const PT_LOAD = 1;
const PF_X = 1;
const SHN_UNDEF = 0;
/** st_info type values we accept as a probe target (STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_GNU_IFUNC). */
const PROBEABLE_TYPES = new Set([0, 1, 2, 10]);

export interface ElfSymbol {
  readonly name: string;
  readonly value: bigint;
  readonly size: bigint;
  readonly type: number;
  readonly table: '.symtab' | '.dynsym';
}

interface LoadSegment {
  readonly offset: bigint;
  readonly vaddr: bigint;
  readonly filesz: bigint;
  readonly flags: number;
}

export class ElfSymbolError extends Error {
  override name = 'ElfSymbolError';
}

export class ElfSymbols {
  readonly path: string;
  readonly symbols: readonly ElfSymbol[];
  private readonly segments: readonly LoadSegment[];

  constructor(path: string, bytes: Buffer = readFileSync(path)) {
    this.path = path;
    if (bytes.length < 64 || bytes.readUInt32BE(0) !== 0x7f454c46) throw new ElfSymbolError(`${path}: not an ELF file`);
    if (bytes[4] !== ELFCLASS64 || bytes[5] !== ELFDATA2LSB) throw new ElfSymbolError(`${path}: only 64-bit little-endian ELF is supported`);
    const phoff = Number(bytes.readBigUInt64LE(32));
    const shoff = Number(bytes.readBigUInt64LE(40));
    const phentsize = bytes.readUInt16LE(54);
    const phnum = bytes.readUInt16LE(56);
    const shentsize = bytes.readUInt16LE(58);
    const shnum = bytes.readUInt16LE(60);

    const segments: LoadSegment[] = [];
    for (let i = 0; i < phnum; i++) {
      const p = phoff + i * phentsize;
      if (bytes.readUInt32LE(p) !== PT_LOAD) continue;
      segments.push({
        flags: bytes.readUInt32LE(p + 4),
        offset: bytes.readBigUInt64LE(p + 8),
        vaddr: bytes.readBigUInt64LE(p + 16),
        filesz: bytes.readBigUInt64LE(p + 32),
      });
    }
    this.segments = segments;

    const section = (i: number) => {
      const s = shoff + i * shentsize;
      return {
        type: bytes.readUInt32LE(s + 4),
        offset: Number(bytes.readBigUInt64LE(s + 24)),
        size: Number(bytes.readBigUInt64LE(s + 32)),
        link: bytes.readUInt32LE(s + 40),
        entsize: Number(bytes.readBigUInt64LE(s + 56)),
      };
    };
    const symbols: ElfSymbol[] = [];
    for (const [want, table] of [[SHT_SYMTAB, '.symtab'], [SHT_DYNSYM, '.dynsym']] as const) {
      for (let i = 0; i < shnum; i++) {
        const sh = section(i);
        if (sh.type !== want || sh.entsize === 0) continue;
        const strtab = section(sh.link);
        for (let off = sh.offset + sh.entsize; off + 24 <= sh.offset + sh.size; off += sh.entsize) {
          const nameOff = bytes.readUInt32LE(off);
          const info = bytes[off + 4]!;
          const shndx = bytes.readUInt16LE(off + 6);
          const value = bytes.readBigUInt64LE(off + 8);
          const size = bytes.readBigUInt64LE(off + 16);
          if (shndx === SHN_UNDEF || value === 0n || !PROBEABLE_TYPES.has(info & 0xf)) continue;
          const start = strtab.offset + nameOff;
          let end = start;
          while (end < bytes.length && bytes[end] !== 0) end++;
          symbols.push({ name: bytes.toString('latin1', start, end), value, size, type: info & 0xf, table });
        }
      }
    }
    this.symbols = symbols;
  }

  /** Symbols with this name (a trailing @VERSION on either side is ignored), .symtab ones first. */
  find(name: string): ElfSymbol[] {
    const bare = (s: string) => s.replace(/@.*$/, '');
    const want = bare(name);
    return this.symbols.filter((s) => bare(s.name) === want);
  }

  /** File offset of a virtual address, through the PT_LOAD that maps it from the file. */
  vaddrToOffset(vaddr: bigint): bigint {
    const seg =
      this.segments.find((s) => (s.flags & PF_X) !== 0 && vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz) ??
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
