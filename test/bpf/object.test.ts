// Object files: llvm-readelf and bpftool read what our writer wrote the way we
// meant it, and our reader reads back both our objects and clang-built ones.
import t from 'tap';
import { assemble } from '../../bpf/asm.js';
import { Kind, KIND_NAMES, parseBtf } from '../../bpf/btf.js';
import { readObject } from '../../bpf/elf-reader.js';
import { writeObject } from '../../bpf/elf-writer.js';
import { MapType } from '../../bpf/elf.js';
import { encode, slotOffsets } from '../../bpf/insn.js';
import { META_SECTION, MAPS, ksymProgram, sampleObject } from './programs.js';
import { run, toolSkipReason, writeTemp } from './tools.js';

function fullSample() {
  const spec = sampleObject({ externs: [{ name: 'some_kernel_sym' }] });
  spec.programs = [...spec.programs, ksymProgram('some_kernel_sym')];
  return spec;
}

t.test('llvm-readelf reads our sections, symbols and relocations as written', { skip: toolSkipReason('llvm-readelf') }, async (t) => {
  const spec = fullSample();
  const file = writeTemp('sample.o', writeObject(spec));
  const r = run('llvm-readelf', ['-h', '-S', '-r', '-s', file]);
  t.equal(r.status, 0, 'llvm-readelf exits 0');
  t.equal(r.stderr, '', 'and has no warnings');
  t.match(r.stdout, /Type:\s+REL \(Relocatable file\)/);
  t.match(r.stdout, /Machine:\s+EM_BPF|Machine:\s+Linux BPF/);
  for (const p of spec.programs) {
    t.match(r.stdout, new RegExp(`\\] ${p.section.replace(/[/.+]/g, '\\$&')}\\s+PROGBITS .* AX `), `section ${p.section} is executable PROGBITS`);
    t.match(r.stdout, new RegExp(`FUNC\\s+GLOBAL DEFAULT\\s+\\d+ ${p.name}\\n`), `global FUNC symbol ${p.name}`);
  }
  for (const m of MAPS) t.match(r.stdout, new RegExp(`OBJECT\\s+GLOBAL DEFAULT\\s+\\d+ ${m.name}\\n`), `map symbol ${m.name}`);
  t.match(r.stdout, /NOTYPE\s+GLOBAL DEFAULT\s+UND some_kernel_sym\n/, 'the extern is an undefined global');
  t.match(r.stdout, new RegExp(`\\] ${META_SECTION.replace(/\./g, '\\.')}\\s+PROGBITS`), 'the metadata section is there');
  // Every relocation readelf lists is one we asked for, at the slot of its ld_imm64.
  for (const p of spec.programs) {
    const insns = p.insns!;
    const at = slotOffsets(insns);
    const want = insns.flatMap((i, k) => (i.ref ? [`${(at[k]! * 8).toString(16).padStart(16, '0')} R_BPF_64_64 ${i.ref.symbol}`] : []));
    const sec = r.stdout.split(`Relocation section '.rel${p.section}'`)[1]?.split('\n\n')[0] ?? '';
    const got = [...sec.matchAll(/^([0-9a-f]{16})\s+[0-9a-f]{16}\s+(R_BPF_64_64)\s+[0-9a-f]{16}\s+(\S+)$/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
    t.same(got, want, `relocations of ${p.section}`);
  }
});

t.test('bpftool reads our BTF, and so does our reader, type for type', { skip: toolSkipReason('bpftool') }, async (t) => {
  const obj = writeObject(fullSample());
  const file = writeTemp('btf.o', obj);
  const r = run('bpftool', ['-j', 'btf', 'dump', 'file', file]);
  t.equal(r.status, 0, `bpftool btf dump exits 0 ${r.stderr}`);
  const theirs = (JSON.parse(r.stdout) as { types: { id: number; kind: string; name: string; linkage?: string; vlen?: number; nr_elems?: number }[] }).types;
  const ours = readObject(obj).btf!.types.slice(1);
  t.equal(ours.length, theirs.length, 'same number of types');
  ours.forEach((o, i) => {
    const b = theirs[i]!;
    t.same([o.id, KIND_NAMES[o.kind], o.name || '(anon)'], [b.id, b.kind, b.name], `type ${o.id}`);
    // bpftool decides which types are arrays, so a type our reader misses as one still fails.
    if (b.nr_elems !== undefined) t.equal(o.array?.nelems, b.nr_elems, `array ${o.id} nelems`);
  });
  const find = (kind: string, name: string) => theirs.find((x) => x.kind === kind && x.name === name);
  t.equal(find('VAR', 'events')?.linkage, 'global');
  t.equal(find('VAR', 'some_kernel_sym')?.linkage, 'extern');
  t.ok(find('DATASEC', '.maps'), 'a .maps DATASEC');
  t.ok(find('DATASEC', '.ksyms'), 'a .ksyms DATASEC');
  t.ok(find('FUNC', 'p_openat2'), 'a FUNC per program');
});

t.test('the reader returns what the writer was given', async (t) => {
  const spec = fullSample();
  const o = readObject(writeObject(spec));
  t.equal(o.license, 'GPL');
  t.same(
    o.programs.map((p) => [p.name, p.section]),
    spec.programs.map((p) => [p.name, p.section]),
  );
  spec.programs.forEach((p, i) => {
    const back = o.programs[i]!;
    t.same(Buffer.from(back.bytes), Buffer.from(encode(p.insns!)), `${p.name} bytes`);
    const refs = p.insns!.flatMap((x, k) => (x.ref ? [{ insnIndex: k, symbol: x.ref.symbol, kind: x.ref.kind }] : []));
    t.same(
      back.relocations.map(({ insnIndex, symbol, kind }) => ({ insnIndex, symbol, kind })),
      refs,
      `${p.name} relocations`,
    );
    t.same([...back.labels].sort(), [...(p.labels ?? new Map())].filter(([, idx]) => idx !== 0).sort(), `${p.name} labels`);
  });
  t.same(
    o.maps.map(({ name, type, keySize, valueSize, maxEntries }) => ({ name, type, keySize, valueSize, maxEntries })),
    MAPS.map(({ name, type, keySize, valueSize, maxEntries }) => ({ name, type, keySize, valueSize, maxEntries })),
  );
  t.same(o.externs, [{ name: 'some_kernel_sym', section: '.ksyms' }]);
  t.equal(new TextDecoder().decode(o.section(META_SECTION)!.data), '{"events":["p_openat2"]}');
  const ext = o.btfExt!.find((s) => s.section === 'kprobe/do_sys_openat2')!;
  t.equal(ext.funcInfo[0]!.insnOff, 0);
  t.equal(o.btf!.types[ext.funcInfo[0]!.typeId]!.name, 'p_openat2', 'func_info points at the FUNC');
  t.same(ext.lineInfo.slice(0, 3).map((l) => l.line), ['ctx', 'record buffer: scratch[0]', 'common: pid_tgid, ktime'], 'line_info carries the annotations');
  spec.programs.forEach((p, i) => {
    t.same(
      o.programs[i]!.insns.map((x) => x.comment),
      p.insns!.map((x) => x.comment),
      `${p.name}: annotations come back on the same instructions`,
    );
  });
});

t.test('externs an instruction refers to are declared without being listed', async (t) => {
  const o = readObject(writeObject({ license: 'GPL', programs: [ksymProgram('not_listed')], maps: MAPS }));
  t.same(o.externs, [{ name: 'not_listed', section: '.ksyms' }]);
  t.same(o.programs[0]!.relocations.filter((r) => r.kind === 'extern').map((r) => r.symbol), ['not_listed']);
});

t.test('disassembleProgram prints a program read back from an object like objdump -dr', { skip: toolSkipReason('llvm-objdump') }, async (t) => {
  const { disassembleProgram } = await import('../../bpf/disasm.js');
  const obj = writeObject(fullSample());
  const file = writeTemp('dp.o', obj);
  const { objdumpSections } = await import('./tools.js');
  const dumped = objdumpSections(file, ['-r', '--no-show-raw-insn']);
  const back = readObject(obj).programs;
  t.same(back.map((p) => p.section), [...dumped.keys()], 'the reader returns a program for each section objdump prints');
  for (const p of back) t.same(disassembleProgram(p), dumped.get(p.section), p.section);
});

t.test('the writer refuses inconsistent objects', async (t) => {
  const { ldMapFd, exit } = await import('../../bpf/asm.js');
  const prog = (name: string, section: string) => ({ name, section, insns: assemble([ldMapFd(1, 'nope'), exit()]).insns });
  t.throws(() => writeObject({ license: 'GPL', programs: [prog('a', 'kprobe/a')] }), /unknown map 'nope'/);
  t.throws(
    () => writeObject({ license: 'GPL', programs: [{ name: 'odd', section: 'kprobe/a', bytes: new Uint8Array(12) }] }),
    /not a multiple of 8/,
  );
  t.throws(
    () => writeObject({ license: 'GPL', programs: [prog('nope', 'kprobe/a')], maps: [{ name: 'nope', type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 }] }),
    /defined twice/,
  );
});

t.test('the reader lists the programs and maps of a clang-built object', { skip: toolSkipReason('clang', 'llvm-readelf') }, async (t) => {
  const c = `
typedef unsigned int u32; typedef unsigned long long u64;
#define SEC(n) __attribute__((section(n), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
struct { __uint(type, 1); __uint(max_entries, 64); __type(key, u32); __type(value, u64); } counts SEC(".maps");
struct { __uint(type, 4); __uint(key_size, 4); __uint(value_size, 4); } events SEC(".maps");
static void *(*lookup)(void *map, const void *key) = (void *)1;
SEC("kprobe/vfs_read") int count_reads(void *ctx) { u32 k = 0; u64 *v = lookup(&counts, &k); if (v) *v += 1; return 0; }
SEC("uprobe//bin/true:main") int on_main(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`;
  const src = writeTemp('clang.c', new TextEncoder().encode(c));
  const out = `${src}.o`;
  const cc = run('clang', ['-target', 'bpf', '-O2', '-g', '-c', src, '-o', out]);
  t.equal(cc.status, 0, `clang builds the sample ${cc.stderr}`);
  const { readFileSync } = await import('node:fs');
  const o = readObject(readFileSync(out));
  // llvm-readelf is the judge of which global functions sit in which section.
  const syms = run('llvm-readelf', ['-s', '-S', out]).stdout;
  for (const p of o.programs) t.match(syms, new RegExp(`FUNC\\s+GLOBAL DEFAULT\\s+\\d+ ${p.name}\\n`));
  t.same(o.programs.map((p) => [p.name, p.section]).sort(), [['count_reads', 'kprobe/vfs_read'], ['on_main', 'uprobe//bin/true:main']]);
  t.same(
    o.maps.map(({ name, type, keySize, valueSize, maxEntries }) => [name, type, keySize, valueSize, maxEntries]).sort(),
    [['counts', 1, 4, 8, 64], ['events', 4, 4, 4, 0]],
  );
  t.equal(o.license, 'GPL');
  const reloc = o.programs.find((p) => p.name === 'count_reads')!.relocations;
  t.same(reloc.map((r) => [r.symbol, r.kind]), [['counts', 'map']]);
  t.equal(o.btf!.find(Kind.FUNC, 'count_reads')?.kind, Kind.FUNC);
  t.ok(o.btfExt && o.btfExt.length >= 1, 'BTF.ext parsed');
});

t.test('BTF round trip keeps kinds, names and members', async (t) => {
  const { BtfBuilder, IntEncoding } = await import('../../bpf/btf.js');
  const b = new BtfBuilder();
  const int = b.int('int', 4, IntEncoding.SIGNED);
  const st = b.struct('pair', 8, [
    { name: 'a', type: int, bitOffset: 0 },
    { name: 'b', type: int, bitOffset: 32 },
  ]);
  b.var('v', st);
  b.datasec('.data', 8, [{ type: 3, offset: 0, size: 8 }]);
  const back = parseBtf(b.encode());
  t.same(
    back.types.slice(1).map((x) => [x.kind, x.name]),
    [
      [Kind.INT, 'int'],
      [Kind.STRUCT, 'pair'],
      [Kind.VAR, 'v'],
      [Kind.DATASEC, '.data'],
    ],
  );
  t.same(back.types[2]!.members!.map((m) => [m.name, m.bitOffset]), [['a', 0], ['b', 32]]);
});
