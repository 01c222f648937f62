// Several programs in one ELF section, as clang lays out functions sharing a
// SEC() and libbpf 1.x reads them (each global FUNC is a program at st_value,
// st_size long). Judges: llvm-readelf (layout), llvm-objdump (per-function
// disassembly), clang (an object built the reference way). Loading through
// libbpf and the verifier is in load.test.ts.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { disassemble, disassembleProgram } from '../../bpf/disasm.js';
import { readObject } from '../../bpf/elf-reader.js';
import { placePrograms, writeObject, type ProgramSpec } from '../../bpf/elf-writer.js';
import { encode, slotOffsets } from '../../bpf/insn.js';
import { sharedSectionObject } from './programs.js';
import { objdumpFunctions, run, toolSkipReason, writeTemp } from './tools.js';

const SHARED = 'kprobe/do_sys_openat2';
const hex = (n: number): string => n.toString(16).padStart(16, '0');
const esc = (s: string): string => s.replace(/[/.+]/g, '\\$&');

/** Where each program must land: back to back in its section, in the order given. */
function expectedLayout(programs: readonly ProgramSpec[]): Map<string, { section: string; offset: number; size: number }> {
  const end = new Map<string, number>();
  const out = new Map<string, { section: string; offset: number; size: number }>();
  for (const p of programs) {
    const size = encode(p.insns!).length;
    const offset = end.get(p.section) ?? 0;
    end.set(p.section, offset + size);
    out.set(p.name, { section: p.section, offset, size });
  }
  return out;
}

t.test('llvm-readelf: one section per name, a FUNC per program at its offset, relocations section-relative', { skip: toolSkipReason('llvm-readelf') }, async (t) => {
  const spec = sharedSectionObject('some_kernel_sym');
  const file = writeTemp('shared.o', writeObject(spec));
  const r = run('llvm-readelf', ['-S', '-r', '-s', '-W', file]);
  t.equal(r.status, 0, 'llvm-readelf exits 0');
  t.equal(r.stderr, '', 'and has no warnings');
  const layout = expectedLayout(spec.programs);
  const secIndex = new Map<string, number>();
  for (const name of new Set(spec.programs.map((p) => p.section))) {
    const rows = [...r.stdout.matchAll(new RegExp(`^\\s*\\[\\s*(\\d+)\\] ${esc(name)}\\s+PROGBITS\\s+[0-9a-f]+ [0-9a-f]+ ([0-9a-f]+) .* AX `, 'gm'))];
    t.equal(rows.length, 1, `one executable section ${name}`);
    const total = [...layout.values()].filter((l) => l.section === name).reduce((n, l) => n + l.size, 0);
    t.equal(Number.parseInt(rows[0]?.[2] ?? '', 16), total, `${name} holds its programs back to back`);
    secIndex.set(name, Number(rows[0]?.[1]));
  }
  t.equal([...r.stdout.matchAll(/\] kprobe\/do_sys_openat2 /g)].length, 1, 'the shared section appears once');
  for (const p of spec.programs) {
    const l = layout.get(p.name)!;
    const m = new RegExp(`^\\s*\\d+: ([0-9a-f]{16})\\s+(\\d+) FUNC\\s+GLOBAL DEFAULT\\s+(\\d+) ${p.name}$`, 'm').exec(r.stdout);
    t.ok(m, `global FUNC ${p.name}`);
    t.same([Number.parseInt(m?.[1] ?? '', 16), Number(m?.[2]), Number(m?.[3])], [l.offset, l.size, secIndex.get(p.section)], `${p.name}: value = offset in section, size, section`);
  }
  // Labels repeat across programs (each has `out`); each sits inside its own program.
  const outs = [...r.stdout.matchAll(/^\s*\d+: ([0-9a-f]{16})\s+0 NOTYPE\s+LOCAL\s+DEFAULT\s+(\d+) out$/gm)].map((m) => [Number.parseInt(m[1]!, 16), Number(m[2])]);
  const wantOuts = spec.programs.map((p) => {
    const l = layout.get(p.name)!;
    return [l.offset + slotOffsets(p.insns!)[p.labels!.get('out')!]! * 8, secIndex.get(p.section)];
  });
  t.same(outs.sort(), wantOuts.sort(), 'one `out` label per program, at its section offset');
  // Relocations: every ld_imm64 with a ref, at section offset, in program order.
  for (const name of secIndex.keys()) {
    const want = spec.programs
      .filter((p) => p.section === name)
      .flatMap((p) => {
        const at = slotOffsets(p.insns!);
        const base = layout.get(p.name)!.offset;
        return p.insns!.flatMap((i, k) => (i.ref ? [`${hex(base + at[k]! * 8)} R_BPF_64_64 ${i.ref.symbol}`] : []));
      });
    const sec = r.stdout.split(`Relocation section '.rel${name}'`)[1]?.split('\n\n')[0] ?? '';
    const got = [...sec.matchAll(/^([0-9a-f]{16})\s+[0-9a-f]{16}\s+(R_BPF_64_64)\s+[0-9a-f]{16}\s+(\S+)$/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
    t.same(got, want, `relocations of ${name}`);
  }
  t.same(
    placePrograms(spec.programs).map(({ name, section, offset, size }) => [name, { section, offset, size }]),
    [...layout],
    'placePrograms reports the same layout',
  );
});

t.test('llvm-objdump prints each program of a shared section exactly as we disassemble it', { skip: toolSkipReason('llvm-objdump') }, async (t) => {
  const spec = sharedSectionObject('some_kernel_sym');
  const obj = writeObject(spec);
  const file = writeTemp('shared-dis.o', obj);
  const theirs = objdumpFunctions(file);
  t.same([...theirs.keys()].sort(), spec.programs.map((p) => p.name).sort(), 'one function per program');
  const placed = placePrograms(spec.programs);
  spec.programs.forEach((p, i) => {
    const at = placed[i]!;
    // What the compiler's test does: its own instructions, placed.
    const ours = disassemble(p.insns!, { name: p.name, rawBytes: true, labels: p.labels!, address: at.offset, sectionSymbols: at.sectionSymbols, sectionBytes: at.sectionBytes });
    t.same(ours, theirs.get(p.name), `${p.name} (+${at.offset} in ${at.section})`);
    t.same(disassembleProgram({ ...p, ...at }, { rawBytes: true, relocations: [] }), theirs.get(p.name), `${p.name} via disassembleProgram`);
  });
  t.ok(theirs.get('p_open_b')!.some((l) => /^\s+\d+:\t.*goto \+\d+ <out>$/.test(l)), 'jumps in a later program name its own label');
  t.match(theirs.get('p_open_b')![0], /^0{13}128 <p_open_b>:$/, 'the second program starts mid-section');
  // With relocations (-r), from the object read back.
  const withRel = objdumpFunctions(file, ['-r', '--no-show-raw-insn']);
  const back = readObject(obj).programs;
  t.same(back.map((p) => p.name).sort(), [...withRel.keys()].sort(), 'the reader returns every function objdump prints');
  for (const p of back) t.same(disassembleProgram(p), withRel.get(p.name), `${p.name} read back, objdump -dr`);
});

t.test('the reader returns each program of a shared section on its own', async (t) => {
  const spec = sharedSectionObject('some_kernel_sym');
  const o = readObject(writeObject(spec));
  const layout = expectedLayout(spec.programs);
  // Sections in first-seen order, programs in section order.
  t.same(o.programs.map((p) => p.name), ['p_open_a', 'p_open_b', 'p_open_c', 'r_openat2']);
  for (const back of o.programs) {
    const p = spec.programs.find((x) => x.name === back.name)!;
    const l = layout.get(p.name)!;
    t.same([back.section, back.offset, back.bytes.length], [l.section, l.offset, l.size], `${p.name} placement`);
    t.same(Buffer.from(back.bytes), Buffer.from(encode(p.insns!)), `${p.name} bytes`);
    t.same(
      back.relocations.map(({ insnIndex, offset, symbol, kind }) => ({ insnIndex, offset, symbol, kind })),
      p.insns!.flatMap((x, k) => (x.ref ? [{ insnIndex: k, offset: slotOffsets(p.insns!)[k]! * 8, symbol: x.ref.symbol, kind: x.ref.kind }] : [])),
      `${p.name} relocations, program-relative`,
    );
    t.same([...back.labels], [...p.labels!].filter(([, idx]) => idx !== 0), `${p.name} labels`);
    t.same(back.insns.map((x) => x.comment), p.insns!.map((x) => x.comment), `${p.name} annotations`);
    t.same(back.insns.map((x) => x.ref), p.insns!.map((x) => x.ref), `${p.name} refs`);
  }
  const ext = o.btfExt!.find((s) => s.section === SHARED)!;
  t.same(
    ext.funcInfo.map((f) => [f.insnOff * 8, o.btf!.types[f.typeId]!.name]),
    ['p_open_a', 'p_open_b', 'p_open_c'].map((n) => [layout.get(n)!.offset, n]),
    'func_info: one record per program at its offset, pointing at its FUNC',
  );
  const starts = ['p_open_a', 'p_open_b', 'p_open_c'].map((n) => layout.get(n)!.offset / 8);
  t.ok(starts.every((s) => ext.lineInfo.some((l) => l.insnOff === s)), 'line_info starts at every program');
  t.same(ext.lineInfo.map((l) => l.insnOff), [...ext.lineInfo.map((l) => l.insnOff)].sort((a, b) => a - b), 'line_info sorted by offset');
  // Writing what we read gives the same object.
  const again = writeObject({ ...spec, programs: o.programs.map((p) => ({ name: p.name, section: p.section, insns: p.insns, labels: p.labels })) });
  const o2 = readObject(again);
  t.same(o2.programs.map((p) => [p.name, p.section, p.offset, Buffer.from(p.bytes).toString('hex')]), o.programs.map((p) => [p.name, p.section, p.offset, Buffer.from(p.bytes).toString('hex')]), 'rewrite keeps the layout (reader order)');
});

t.test('the reader splits a clang-built section holding two functions', { skip: toolSkipReason('clang', 'llvm-readelf', 'llvm-objdump') }, async (t) => {
  const c = `
#define SEC(n) __attribute__((section(n), used))
struct { int (*type)[2]; int (*max_entries)[1]; int *key; long *value; } counts SEC(".maps");
static void *(*lookup)(void *map, const void *key) = (void *)1;
SEC("kprobe/do_sys_openat2") int first(void *ctx) { int k = 0; long *v = lookup(&counts, &k); if (v) *v += 1; return 0; }
SEC("kprobe/do_sys_openat2") int second(void *ctx) { volatile int b = 3; if (b > 2) { int k = 0; long *v = lookup(&counts, &k); if (v) *v += 2; } return 1; }
SEC("kprobe/vfs_read") int third(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`;
  const src = writeTemp('two.c', new TextEncoder().encode(c));
  const out = `${src}.o`;
  const cc = run('clang', ['-target', 'bpf', '-O2', '-g', '-c', src, '-o', out]);
  t.equal(cc.status, 0, `clang builds the sample ${cc.stderr}`);
  const o = readObject(readFileSync(out));
  const syms = run('llvm-readelf', ['-s', '-W', out]).stdout;
  for (const p of o.programs) {
    const m = new RegExp(`: ([0-9a-f]{16})\\s+(\\d+) FUNC\\s+GLOBAL DEFAULT\\s+\\d+ ${p.name}$`, 'm').exec(syms);
    t.same([p.offset, p.bytes.length], [Number.parseInt(m?.[1] ?? '', 16), Number(m?.[2])], `${p.name}: offset and size as llvm-readelf lists them`);
  }
  t.same(o.programs.map((p) => [p.name, p.section]), [['first', 'kprobe/do_sys_openat2'], ['second', 'kprobe/do_sys_openat2'], ['third', 'kprobe/vfs_read']]);
  t.ok(o.programs[1]!.offset > 0, 'the second function starts mid-section');
  t.same(o.programs[1]!.relocations.map((r) => [r.symbol, r.kind]), [['counts', 'map']], 'relocations are sliced per function');
  const labels = [...o.programs[1]!.labels.keys()];
  t.ok(labels.length > 0 && labels.every((l) => l.startsWith('LBB1_')), `so are clang labels (${labels.join(', ')})`);
  // llvm-objdump is the judge of the slicing.
  const theirs = objdumpFunctions(out);
  t.same(o.programs.map((p) => p.name).sort(), [...theirs.keys()].sort(), 'one program per function objdump prints');
  for (const p of o.programs) t.same(disassembleProgram(p, { rawBytes: true, relocations: [] }), theirs.get(p.name), `${p.name} disassembles as objdump prints it`);
  const withRel = objdumpFunctions(out, ['-r']);
  for (const p of o.programs) t.same(disassembleProgram(p, { rawBytes: true }), withRel.get(p.name), `${p.name} with relocations`);
});
