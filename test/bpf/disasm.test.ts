// Our disassembly must read exactly as LLVM 14's llvm-objdump reads the same
// bytes: we write an object with our writer, objdump it, and compare line by line.
import t, { type Test } from 'tap';
import { assemble } from '../../bpf/asm.js';
import { disassemble, disassembleProgram, type DisasmOptions } from '../../bpf/disasm.js';
import { placePrograms, writeObject, type ProgramSpec } from '../../bpf/elf-writer.js';
import { MapType } from '../../bpf/elf.js';
import { type Insn } from '../../bpf/insn.js';
import { readObject } from '../../bpf/elf-reader.js';
import { everyDslForm, everyOpcode, randomInsns } from './corpus.js';
import { objdumpFunctions, objdumpSections, toolSkipReason, writeTemp } from './tools.js';

const skip = toolSkipReason('llvm-objdump');

interface Case {
  name: string;
  program: ProgramSpec;
}

function cases(): Case[] {
  const dsl = assemble(everyDslForm());
  const out: Case[] = [
    { name: 'every DSL form', program: { name: 'dsl', section: 'kprobe/dsl', insns: dsl.insns, labels: dsl.labels } },
    { name: 'every opcode', program: { name: 'ops', section: 'kprobe/ops', insns: everyOpcode() } },
  ];
  // Zero runs, which objdump elides as `...` in steps of 4 bytes, sometimes leaving it mid-slot.
  const zeroCases = [
    'b7000000 00000000 00000000 00000000 00000000 05000000 b7010000 00000000 95000000 00000000',
    'b7000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 95000000 00000000',
    'b7000000 00000000 00000000 000000ff 00000000 00000000 00000000 00000001',
    '18010000 00000000 00000000 00000000 00000000 00000000 95000000 00000000',
  ];
  zeroCases.forEach((hex, i) => {
    const bytes = Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
    out.push({ name: `zero run ${i}`, program: { name: `z${i}`, section: `kprobe/z${i}`, bytes } });
  });
  for (let seed = 1; seed <= 16; seed++) {
    out.push({ name: `random slots, seed ${seed}`, program: { name: `rnd${seed}`, section: `uprobe/rnd${seed}`, insns: randomInsns(seed, 600) } });
  }
  return out;
}

/** Compares our lines with objdump's; returns the number of instruction lines that agree. */
function compare(t: Test, ours: string[], theirs: string[] | undefined, what: string): number {
  t.ok(theirs, `objdump printed section for ${what}`);
  if (!theirs) return 0;
  let agree = 0;
  const n = Math.max(ours.length, theirs.length);
  const diffs: string[] = [];
  for (let i = 0; i < n; i++) {
    if (ours[i] === theirs[i]) {
      if (/^\s+\d+:/.test(theirs[i] ?? '')) agree++;
    } else if (diffs.length < 10) diffs.push(`line ${i}:\n  ours:    ${JSON.stringify(ours[i])}\n  objdump: ${JSON.stringify(theirs[i])}`);
  }
  t.equal(diffs.length, 0, `${what}: our disassembly equals llvm-objdump's`, { diffs: diffs.join('\n') });
  return agree;
}

t.test('disassembly matches llvm-objdump -d for the same bytes', { skip }, async (t) => {
  const cs = cases();
  const obj = writeObject({ license: 'GPL', programs: cs.map((c) => c.program) });
  const file = writeTemp('disasm.o', obj);
  const modes: { flags: string[]; opts: DisasmOptions; label: string }[] = [
    { flags: [], opts: { rawBytes: true }, label: 'raw bytes' },
    { flags: ['--no-show-raw-insn'], opts: {}, label: 'no raw bytes' },
  ];
  let total = 0;
  for (const m of modes) {
    const dumped = objdumpSections(file, m.flags);
    for (const c of cs) {
      const input = c.program.bytes ?? (c.program.insns as Insn[]);
      const ours = disassemble(input, { ...m.opts, name: c.program.name, labels: c.program.labels ?? new Map() });
      total += compare(t, ours, dumped.get(c.program.section), `${c.name} (${m.label})`);
    }
  }
  t.comment(`llvm-objdump agreement: ${total} instruction lines`);
  t.ok(total > 4000, 'a large corpus was compared');
});

t.test('the same corpus packed into one section reads per function as llvm-objdump prints it', { skip }, async (t) => {
  // One section holding every case back to back: addresses, instruction numbers,
  // branch targets and zero runs are section-relative, as in a clang object
  // with several functions under one SEC().
  const programs = cases().map((c) => ({ ...c.program, section: 'kprobe/all' }));
  const obj = writeObject({ license: 'GPL', programs });
  const file = writeTemp('packed.o', obj);
  const placed = placePrograms(programs);
  t.ok(placed.every((p) => p.section === 'kprobe/all') && placed.at(-1)!.offset > 0, 'all in one section, at growing offsets');
  let total = 0;
  const dumped = objdumpFunctions(file);
  t.same([...dumped.keys()].sort(), programs.map((p) => p.name).sort(), 'objdump -t and -d see one function per program');
  programs.forEach((p, i) => {
    const input = p.bytes ?? (p.insns as Insn[]);
    const at = placed[i]!;
    const ours = disassemble(input, { rawBytes: true, name: p.name, labels: p.labels ?? new Map(), address: at.offset, sectionSymbols: at.sectionSymbols, sectionBytes: at.sectionBytes });
    total += compare(t, ours, dumped.get(p.name), `${p.name} at +${at.offset}`);
  });
  // And read back: the reader slices each program so disassembleProgram needs nothing else.
  const dumpedR = objdumpFunctions(file, ['-r', '--no-show-raw-insn']);
  const back = readObject(obj).programs;
  t.same(back.map((p) => p.name), programs.map((p) => p.name), 'the reader returns every program of the section');
  for (const p of back) compare(t, disassembleProgram(p), dumpedR.get(p.name), `${p.name} read back`);
  t.comment(`llvm-objdump agreement in one section: ${total} instruction lines`);
});

t.test('disassembly of bytes read back from the object equals objdump -dr, relocations included', { skip }, async (t) => {
  const { ldMapFd, ldKsym } = await import('../../bpf/asm.js');
  const withRelocs = assemble([ldMapFd(1, 'events'), ldKsym(2, 'some_ksym'), ...everyDslForm()]);
  const obj = writeObject({
    license: 'GPL',
    programs: [{ name: 'rel', section: 'kprobe/rel', insns: withRelocs.insns, labels: withRelocs.labels }],
    maps: [{ name: 'events', type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 0 }],
    externs: [{ name: 'some_ksym' }],
  });
  const file = writeTemp('reloc.o', obj);
  const back = readObject(obj).programs[0]!;
  const ours = disassemble(back.bytes, { name: back.name, labels: back.labels, relocations: back.relocations, rawBytes: true });
  compare(t, ours, objdumpSections(file, ['-r']).get('kprobe/rel'), 'relocated program');
});

t.test('annotated disassembly puts each comment above the run it starts', async (t) => {
  const { mov64Imm, exit, annotate, ldx } = await import('../../bpf/asm.js');
  const { Size } = await import('../../bpf/insn.js');
  const { insns } = assemble([...annotate('arg1=%di:u64', [ldx(Size.DW, 1, 1, 112), mov64Imm(2, 0)]), ...annotate('return', [mov64Imm(0, 0), exit()])]);
  const lines = disassemble(insns, { annotate: true, name: 'p' });
  t.same(lines, [
    '0000000000000000 <p>:',
    '; arg1=%di:u64',
    '       0:\tr1 = *(u64 *)(r1 + 112)',
    '       1:\tr2 = 0',
    '; return',
    '       2:\tr0 = 0',
    '       3:\texit',
  ]);
});
