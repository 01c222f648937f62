// Bounded mutation fuzzing of what `check` takes: a few hundred mutants of
// one of our compiled objects and one clang-built object (fixed seed, so a
// failure reproduces), each through checkObject with a short time limit.
// Every outcome must be a clean LoaderError, a verifier verdict or success:
// no other exception (a trap or a parser bug surfacing as a stack), no hang
// (the time limit turns it into a LoaderError), and nothing left behind in
// the kernel (programs, links, perf events of this process, per bpftool) or
// in this process's fd table.
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { checkObject, LibbpfCrashError, LibbpfTimeoutError, LoaderError } from '../../runtime/loader.js';
import { compileBpf, KPROBE_WITH_MAP, loadSkipReason, openFds } from './lib.js';
import { prng } from '../lib/prng.js';

const skip = loadSkipReason();
const MUTANTS_PER_SEED = 150;
const SEED = 0x17b1d9e;
// ~10 s of CPU; more wall time when other tests load the machine
t.setTimeout(240_000);


const SPECIAL_U32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffff8];

/** One mutant: a few byte flips, a special u32, or a truncation. */
function mutate(seed: Uint8Array, rnd: () => number): Uint8Array {
  const m = Uint8Array.from(seed);
  const at = (n: number) => Math.floor(rnd() * n);
  const kind = at(4);
  if (kind === 0) for (let i = 1 + at(4); i > 0; i--) m[at(m.length)] ^= 1 << at(8);
  else if (kind === 1) m[at(m.length)] = at(256);
  else if (kind === 2) new DataView(m.buffer).setUint32(at(m.length - 4) & ~3, SPECIAL_U32[at(SPECIAL_U32.length)]!, true);
  else return m.subarray(0, at(m.length));
  return m;
}

type Outcome = 'loaded' | 'verifier verdict' | 'loader error' | 'libbpf crash' | 'time limit';

function outcomeOf(bytes: Uint8Array): Outcome {
  try {
    const { verdicts } = checkObject(bytes, { name: 'mutant', logger: () => undefined, timeLimitMs: { open: 2000, load: 5000 } });
    return verdicts.some((v) => v.error) ? 'verifier verdict' : 'loaded';
  } catch (e) {
    if (e instanceof LibbpfTimeoutError) return 'time limit';
    if (e instanceof LibbpfCrashError) return 'libbpf crash';
    if (e instanceof LoaderError) return 'loader error';
    throw e;
  }
}

/** This process's programs, links and perf events as bpftool lists them. */
function kernelObjects(): string[] {
  const mine = (rows: { pids?: { pid: number }[]; id?: number; prog_id?: number }[], kind: string) =>
    rows.filter((r) => r.pids?.some((p) => p.pid === process.pid)).map((r) => `${kind} ${r.id ?? r.prog_id}`);
  const list = (...args: string[]) => JSON.parse(execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8' }) || '[]');
  return [...mine(list('prog', 'list'), 'prog'), ...mine(list('link', 'list'), 'link'), ...mine(list('map', 'list'), 'map'), ...list('perf', 'list').filter((p: { pid: number }) => p.pid === process.pid).map(() => 'perf')];
}

t.test('mutants of our and clang-built objects: a clean error, a verdict or success', { skip, timeout: 240_000 }, async (t) => {
  const { compileForCheck } = await import('../../bin/commands/check.js');
  const ours = await compileForCheck({ e: ['p:kprobes/kb_fuzz do_sys_openat2 dfd=%di:s32 name=+0(%si):string', 'p:uprobes/kb_fuzz_u /bin/true:0x1000 a=%di s=+0(%si):ustring'] });
  const seeds: [string, Uint8Array][] = [['ours', ours!.bytes], ['clang', compileBpf('fuzz_seed', KPROBE_WITH_MAP)]];
  for (const [, bytes] of seeds) t.equal(outcomeOf(bytes), 'loaded', 'the seed itself loads');
  const fdsBefore = openFds();
  const kernelBefore = kernelObjects();
  const rnd = prng(SEED);
  const tally = new Map<Outcome, number>();
  for (const [name, seed] of seeds) {
    for (let i = 0; i < MUTANTS_PER_SEED; i++) {
      const mutant = mutate(seed, rnd);
      let outcome: Outcome;
      try {
        outcome = outcomeOf(mutant);
      } catch (e) {
        t.fail(`${name} mutant ${i}: ${(e as Error).stack}`);
        continue;
      }
      tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
    }
  }
  t.comment([...tally].map(([k, v]) => `${k}: ${v}`).join(', '));
  t.equal([...tally.values()].reduce((a, b) => a + b, 0), 2 * MUTANTS_PER_SEED, 'every mutant had a clean outcome');
  t.ok((tally.get('loader error') ?? 0) > 0 && (tally.get('loaded') ?? 0) > 0, 'the mutations both break objects and leave some loadable');
  t.equal(openFds(), fdsBefore, 'no fd left open in this process');
  t.same(kernelObjects(), kernelBefore, 'bpftool: no program, map, link or perf event of this process left behind');
});
