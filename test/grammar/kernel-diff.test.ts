// Differential test: every corpus line is written to the live kernel's
// uprobe_events and parsed by us; the kernel's answer (accepted or not, the
// readback, the error_log entry) is the expected value. Each accepted probe is
// removed again at once, so lines never interact and nothing is left behind.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { formatProbeCommand, parseProbeCommands, ProbeSyntaxError } from '../../grammar/index.js';
import { TRACEFS, uprobeEventsSkipReason, withKernelLock } from '../lib/kernel.js';
import { buildCorpus, buildFuzzCorpus, type CorpusTarget } from './corpus.js';

const EVENTS = `${TRACEFS}/uprobe_events`;
const ERROR_LOG = `${TRACEFS}/error_log`;

interface LogEntry { readonly stamp: number; readonly text: string }

/** error_log entries: "[ts] sub: error: msg" + Command line + caret line. */
function readErrorLog(): LogEntry[] {
  const lines = readFileSync(ERROR_LOG, 'utf8').split('\n');
  const out: LogEntry[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^\[\s*([0-9.]+)\] (.*)$/.exec(lines[i]!);
    if (!m) continue;
    out.push({ stamp: Number(m[1]), text: `${m[2]}\n${lines[i + 1] ?? ''}\n${lines[i + 2] ?? ''}` });
  }
  return out;
}

const readEvents = (): string[] => readFileSync(EVENTS, 'utf8').split('\n').filter((l) => l.length > 0);

interface KernelAnswer {
  readonly accepted: boolean;
  readonly errno?: string;
  readonly readback: string[];
  readonly log: string[];
}

function removeEventLine(line: string): void {
  const m = /^[pr][0-9]*:(\S+)/.exec(line);
  if (m) appendFileSync(EVENTS, `-:${m[1]}\n`);
}

function askKernel(line: string): KernelAnswer {
  const before = new Set(readEvents());
  const log = readErrorLog();
  const lastStamp = log.length ? log[log.length - 1]!.stamp : -1;
  let accepted = true;
  let errno: string | undefined;
  try {
    appendFileSync(EVENTS, `${line}\n`);
  } catch (e) {
    accepted = false;
    errno = (e as NodeJS.ErrnoException).code;
  }
  const readback = readEvents().filter((l) => !before.has(l));
  for (const l of readback) removeEventLine(l);
  const entries = readErrorLog().filter((e) => e.stamp > lastStamp).map((e) => e.text);
  return { accepted, ...(errno ? { errno } : {}), readback, log: entries };
}

interface OurAnswer { readonly accepted: boolean; readonly readback: string[]; readonly log: string[] }

function askUs(line: string): OurAnswer {
  try {
    const { commands } = parseProbeCommands(line, { tracer: 'uprobe', symbolPlaces: false });
    return { accepted: true, readback: commands.map(formatProbeCommand), log: [] };
  } catch (e) {
    if (!(e instanceof ProbeSyntaxError)) throw e;
    return { accepted: false, readback: [], log: e.logged ? [e.toErrorLog()] : [] };
  }
}

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

  const disagreements: string[] = [];
  let accepted = 0;
  await withKernelLock(() => {
    try {
      for (const line of corpus) {
        const kernel = askKernel(line);
        const ours = askUs(line);
        if (kernel.accepted) accepted++;
        const same = kernel.accepted === ours.accepted
          && JSON.stringify(kernel.readback) === JSON.stringify(ours.readback)
          && JSON.stringify(kernel.log) === JSON.stringify(ours.log);
        if (!same) {
          disagreements.push([
            `line: ${JSON.stringify(line)}`,
            `  kernel: ${kernel.accepted ? 'accepted' : `refused (${kernel.errno})`} ${JSON.stringify(kernel.readback)}\n${kernel.log.join('\n')}`,
            `  ours:   ${ours.accepted ? 'accepted' : 'refused'} ${JSON.stringify(ours.readback)}\n${ours.log.join('\n')}`,
          ].join('\n'));
        }
      }
    } finally {
      // Belt and braces: nothing of ours may survive, even after an exception.
      for (const l of readEvents()) {
        if (l.includes(`:${target.group}`) || l.includes(`kbgt${process.pid}`) || l.includes(`/ev${target.group.slice(3)} `)) removeEventLine(l);
      }
    }
  });
  const agree = corpus.length - disagreements.length;
  const messages = new Set(corpus.map(askUs).flatMap((a) => a.log.map((l) => l.split('\n')[0])));
  t.comment(`kernel differential: ${agree}/${corpus.length} lines agree (${accepted} accepted by the kernel, ${messages.size} distinct error messages)`);
  for (const d of disagreements) t.fail('disagreement', { diagnostic: true, found: d });
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
    const before = new Set(readEvents());
    const lastStamp = readErrorLog().at(-1)?.stamp ?? -1;
    let refused = false;
    try { appendFileSync(EVENTS, `${text}\n`); } catch { refused = true; }
    const created = readEvents().filter((l) => !before.has(l));
    for (const l of created) removeEventLine(l);
    const log = readErrorLog().filter((e) => e.stamp > lastStamp).map((e) => e.text);

    let ours: ProbeSyntaxError | undefined;
    let oursBefore: string[] = [];
    try { parseProbeCommands(text, { tracer: 'uprobe' }); } catch (e) { ours = e as ProbeSyntaxError; }
    // What we accept before the failing line is what the kernel created.
    const lines = text.split('\n');
    const upTo = ours ? lines.slice(0, ours.lineNumber - 1).join('\n') : text;
    oursBefore = parseProbeCommands(upTo, { tracer: 'uprobe' }).commands.map(formatProbeCommand);
    t.ok(refused, 'the kernel refuses the write');
    t.same(created, oursBefore, 'the same definitions were applied before the bad line');
    t.same(log, ours ? [ours.toErrorLog()] : [], 'the same error_log entry');
    t.equal(ours?.lineNumber, 5, 'the bad line is line 5');
  });
});
