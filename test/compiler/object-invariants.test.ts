// What must hold of every object the compiler writes, over every corpus the
// tests have (the compiler's, the grammar's valid and fuzzed uprobe lines,
// the demo's files): the same definitions give the same bytes (however they
// were parsed, whatever was compiled before), llvm-objdump decodes each
// program to exactly our own disassembly, and libbpf (bpftool's BTF dump)
// reads back from our .BTF the programs and maps we put in. The compiler's
// speed work must leave all of it unchanged. Judges: llvm-objdump, bpftool.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { disassemble } from '../../bpf/disasm.js';
import { placePrograms } from '../../bpf/elf-writer.js';
import { compileDefinitions, type CompiledObject } from '../../compiler/object.js';
import { parseProbeCommands } from '../../grammar/index.js';
import type { ProbeDefinition } from '../../grammar/ast.js';
import { objdumpFunctions, toolSkipReason } from '../bpf/tools.js';
import { kernelSymbols, probeCorpus } from './corpus.js';
import { buildCorpus, buildFuzzCorpus, type CorpusTarget } from '../grammar/corpus.js';

const CHUNK = 20;
const dir = mkdtempSync(join(tmpdir(), 'kprobe-bpf-invariants-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

// uprobe lines compile without reading their binary: any regular file serves
const BINARY = '/bin/true';
const target: CorpusTarget = {
  binary: BINARY, directory: dir, missing: join(dir, 'missing'), symlink: BINARY, colonPath: BINARY, relative: BINARY,
  offsets: [0x1000n, 0x1100n], group: 'inv',
};
const demo = (file: string): string[] =>
  readFileSync(new URL(`../../../demo/${file}`, import.meta.url), 'utf8').replace(/build\/demo\/workload:\w+/g, `${BINARY}:0x1100`).split('\n');
const lines = [
  ...probeCorpus(BINARY, 0x1000, kernelSymbols()),
  ...buildCorpus(target),
  ...buildFuzzCorpus(target, 1500),
  ...demo('events.txt'),
  ...demo('kernel-events.txt'),
];

/** Every line that defines an event, parsed afresh each call; lines the kernel refuses are left out. */
function parseAll(): ProbeDefinition[] {
  const out: ProbeDefinition[] = [];
  const names = new Set<string>();
  for (const line of lines) {
    let commands;
    try {
      commands = parseProbeCommands(line, {}).commands;
    } catch {
      continue;
    }
    for (const c of commands) {
      // an object holds an event once (the fuzzed lines reuse names)
      if (c.op !== 'define' || names.has(`${c.group}/${c.event}`)) continue;
      names.add(`${c.group}/${c.event}`);
      out.push(c);
    }
  }
  return out;
}

/** Compiles in chunks; a chunk that does not compile (a fuzzed line the compiler refuses) is compiled line by line. */
function compileChunks(defs: readonly ProbeDefinition[]): (CompiledObject | string)[] {
  const out: (CompiledObject | string)[] = [];
  const one = (part: readonly ProbeDefinition[]): CompiledObject | string => {
    try {
      return compileDefinitions(part);
    } catch (e) {
      return `${part.map((d) => `${d.group}/${d.event}`).join(',')}: ${(e as Error).message}`;
    }
  };
  for (let i = 0; i < defs.length; i += CHUNK) {
    const part = defs.slice(i, i + CHUNK);
    const whole = one(part);
    if (typeof whole !== 'string') out.push(whole);
    else for (const d of part) out.push(one([d]));
  }
  return out;
}

const defs = parseAll();
const first = compileChunks(defs);
const objects = first.filter((c): c is CompiledObject => typeof c !== 'string');

t.test('the corpora give hundreds of objects', async (t) => {
  t.ok(defs.length >= 500, `${defs.length} definitions`);
  t.ok(objects.length >= 30, `${objects.length} objects`);
  // a refusal is the compiler's answer to a line, and must be the same every time too (below)
  t.ok(first.length - objects.length <= 5, `${first.length - objects.length} refused: ${first.filter((c) => typeof c === 'string').join('\n')}`);
});

t.test('the same definitions give the same bytes, parsed again and compiled in the reverse order', async (t) => {
  const again = parseAll();
  t.equal(again.length, defs.length);
  // compile the chunks last to first: nothing one compile leaves behind may change another's bytes
  const chunks: ProbeDefinition[][] = [];
  for (let i = 0; i < again.length; i += CHUNK) chunks.push(again.slice(i, i + CHUNK));
  const reversed = chunks.reverse().flatMap((c) => compileChunks(c).reverse()).reverse();
  // the chunks' results come back in the original order: compare one by one
  const flat = (xs: readonly (CompiledObject | string)[]) => xs.map((x) => (typeof x === 'string' ? x : Buffer.from(x.object).toString('base64')));
  const a = flat(first);
  const b = flat(reversed);
  t.equal(b.length, a.length);
  let differ = 0;
  a.forEach((x, i) => { if (x !== b[i]) differ++; });
  t.equal(differ, 0, `${differ} of ${a.length} objects differ`);
});

t.test('llvm-objdump agrees with our disassembly of every program', async (t) => {
  const skip = toolSkipReason('llvm-objdump');
  if (skip) return t.plan(0, skip);
  let programs = 0;
  let mismatched = 0;
  objects.forEach((c, n) => {
    const file = join(dir, `inv-${n}.o`);
    writeFileSync(file, c.object);
    const functions = objdumpFunctions(file);
    const placed = placePrograms(c.programs.map((p) => p.spec));
    c.programs.forEach((p, k) => {
      const at = placed[k]!;
      const ours = disassemble(p.spec.insns ?? [], {
        name: p.ir.name, rawBytes: true, ...(p.spec.labels ? { labels: p.spec.labels } : {}),
        address: at.offset, sectionSymbols: at.sectionSymbols, sectionBytes: at.sectionBytes,
      });
      programs++;
      // one assertion per object below; the first few differences in full
      if (JSON.stringify(ours) !== JSON.stringify(functions.get(p.ir.name)) && mismatched++ < 3) t.same(ours, functions.get(p.ir.name), `${p.ir.name} in ${file}`);
    });
  });
  t.equal(mismatched, 0, `${mismatched} of ${programs} programs disassemble differently`);
});

interface BpftoolType { id: number; kind: string; name: string; type_id?: number; nr_elems?: number; members?: { name: string; type_id: number }[]; vars?: { type_id: number }[] }

t.test("bpftool reads our programs and maps back from each object's BTF", async (t) => {
  const skip = toolSkipReason('bpftool');
  if (skip) return t.plan(0, skip);
  let bad = 0;
  objects.forEach((c, n) => {
    const file = join(dir, `btf-${n}.o`);
    writeFileSync(file, c.object);
    const types = (JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', file], { encoding: 'utf8', maxBuffer: 64 << 20 })) as { types: BpftoolType[] }).types;
    const byId = new Map(types.map((x) => [x.id, x]));
    const funcs = types.filter((x) => x.kind === 'FUNC').map((x) => x.name).sort();
    const programs = c.programs.flatMap((p) => (p.entry ? [p.spec.name, p.entry.spec.name] : [p.spec.name])).sort();
    // a map's definition: VAR -> STRUCT whose members are int (*)[value] (libbpf's __uint convention)
    const maps = types.filter((x) => x.kind === 'DATASEC' && x.name === '.maps').flatMap((d) => d.vars ?? []).map((v) => {
      const variable = byId.get(v.type_id)!;
      const members = byId.get(variable.type_id!)!.members ?? [];
      return `${variable.name}:${members.map((m) => `${m.name}=${byId.get(byId.get(m.type_id)!.type_id!)!.nr_elems}`).join(',')}`;
    });
    // every object has the perf ring (PERF_EVENT_ARRAY = 4, 4-byte keys and values, max_entries left to libbpf)
    const ring = maps.includes('events:type=4,key_size=4,value_size=4');
    if (JSON.stringify(funcs) !== JSON.stringify(programs) || !ring) {
      if (bad++ < 3) t.same({ funcs, ring }, { funcs: programs, ring: true }, `${file}: maps ${maps.join(' ')}`);
    }
  });
  t.equal(bad, 0, `${bad} of ${objects.length} objects' BTF disagrees`);
});
