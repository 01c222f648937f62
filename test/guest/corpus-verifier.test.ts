// Inside the guest: every program of the compiler's corpus (test/compiler/
// corpus.ts, kernel symbols taken from the guest's own kallsyms) passes the
// guest kernel's verifier (6.1, 6.12), loaded by Debian's bpftool (libbpf) with `prog
// loadall` as on the host (test/compiler/corpus.test.ts): a second kernel
// version besides the host's. Compiled in-process (one node, no CLI spawns).
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileDefinitions } from '../../compiler/object.js';
import { kernelRules, parseProbeCommands, type ProbeDefinition } from '../../grammar/index.js';
import { withKernelLock } from '../lib/kernel.js';
import { kernelSymbols, probeCorpus } from '../compiler/corpus.js';
import { loadAll, pinDir, unpinAll } from './bpftool.js';
import { symbolFileOffset } from './elf-symbol.js';
import { fixture, notInGuestReason } from './env.js';

const skip = notInGuestReason();
/** Programs per object, as on the host. */
const CHUNK = 20;

t.test(`the ${release()} verifier accepts every program of the compiler corpus`, { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kbpf-corpus-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const target = fixture('uprobe_target');
  const syms = kernelSymbols('/proc/kallsyms');
  t.ok(syms.data, `a data symbol from the guest's kallsyms for @SYM (${syms.data})`);
  const lines = probeCorpus(target, symbolFileOffset(target, 'kbpf_target'), syms);
  const defs: ProbeDefinition[] = [];
  // The corpus is written in the newest grammar (char...): the verifier is under test here, not the
  // grammar, so its lines are parsed with those rules rather than the guest kernel's (the default).
  const rules = kernelRules('6.18').probe;
  for (const line of lines) {
    for (const c of parseProbeCommands(line, { rules }).commands) if (c.op === 'define') defs.push(c);
  }
  t.ok(defs.length >= 200, `${defs.length} definitions`);
  const started = Date.now();
  const objects: { file: string; count: number }[] = [];
  for (let i = 0; i < defs.length; i += CHUNK) {
    const part = defs.slice(i, i + CHUNK);
    const file = join(dir, `corpus-${i / CHUNK}.o`);
    writeFileSync(file, compileDefinitions(part).object);
    objects.push({ file, count: part.length });
  }
  t.comment(`compiled ${defs.length} definitions into ${objects.length} objects in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  let loaded = 0;
  await withKernelLock(() => {
    for (const o of objects) {
      const pin = pinDir('corpus');
      try {
        const r = loadAll(o.file, pin);
        loaded += r.pinned.length;
        t.equal(r.pinned.length, o.count, `${o.file}: ${r.pinned.length}/${o.count} programs loaded`, r.ok ? {} : { output: r.output.slice(-3000) });
      } finally {
        unpinAll(pin);
      }
    }
  });
  t.equal(loaded, defs.length, `${loaded} of ${defs.length} programs passed the ${release()} verifier`);
});
