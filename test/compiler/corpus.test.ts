// The compiler's corpus: every generated definition compiles; llvm-objdump
// decodes our bytes to exactly our own disassembly; and, as root, libbpf
// (Debian's bpftool) opens every object and the kernel verifier accepts every
// program. Judges: llvm-objdump, libbpf, the running kernel.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { disassemble } from '../../bpf/disasm.js';
import { placePrograms } from '../../bpf/elf-writer.js';
import { compileDefinitions } from '../../compiler/object.js';
import { parseProbeCommands } from '../../grammar/index.js';
import type { ProbeDefinition } from '../../grammar/ast.js';
import { rootSkipReason, withKernelLock } from '../lib/kernel.js';
import { objdumpFunctions, toolSkipReason } from '../bpf/tools.js';
import { withBpffs } from '../lib/bpffs.js';
import { kernelSymbols, probeCorpus } from './corpus.js';
import { fentryRefusal } from '../lib/fentry.js';

const CHUNK = 20;
const dir = mkdtempSync(join(tmpdir(), 'kprobe-bpf-corpus-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** A small gcc-built target; returns its path and the file offset of `target`. */
function buildTarget(): { path: string; offset: number } {
  const src = join(dir, 't.c');
  writeFileSync(src, 'int g[8] = {1,2,3};\nint __attribute__((noinline)) target(int a, char *s) { return a + s[0] + g[a & 7]; }\nint main(int c, char **v) { return target(c, v[0]); }\n');
  const path = join(dir, 'target');
  execFileSync('gcc', ['-O1', '-o', path, src]);
  const nm = execFileSync('nm', [path], { encoding: 'utf8' });
  const vaddr = Number.parseInt(/^([0-9a-f]+) T target$/m.exec(nm)![1]!, 16);
  // gcc's PIE text segment maps file offset == vaddr; readelf confirms below
  const seg = execFileSync('readelf', ['-lW', path], { encoding: 'utf8' })
    .split('\n').filter((l) => /^\s+LOAD/.test(l)).map((l) => l.trim().split(/\s+/))
    .map((f) => ({ off: Number(f[1]), vaddr: Number(f[2]), filesz: Number(f[4]) }))
    .find((s) => vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz)!;
  return { path, offset: vaddr - seg.vaddr + seg.off };
}

const target = buildTarget();
const lines = probeCorpus(target.path, target.offset, kernelSymbols());

const defs: ProbeDefinition[] = [];
t.test('every corpus line parses', async (t) => {
  for (const line of lines) {
    try {
      const { commands } = parseProbeCommands(line, {});
      for (const c of commands) if (c.op === 'define') defs.push(c);
    } catch (e) {
      t.fail(`${line}: ${(e as Error).message}`);
    }
  }
  t.ok(defs.length >= 200, `${defs.length} definitions (need >= 200)`);
});

const chunks: { file: string; defs: ProbeDefinition[] }[] = [];
// The objects are loaded into this kernel below: where it refuses fentry/fexit
// programs, BTF kprobes compile to the kprobe/kretprobe programs trace falls
// back to (their fentry/fexit form is judged by the 6.12 guest's verifier).
const fentryRefused = rootSkipReason() ?? toolSkipReason('bpftool') ? undefined : await withKernelLock(async () => fentryRefusal());
t.test('every definition compiles; llvm-objdump agrees with our disassembly', async (t) => {
  const skip = toolSkipReason('llvm-objdump');
  if (fentryRefused) t.comment(`this kernel refuses fentry (${fentryRefused}): BTF kprobes compile to kprobe/kretprobe programs`);
  for (let i = 0; i < defs.length; i += CHUNK) {
    const part = defs.slice(i, i + CHUNK);
    const compiled = compileDefinitions(part, { trampolines: fentryRefused === undefined });
    const file = join(dir, `corpus-${i / CHUNK}.o`);
    writeFileSync(file, compiled.object);
    chunks.push({ file, defs: part });
    if (skip) continue;
    // Programs on one symbol share a section: compare per function, each at its place in it.
    const functions = objdumpFunctions(file);
    const placed = placePrograms(compiled.programs.map((p) => p.spec));
    compiled.programs.forEach((p, k) => {
      const at = placed[k]!;
      const theirs = functions.get(p.ir.name);
      const ours = disassemble(p.spec.insns ?? [], {
        name: p.ir.name,
        rawBytes: true,
        ...(p.spec.labels ? { labels: p.spec.labels } : {}),
        address: at.offset,
        sectionSymbols: at.sectionSymbols,
        sectionBytes: at.sectionBytes,
      });
      t.same(ours, theirs, `${p.ir.format.group}/${p.ir.format.event}: ${p.ir.section}+${at.offset}`);
    });
  }
  if (skip) t.test('llvm-objdump comparison', { skip }, async () => {});
});

t.test('libbpf loads every object and the kernel verifier accepts every program', async (t) => {
  const skip = rootSkipReason() ?? toolSkipReason('bpftool');
  if (skip) return t.plan(0, skip);
  await withBpffs(async (root) => {
    let loaded = 0;
    for (const [n, c] of chunks.entries()) {
      const pin = join(root, `corpus-${n}`);
      try {
        const r = spawnSync('bpftool', ['prog', 'loadall', c.file, pin], { encoding: 'utf8' });
        const pinned = r.status === 0 ? readdirSync(pin) : [];
        loaded += pinned.length;
        t.equal(pinned.length, c.defs.length, `${c.file}: ${pinned.length}/${c.defs.length} programs loaded${r.status ? `\n${r.stderr.slice(-3000)}` : ''}`);
      } finally {
        rmSync(pin, { recursive: true, force: true });
      }
    }
    t.equal(loaded, defs.length, `${loaded} of ${defs.length} programs passed the verifier`);
  });
});

t.test('our own loader (libbpf in wasm) loads every object of the corpus', async (t) => {
  const skip = rootSkipReason();
  if (skip) return t.plan(0, skip);
  const { BpfObject } = await import('../../runtime/loader.js');
  let loaded = 0;
  for (const c of chunks) {
    const obj = BpfObject.open(new Uint8Array(readFileSync(c.file)), { name: 'corpus', logger: () => {} });
    try {
      const r = obj.load();
      const ok = r.programs.filter((p) => p.loaded && p.fd >= 0);
      loaded += ok.length;
      t.equal(ok.length, c.defs.length, `${c.file}: ${ok.length}/${c.defs.length}`);
    } finally {
      obj.close();
    }
  }
  t.equal(loaded, defs.length, `${loaded} of ${defs.length} programs loaded through the wasm loader`);
});
