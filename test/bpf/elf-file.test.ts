// The ELF reader's phases on hand-made files: ident checks, section and
// program headers, symbols, SHT_REL entries, the BPF reader slicing two
// functions out of one section, and the uprobe resolver's file offsets
// through PT_LOAD. The files are laid out here field by field (elf.h
// Elf64_Ehdr/Shdr/Phdr/Sym/Rel); no tool, no kernel.
import t from 'tap';
import { checkIdent, ObjectReadError, readElf, readRelocations, readSegments, readSymbols } from '../../bpf/elf-file.js';
import { readObject, relocationsByTarget, sectionPrograms, symbolKinds } from '../../bpf/elf-reader.js';
import { writeObject } from '../../bpf/elf-writer.js';
import { BtfError } from '../../bpf/btf.js';
import { findCause } from '../../lib/errors.js';
import { ElfSymbolError, ElfSymbols } from '../../runtime/elf-symbols.js';

interface RawSection {
  name: string;
  type: number;
  flags?: number;
  data: Buffer;
  link?: number;
  info?: number;
  entsize?: number;
}
interface RawSegment {
  type: number;
  flags: number;
  offset: bigint;
  vaddr: bigint;
  filesz: bigint;
}

/** An ELF64 LE file: header, program headers, section data (8-aligned), section headers; .shstrtab added last. */
function elf64(machine: number, etype: number, sections: RawSection[], segments: RawSegment[] = []): Buffer {
  const names = ['', ...sections.map((s) => s.name), '.shstrtab'];
  let shstr = '';
  const nameOff = names.map((n) => {
    const at = shstr.length;
    shstr += `${n}\0`;
    return at;
  });
  const all: RawSection[] = [{ name: '', type: 0, data: Buffer.alloc(0) }, ...sections, { name: '.shstrtab', type: 3, data: Buffer.from(shstr, 'latin1') }];
  const phoff = 64;
  let at = phoff + segments.length * 56;
  const offsets = all.map((s) => {
    at = Math.ceil(at / 8) * 8;
    const off = at;
    at += s.data.length;
    return off;
  });
  const shoff = Math.ceil(at / 8) * 8;
  const out = Buffer.alloc(shoff + all.length * 64);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  out.writeUInt16LE(etype, 16);
  out.writeUInt16LE(machine, 18);
  out.writeBigUInt64LE(BigInt(segments.length ? phoff : 0), 32);
  out.writeBigUInt64LE(BigInt(shoff), 40);
  out.writeUInt16LE(56, 54);
  out.writeUInt16LE(segments.length, 56);
  out.writeUInt16LE(64, 58);
  out.writeUInt16LE(all.length, 60);
  out.writeUInt16LE(all.length - 1, 62);
  segments.forEach((p, i) => {
    const h = phoff + i * 56;
    out.writeUInt32LE(p.type, h);
    out.writeUInt32LE(p.flags, h + 4);
    out.writeBigUInt64LE(p.offset, h + 8);
    out.writeBigUInt64LE(p.vaddr, h + 16);
    out.writeBigUInt64LE(p.filesz, h + 32);
    out.writeBigUInt64LE(p.filesz, h + 40);
  });
  all.forEach((s, i) => {
    s.data.copy(out, offsets[i]!);
    const h = shoff + i * 64;
    out.writeUInt32LE(nameOff[i]!, h);
    out.writeUInt32LE(s.type, h + 4);
    out.writeBigUInt64LE(BigInt(s.flags ?? 0), h + 8);
    out.writeBigUInt64LE(BigInt(i ? offsets[i]! : 0), h + 24);
    out.writeBigUInt64LE(BigInt(s.data.length), h + 32);
    out.writeUInt32LE(s.link ?? 0, h + 40);
    out.writeUInt32LE(s.info ?? 0, h + 44);
    out.writeBigUInt64LE(BigInt(s.entsize ?? 0), h + 56);
  });
  return out;
}

/** Elf64_Sym entries (after the null one) and their string table. */
function symtab(syms: { name: string; bind: number; type: number; shndx: number; value: number; size: number }[]): { symtab: Buffer; strtab: Buffer } {
  let str = '\0';
  const b = Buffer.alloc((syms.length + 1) * 24);
  syms.forEach((s, k) => {
    const at = (k + 1) * 24;
    b.writeUInt32LE(s.name ? str.length : 0, at);
    if (s.name) str += `${s.name}\0`;
    b.writeUInt8((s.bind << 4) | s.type, at + 4);
    b.writeUInt16LE(s.shndx, at + 6);
    b.writeBigUInt64LE(BigInt(s.value), at + 8);
    b.writeBigUInt64LE(BigInt(s.size), at + 16);
  });
  return { symtab: b, strtab: Buffer.from(str, 'latin1') };
}

/** What `fn` throws (undefined when it returns). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

const hexBytes = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const EM_BPF = 247;
const EM_X86_64 = 62;

// A BPF object: section 1 "kprobe/x" holds two functions (f at 0, 3 slots with an
// ld_imm64 at slot 0; g at 24, 2 slots), a label `out` at 16 inside f; section 2
// ".maps" holds map m; symbols in .symtab (3), names in .strtab (4); .relkprobe/x (5).
const PROG = hexBytes(`
  18010000 00000000 00000000 00000000
  95000000 00000000
  b7000000 01000000
  95000000 00000000`);
const SYMS = symtab([
  { name: 'out', bind: 0, type: 0, shndx: 1, value: 16, size: 0 },
  { name: 'f', bind: 1, type: 2, shndx: 1, value: 0, size: 24 },
  { name: 'g', bind: 1, type: 2, shndx: 1, value: 24, size: 16 },
  { name: 'm', bind: 1, type: 1, shndx: 2, value: 0, size: 8 },
  { name: 'ext', bind: 1, type: 0, shndx: 0, value: 0, size: 0 },
]);
// Elf64_Rel: r_offset 0, r_info = symbol 4 (m) << 32 | R_BPF_64_64 (1).
const REL = hexBytes('0000000000000000 0100000004000000');
const bpfObject = (rel = REL): Buffer =>
  elf64(EM_BPF, 1, [
    { name: 'kprobe/x', type: 1, flags: 0x6, data: PROG },
    { name: '.maps', type: 1, flags: 0x3, data: Buffer.alloc(8) },
    { name: '.symtab', type: 2, data: SYMS.symtab, link: 4, info: 2, entsize: 24 },
    { name: '.strtab', type: 3, data: SYMS.strtab },
    { name: '.relkprobe/x', type: 9, data: rel, link: 3, info: 1, entsize: 16 },
  ]);

t.test('ident: too short, bad magic, 32-bit and big-endian files are refused', async (t) => {
  const good = bpfObject();
  const patched = (at: number, v: number): Buffer => {
    const b = Buffer.from(good);
    b[at] = v;
    return b;
  };
  t.doesNotThrow(() => checkIdent(good));
  t.throws(() => checkIdent(good.subarray(0, 63)), new ObjectReadError('not an ELF file (too short)'));
  t.throws(() => checkIdent(patched(1, 0x46)), new ObjectReadError('not an ELF file (bad magic)'));
  t.throws(() => checkIdent(patched(4, 1)), new ObjectReadError('not a 64-bit ELF file'));
  t.throws(() => checkIdent(patched(5, 2)), new ObjectReadError('not a little-endian ELF file'));
});

t.test('sections come back named, with their bytes', async (t) => {
  const elf = readElf(bpfObject());
  t.equal(elf.machine, EM_BPF);
  t.equal(elf.type, 1);
  t.same(
    elf.sections.map((s) => [s.index, s.name, s.type, s.flags, s.size, s.link, s.info]),
    [
      [0, '', 0, 0, 0, 0, 0],
      [1, 'kprobe/x', 1, 6, 40, 0, 0],
      [2, '.maps', 1, 3, 8, 0, 0],
      [3, '.symtab', 2, 0, 144, 4, 2],
      [4, '.strtab', 3, 0, 15, 0, 0],
      [5, '.relkprobe/x', 9, 0, 16, 3, 1],
      [6, '.shstrtab', 3, 0, 55, 0, 0],
    ],
  );
  t.equal(Buffer.from(elf.section('kprobe/x')!.data).toString('hex'), PROG.toString('hex'));
  t.same(elf.segments, [], 'a relocatable object has no program headers');
  const cut = bpfObject().subarray(0, 300);
  t.throws(() => readElf(cut), new ObjectReadError('section header table past end of file'));
});

t.test('symbols split st_info into bind and type; relocations name their symbol', async (t) => {
  const elf = readElf(bpfObject());
  const syms = readSymbols(elf, elf.section('.symtab')!);
  t.same(
    syms.map((s) => [s.index, s.name, s.bind, s.type, s.shndx, s.value, s.size]),
    [
      [0, '', 0, 0, 0, 0n, 0n],
      [1, 'out', 0, 0, 1, 16n, 0n],
      [2, 'f', 1, 2, 1, 0n, 24n],
      [3, 'g', 1, 2, 1, 24n, 16n],
      [4, 'm', 1, 1, 2, 0n, 8n],
      [5, 'ext', 1, 0, 0, 0n, 0n],
    ],
  );
  const rels = readRelocations(elf.section('.relkprobe/x')!, syms);
  t.same(rels.map((r) => [r.offset, r.symbol.name, r.type]), [[0, 'm', 1]]);
  const past = readElf(bpfObject(hexBytes('0000000000000000 0100000009000000')));
  t.throws(() => readRelocations(past.section('.relkprobe/x')!, syms), new ObjectReadError('relocation in .relkprobe/x names symbol 9, past the symbol table'));
});

t.test('two functions of one section become two programs, each with its own relocations and labels', async (t) => {
  const elf = readElf(bpfObject());
  const syms = readSymbols(elf, elf.section('.symtab')!);
  const sec = elf.section('kprobe/x')!;
  const progs = sectionPrograms(sec, syms, relocationsByTarget(elf, syms).get(1) ?? [], symbolKinds(elf));
  t.same(
    progs.map((p) => [p.name, p.offset, Buffer.from(p.bytes).toString('hex'), p.insns.length]),
    [
      ['f', 0, '18010000000000000000000000000000' + '9500000000000000', 2],
      ['g', 24, 'b700000001000000' + '9500000000000000', 2],
    ],
  );
  t.same(progs[0]!.relocations, [{ insnIndex: 0, offset: 0, symbol: 'm', type: 1, kind: 'map' }]);
  t.same(progs[0]!.insns[0]!.ref, { kind: 'map', symbol: 'm' }, 'the map load carries its ref');
  t.same(progs[1]!.relocations, []);
  t.same([...progs[0]!.labels], [['out', 1]], '`out` is f\'s second instruction (the ld_imm64 takes two slots)');
  t.same([...progs[1]!.labels], [], 'g has no label');
  t.same(progs[1]!.sectionSymbols, [{ name: 'out', address: 16 }, { name: 'f', address: 0 }, { name: 'g', address: 24 }], 'every named symbol of the section');
  const o = readObject(bpfObject());
  t.same(o.externs, [{ name: 'ext' }], 'an undefined global is an extern');
});

t.test('a file that is not a BPF object, or whose .BTF does not parse, is an ObjectReadError', async (t) => {
  t.throws(() => readObject(elf64(EM_X86_64, 1, [])), new ObjectReadError('not a BPF object (e_machine 62, want 247)'));
  const obj = Buffer.from(writeObject({ license: 'GPL', programs: [{ name: 'p', section: 'kprobe/p', bytes: hexBytes('b700000000000000 9500000000000000') }] }));
  const btf = readObject(obj).section('.BTF')!;
  obj.writeUInt16LE(0x1234, btf.offset);
  const err = thrown(() => readObject(obj));
  t.ok(err instanceof ObjectReadError, 'ObjectReadError');
  t.equal((err as Error).message, 'section .BTF: not a BTF section (bad magic)');
  t.ok(findCause(err, BtfError), 'its cause is the BtfError');
});

// An executable: .text at file offset 0x1000 mapped at 0x401000 by an executable PT_LOAD,
// .data at 0x2000 mapped at 0x403000 by a writable one.
function executable(): Buffer {
  const syms = symtab([
    { name: 'main', bind: 1, type: 2, shndx: 1, value: 0x401010, size: 0x20 },
    { name: 'counter', bind: 1, type: 1, shndx: 2, value: 0x403008, size: 8 },
    { name: 'undef', bind: 1, type: 2, shndx: 0, value: 0, size: 0 },
    { name: 'file.c', bind: 0, type: 4, shndx: 0xfff1, value: 0, size: 0 },
  ]);
  return elf64(
    EM_X86_64,
    2,
    [
      { name: '.text', type: 1, flags: 0x6, data: Buffer.alloc(0x40) },
      { name: '.data', type: 1, flags: 0x3, data: Buffer.alloc(0x10) },
      { name: '.symtab', type: 2, data: syms.symtab, link: 4, info: 1, entsize: 24 },
      { name: '.strtab', type: 3, data: syms.strtab },
    ],
    [
      { type: 1, flags: 0x5, offset: 0x1000n, vaddr: 0x401000n, filesz: 0x1000n },
      { type: 1, flags: 0x6, offset: 0x2000n, vaddr: 0x403000n, filesz: 0x1000n },
      { type: 4, flags: 0x4, offset: 0x300n, vaddr: 0x400300n, filesz: 0x20n },
    ],
  );
}

t.test('program headers come back as written', async (t) => {
  t.same(
    readSegments(executable()).map((s) => [s.type, s.flags, s.offset, s.vaddr, s.filesz]),
    [
      [1, 5, 0x1000n, 0x401000n, 0x1000n],
      [1, 6, 0x2000n, 0x403000n, 0x1000n],
      [4, 4, 0x300n, 0x400300n, 0x20n],
    ],
  );
});

t.test('the uprobe resolver maps a symbol to its file offset through the PT_LOAD that maps it', async (t) => {
  const elf = new ElfSymbols('exe', executable());
  t.same(elf.symbols.map((s) => [s.name, s.value, s.table]), [['main', 0x401010n, '.symtab'], ['counter', 0x403008n, '.symtab']], 'defined, probeable symbols only');
  t.equal(elf.resolve('main'), 0x1010n);
  t.equal(elf.resolve('main', 4n), 0x1014n);
  t.equal(elf.resolve('counter'), 0x2008n, 'a data symbol through the writable segment');
  t.throws(() => elf.resolve('main', 0x20n), new ElfSymbolError("exe: offset 0x20 is outside 'main' (size 0x20)"));
  t.throws(() => elf.resolve('undef'), new ElfSymbolError("exe: symbol 'undef' not found in .symtab or .dynsym"));
  const notElf = thrown(() => new ElfSymbols('notes.txt', Buffer.alloc(80, 0x41)));
  t.ok(notElf instanceof ElfSymbolError, 'ElfSymbolError');
  t.equal((notElf as Error).message, 'notes.txt: not an ELF file (bad magic)');
  t.ok(findCause(notElf, ObjectReadError), 'wrapping the reader\'s ObjectReadError');
});
