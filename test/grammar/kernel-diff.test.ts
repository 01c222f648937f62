// Differential test: every corpus line is written to the live kernel's
// uprobe_events and parsed by us; the kernel's answer (accepted or not, the
// readback, the error_log entry) is the expected value. Each accepted probe is
// removed again at once, so lines never interact and nothing is left behind.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { formatProbeCommand, parseProbeCommands, type ProbeSyntaxError } from '../../grammar/index.js';
import { askKernel as askKernelOf, askUs as askUsOf, describeDisagreement, diffLines, readEvents as readEventsOf } from '../lib/grammar-diff.js';
import { TRACEFS, uprobeEventsSkipReason, withKernelLock } from '../lib/kernel.js';
import { buildCorpus, buildFuzzCorpus, type CorpusTarget } from './corpus.js';

const EVENTS = `${TRACEFS}/uprobe_events`;
const PARSE = { tracer: 'uprobe', symbolPlaces: false } as const;
const readEvents = () => readEventsOf(EVENTS);
const askUs = (line: string) => askUsOf(line, PARSE);

function buildTarget(dir: string): CorpusTarget {
  const group = `kbg${process.pid}`;
  const src = join(dir, 'target.c');
  writeFileSync(src, [
    'volatile unsigned short kbg_semaphore __attribute__((section(".probes")));',
    'struct s { int a; const char *name; unsigned flags : 3; };',
    'int __attribute__((noinline)) first(int a, const char *s) { return a + s[0]; }',
    'long __attribute__((noinline)) second(struct s *p) { return p->a + p->flags; }',
    'int main(int argc, char **argv) { struct s v = { argc, argv[0], 5 }; return first(argc, argv[0]) + (int)second(&v); }',
    '',
  ].join('\n'));
  const binary = join(dir, `kbgt${process.pid}`);
  execFileSync('gcc', ['-O1', '-g', '-o', binary, src]);
  const nm = execFileSync('nm', [binary], { encoding: 'utf8' });
  const offsets = ['first', 'second', 'main'].map((name) => {
    const m = new RegExp(`^([0-9a-f]+) T ${name}$`, 'm').exec(nm);
    if (!m) throw new Error(`nm: no ${name} in ${binary}`);
    return BigInt(`0x${m[1]}`);
  });
  const directory = join(dir, 'adir');
  mkdirSync(directory);
  const symlink = join(dir, 'alink');
  symlinkSync(binary, symlink);
  const colonDir = join(dir, 'x:1');
  mkdirSync(colonDir);
  const colonPath = join(colonDir, 'bin');
  symlinkSync(binary, colonPath);
  return { binary, directory, missing: join(dir, 'nope', 'missing'), symlink, colonPath, relative: relative(process.cwd(), binary), offsets, group };
}

function gccSkipReason(): string | undefined {
  try { execFileSync('gcc', ['--version'], { stdio: 'pipe' }); return undefined; } catch { return 'gcc is not installed (make apt-deps installs it)'; }
}

const skip = uprobeEventsSkipReason() ?? gccSkipReason();

t.test('the parser agrees with the live kernel on every corpus line', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kbg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const target = buildTarget(dir);
  // A fixed seed by default; KPROBE_BPF_FUZZ_SEED/_COUNT explore further.
  const seed = process.env.KPROBE_BPF_FUZZ_SEED ? Number(process.env.KPROBE_BPF_FUZZ_SEED) : undefined;
  const count = Number(process.env.KPROBE_BPF_FUZZ_COUNT ?? 400);
  const corpus = [...buildCorpus(target), ...buildFuzzCorpus(target, count, seed)];
  t.ok(corpus.length >= 300, `corpus has ${corpus.length} lines`);

  // Belt and braces: nothing of ours may survive, even after an exception.
  const ours = (l: string) => l.includes(`:${target.group}`) || l.includes(`kbgt${process.pid}`) || l.includes(`/ev${target.group.slice(3)} `);
  const { disagreements, accepted } = await withKernelLock(() => diffLines(EVENTS, corpus, { parse: PARSE, ours }));
  const agree = corpus.length - disagreements.length;
  const messages = new Set(corpus.map(askUs).flatMap((a) => a.log.map((l) => l.split('\n')[0])));
  t.comment(`kernel differential: ${agree}/${corpus.length} lines agree (${accepted} accepted by the kernel, ${messages.size} distinct error messages)`);
  for (const d of disagreements) t.fail('disagreement', { diagnostic: true, found: describeDisagreement(d) });
  t.equal(disagreements.length, 0, `${agree}/${corpus.length} corpus lines agree with the kernel`);
  t.notOk(readEvents().some((l) => l.includes(`kbgt${process.pid}`)), 'no probe of ours is left in uprobe_events');
});

t.test('one write of many lines: applied up to the first bad line, like the kernel', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kbg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const target = buildTarget(dir);
  const g = `${target.group}m`;
  const o = `0x${target.offsets[0]!.toString(16)}`;
  const text = [
    `# defined by ${process.pid}`, `p:${g}/one ${target.binary}:${o} %di`, '', `r:${g}/two ${target.binary}:${o} $retval # tail`,
    `p:${g}/bad ${target.binary}:${o} %zz`, `p:${g}/three ${target.binary}:${o}`,
  ].join('\n');
  await withKernelLock(() => {
    const { accepted, readback: created, log } = askKernelOf(EVENTS, text);
    const refused = !accepted;

    let ours: ProbeSyntaxError | undefined;
    let oursBefore: string[] = [];
    try { parseProbeCommands(text, { tracer: 'uprobe' }); } catch (e) { ours = e as ProbeSyntaxError; }
    // What we accept before the failing line is what the kernel created.
    const lines = text.split('\n');
    const upTo = ours ? lines.slice(0, ours.lineNumber - 1).join('\n') : text;
    oursBefore = parseProbeCommands(upTo, { tracer: 'uprobe' }).commands.map((c) => formatProbeCommand(c));
    t.ok(refused, 'the kernel refuses the write');
    t.same(created, oursBefore, 'the same definitions were applied before the bad line');
    t.same(log, ours ? [ours.toErrorLog()] : [], 'the same error_log entry');
    t.equal(ours?.lineNumber, 5, 'the bad line is line 5');
  });
});
