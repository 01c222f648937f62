// Compiler figures: definitions compiled per second per stage and whole (warm),
// and for a fixed set of probe lines our instruction count next to clang -O2's
// for the equivalent C (bench/c-equivalent.ts writes it from the same IR).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildObjectSpec, compileDefinitions, writeObject } from '../compiler/object.js';
import { generateProgram } from '../compiler/codegen.js';
import { lowerProbe } from '../compiler/lower.js';
import { programFromAsm } from '../bpf/elf-writer.js';
import type { ProbeDefinition } from '../grammar/ast.js';
import { parseProbeCommands } from '../grammar/index.js';
import { cEquivalent } from './c-equivalent.js';
import type { Bench, Row } from './table.js';

/** The fixed lines; /bin/true stands in for a binary (uprobe lines compile without probing it). */
const LINES = [
  'p:kprobes/open do_sys_openat2 dfd=%di:s32 name=+0(%si):string flags=+0(%dx):x64',
  'r:kprobes/open_ret do_sys_openat2 ret=$retval:s64',
  'p:kprobes/read vfs_read file=%di buf=%si count=%dx:u64 pos=+0(%cx):s64',
  'p:kprobes/deep vfs_read d=+16(+40(+8(%di))):u32 s=+0(+8(%di)):string b=+4(%si):b5@3/32',
  'p:kprobes/args vfs_read a1=$arg1 a2=$arg2 a3=$arg3 a7=$arg7 st=$stack2 c=$comm',
  'p:uprobes/u /bin/true:0x1000 arg1=%di s=+0(%si):ustring c=%dx:u8 b=%di:b3@2/32',
  'r:uprobes/ur /bin/true:0x1000 rv=$retval:s32 sp=$stack cm=$comm',
  'p:uprobes/arr /bin/true:0x1000 arr=+0(%si):u8[16] strs=+0(%si):string[4] f=@+0x2010:x64 im=\\1234',
  'p:kprobes/regs vfs_read %ax %bx %cx %dx %si %di %bp %sp %r8 %r9 %r10 %r11 %r12 %r13 %r14 %r15',
];

/** The lines as one input, parsed as `kprobe-bpf compile` parses its file or arguments: one call for all of them. */
const defsOf = (lines: readonly string[]): ProbeDefinition[] =>
  parseProbeCommands(lines.join('\n'), {}).commands.filter((c): c is ProbeDefinition => c.op === 'define');

/** The headline target (issue 13): parse + compile, in process, warm. */
const TARGET_PER_S = 20_000;
/** CPU time each stage is warmed for before it is measured, and measured for (per sample). */
const WARM_CPU_S = 0.4;
const SAMPLE_CPU_S = 0.5;
const SAMPLES = 5;

const cpuSeconds = (since: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
};

/** Runs `stage` for at least `seconds` of CPU time (and `minRounds`); returns rounds and the CPU seconds they took. */
function runFor(stage: () => unknown, seconds: number, minRounds: number): { rounds: number; cpu: number } {
  const t0 = process.cpuUsage();
  let rounds = 0;
  let cpu = 0;
  // check the clock every 10 rounds: process.cpuUsage() is a system call
  while (rounds < minRounds || cpu < seconds) {
    for (let i = 0; i < 10; i++) stage();
    rounds += 10;
    cpu = cpuSeconds(t0);
  }
  return { rounds, cpu };
}

/**
 * Definitions per second of CPU time through `stage` (run once per round
 * over all definitions), warm: the JIT's tiers are done before it is
 * measured (50 rounds were not: the optimising compiler's threads then
 * counted in the figure). Median of SAMPLES samples, since other work on a
 * shared machine slows single samples down. CPU time, not wall: on a busy
 * machine the wall clock counts the waits for a CPU too.
 */
function rate(defs: number, stage: () => unknown): number {
  runFor(stage, WARM_CPU_S, 50);
  const rates = Array.from({ length: SAMPLES }, () => {
    const { rounds, cpu } = runFor(stage, SAMPLE_CPU_S, 20);
    return (rounds * defs) / cpu;
  }).sort((a, b) => a - b);
  return rates[SAMPLES >> 1]!;
}

/**
 * Each stage alone, on the previous stage's output, so a slow one has a name:
 * grammar (text -> definitions), lower (definitions -> IR), codegen (IR ->
 * assembler items), assemble (items -> instructions, programFromAsm), object
 * (spec -> ELF bytes), then compileDefinitions (all but the grammar) and the
 * whole (parse + compile), the headline figure, against the target.
 */
function stageRows(defs: readonly ProbeDefinition[]): Row[] {
  const text = LINES.join('\n');
  const irs = defs.map((d) => lowerProbe(d));
  const items = irs.map((ir, i) => generateProgram(ir, i + 1));
  const spec = buildObjectSpec(defs);
  const n = defs.length;
  const stages: [string, () => unknown][] = [
    ['grammar (parse)', () => parseProbeCommands(text, {})],
    ['lower', () => defs.map((d) => lowerProbe(d))],
    ['codegen', () => irs.map((ir, i) => generateProgram(ir, i + 1))],
    ['assemble (programFromAsm)', () => irs.map((ir, i) => programFromAsm(ir.name, ir.section, items[i]!, 'pt_regs'))],
    ['object (ELF, BTF, metadata)', () => writeObject(spec)],
    ['compile (all but grammar)', () => compileDefinitions(defs)],
    ['parse + compile', () => compileDefinitions(defsOf(LINES))],
  ];
  return stages.map(([stage, run]) => {
    const perS = rate(n, run);
    const row: Row = { probe: `stage: ${stage}`, 'definitions/s': Math.round(perS), 'µs/definition': 1e6 / perS };
    return stage === 'parse + compile' ? { ...row, 'vs target': perS / TARGET_PER_S } : row;
  });
}

/**
 * The same whole (parse + compile of the 9 lines) once, as the first work of
 * a new process (`kprobe-bpf compile` runs it so): nothing compiled by the
 * JIT yet. CPU time of that call, in a child so this process's warm code stays out.
 */
function coldRow(): Row {
  const script = `
    const { compileDefinitions } = await import(${JSON.stringify(new URL('../compiler/object.js', import.meta.url).href)});
    const { parseProbeCommands } = await import(${JSON.stringify(new URL('../grammar/index.js', import.meta.url).href)});
    const lines = ${JSON.stringify(LINES)};
    const t0 = process.cpuUsage();
    compileDefinitions(parseProbeCommands(lines.join('\\n'), {}).commands);
    const u = process.cpuUsage(t0);
    process.stdout.write(String((u.user + u.system) / 1e3));`;
  const runs = Array.from({ length: 3 }, () => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    return r.status === 0 ? Number(r.stdout) : Number.NaN;
  }).sort((a, b) => a - b);
  const ms = runs[1]!;
  return { probe: 'parse + compile, first call in a new process (cold JIT), median of 3', 'definitions/s': Math.round((LINES.length * 1e3) / ms), 'µs/definition': (ms * 1e3) / LINES.length };
}

/** Instructions per function in a clang-built object, by section (llvm-objdump lines, ld_imm64 counted once). */
function clangCounts(c: string): Map<string, number> | string {
  if (spawnSync('sh', ['-c', 'command -v clang']).status !== 0) return 'clang missing (make apt-deps installs it)';
  const dir = mkdtempSync(join(tmpdir(), 'kprobe-bpf-bench-'));
  try {
    writeFileSync(join(dir, 'eq.c'), c);
    const r = spawnSync('clang', ['-target', 'bpf', '-O2', '-g', '-I/usr/include/x86_64-linux-gnu', '-c', 'eq.c', '-o', 'eq.o'], { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) return `clang failed: ${r.stderr.slice(0, 500)}`;
    const out = execFileSync('llvm-objdump', ['-d', join(dir, 'eq.o')], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const counts = new Map<string, number>();
    let fn: string | undefined;
    for (const line of out.split('\n')) {
      const f = /^[0-9a-f]{16} <(\w+)>:$/.exec(line);
      // llvm-objdump also heads basic blocks (<LBB0_3>:): those continue the function
      if (f && !f[1]!.startsWith('LBB')) { fn = f[1]; counts.set(fn!, 0); continue; }
      if (f) continue;
      if (fn && /^\s+\d+:\t/.test(line)) counts.set(fn, counts.get(fn)! + 1);
    }
    return counts;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const bench: Bench = {
  name: 'compile: throughput, and instructions vs clang -O2 for the same programs',
  async run(): Promise<Row[]> {
    const defs = defsOf(LINES);
    const rows: Row[] = [
      { probe: `(throughput: ${defs.length} definitions per round, warm, CPU time; target ${TARGET_PER_S.toLocaleString('en-US')}/s for parse + compile)` },
      ...stageRows(defs), coldRow(),
    ];
    const compiled = buildObjectSpec(defs);
    const clang = clangCounts(cEquivalent(compiled));
    let ours = 0, theirs = 0;
    for (const p of compiled.programs) {
      const n = p.spec.insns?.length ?? 0;
      const c = typeof clang === 'string' ? undefined : clang.get(p.ir.name);
      ours += n;
      if (c !== undefined) theirs += c;
      rows.push({ probe: `${p.ir.format.group}/${p.ir.format.event}`, 'kprobe-bpf insns': n, ...(c !== undefined ? { 'clang -O2 insns': c, 'ours/clang': n / c } : {}) });
    }
    if (typeof clang === 'string') rows.push({ probe: `clang comparison skipped: ${clang}` });
    else rows.push({ probe: 'total', 'kprobe-bpf insns': ours, 'clang -O2 insns': theirs, 'ours/clang': ours / theirs });
    return rows;
  },
};
export default bench;
