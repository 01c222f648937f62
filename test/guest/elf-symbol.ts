// The file offset of a function in an ELF64 executable, as uprobe_events
// wants it (PATH:OFFSET is a file offset, Documentation/trace/uprobetracer.rst):
// the symbol's address moved from its section's address to its section's
// file position. Only what the guest suite's own fixtures need (.symtab,
// little-endian ELF64); the tool's runtime has its own resolver.
import { readFileSync } from 'node:fs';

export function symbolFileOffset(path: string, name: string): number {
  const b = readFileSync(path);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) throw new Error(`${path}: not a little-endian ELF64 file`);
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  const section = (i: number) => {
    const o = shoff + i * shentsize;
    return {
      type: b.readUInt32LE(o + 4),
      addr: Number(b.readBigUInt64LE(o + 0x10)),
      offset: Number(b.readBigUInt64LE(o + 0x18)),
      size: Number(b.readBigUInt64LE(o + 0x20)),
      link: b.readUInt32LE(o + 0x28),
      entsize: Number(b.readBigUInt64LE(o + 0x38)),
    };
  };
  const SHT_SYMTAB = 2;
  for (let i = 0; i < shnum; i++) {
    const symtab = section(i);
    if (symtab.type !== SHT_SYMTAB) continue;
    const strtab = section(symtab.link);
    for (let o = symtab.offset; o < symtab.offset + symtab.size; o += symtab.entsize) {
      const nameOff = strtab.offset + b.readUInt32LE(o);
      const end = b.indexOf(0, nameOff);
      if (b.toString('latin1', nameOff, end) !== name) continue;
      const shndx = b.readUInt16LE(o + 6);
      const value = Number(b.readBigUInt64LE(o + 8));
      const home = section(shndx);
      return value - home.addr + home.offset;
    }
  }
  throw new Error(`${path}: no symbol ${name} in .symtab`);
}
