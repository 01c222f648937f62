// One reference counter offset per uprobe place (kernel: validate_ref_ctr_offset):
// the rule on its own, then judged by the live kernel's uprobe_events. Each
// input is written line by line as a file is, up to the first refused line;
// we must accept the same lines and refuse the same one, with EINVAL's
// silence (nothing in error_log). The events are removed again at once.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseProbeCommands, parseProbeCommandsUntilError, ProbeSyntaxError, type FileKind } from '../../grammar/index.js';
import { askKernelInput, readEvents } from '../lib/grammar-diff.js';
import { TRACEFS, uprobeEventsSkipReason, withKernelLock } from '../lib/kernel.js';

const PARSE = { tracer: 'uprobe', symbolPlaces: false, fileKind: (): FileKind => 'regular' } as const;
// one identity per path, but /x/hard and /x/bin are the same file
const identity = (p: string) => (p === '/x/hard' ? '/x/bin' : p);

t.test('the rule: a place keeps the reference counter offset it was defined with', async (t) => {
  const refused = (text: string): string | undefined => {
    try {
      parseProbeCommands(text, { ...PARSE, fileIdentity: identity });
      return undefined;
    } catch (e) {
      if (!(e instanceof ProbeSyntaxError)) throw e;
      return `${e.lineNumber}: ${e.message}${e.logged ? '' : ' (not logged)'}`;
    }
  };
  t.equal(refused('p:g/a /x/bin:0x10\np:g/b /x/bin:0x10(0x20)'), '2: Reference counter offset mismatch. (not logged)', 'none, then one');
  t.equal(refused('p:g/a /x/bin:0x10(0x20)\np:g/b /x/bin:0x10(0x22)'), '2: Reference counter offset mismatch. (not logged)', 'two different ones');
  t.equal(refused('p:g/a /x/bin:0x10(0x20)\nr:g/b /x/hard:0x10'), '2: Reference counter offset mismatch. (not logged)', 'the same file by another name');
  t.equal(refused('p:g/a /x/bin:0x10(0x20)\np:g/b /x/bin:0x10(0x20)'), undefined, 'the same one');
  t.equal(refused('p:g/a /x/bin:0x10(0x20)\np:g/b /x/bin:0x18'), undefined, 'another offset');
  t.equal(refused('p:g/a /x/bin:0x10(0x20)\np:g/b /x/other:0x10'), undefined, 'another file');
  t.equal(refused('p:g/a /x/bin:0x10(0x20)\n-:g/a\np:g/b /x/bin:0x10'), undefined, 'after the event is removed');
  t.equal(refused('p:g/a /x/bin:0x10(0x20)\n-:g/\np:g/b /x/bin:0x10'), undefined, 'after its group is removed');
  const { commands, error } = parseProbeCommandsUntilError('p:g/a /x/bin:0x10\np:g/b /x/bin:0x18\np:g/c /x/bin:0x10(0x20)\np:g/d /x/bin:0x30', { ...PARSE, fileIdentity: identity });
  t.equal(commands.length, 2, 'the lines before the refused one stand');
  t.equal(error?.lineNumber, 3, 'and the refused one is named');
});

t.test('uprobe_events judges: the same lines accepted, the same one refused', { skip: uprobeEventsSkipReason() ?? (execFileSync('sh', ['-c', 'command -v gcc || true'], { encoding: 'utf8' }).trim() ? false : 'gcc is not installed') }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-refctr-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 't.c'), 'int __attribute__((noinline)) f(int a) { return a + 1; }\nint main(int c, char **v) { return f(c); }\n');
  const bin = join(dir, 'bin');
  execFileSync('gcc', ['-O1', '-o', bin, join(dir, 't.c')]);
  const link = join(dir, 'link');
  symlinkSync(bin, link);
  const hard = join(dir, 'hard');
  linkSync(bin, hard);
  const g = `kbrc${process.pid}`;
  const inputs = [
    [`p:${g}/a ${bin}:0x1000 x=%di`, `p:${g}/b ${bin}:0x1000(0x20) y=%si`],
    [`p:${g}/a ${bin}:0x1000(0x20)`, `p:${g}/b ${bin}:0x1000(0x20)`, `r:${g}/c ${bin}:0x1000(0x22)`],
    [`p:${g}/a ${bin}:0x1000(0x20)`, `-:${g}/a`, `p:${g}/b ${bin}:0x1000`],
    [`p:${g}/a ${bin}:0x1000(0x20)`, `p:${g}/b ${link}:0x1000`],
    [`p:${g}/a ${bin}:0x1000`, `p:${g}/b ${hard}:0x1000(0x20)`],
    [`p:${g}/a ${bin}:0x1000(0x20)`, `p:${g}/b ${bin}:0x1008 x=%di`, `p:${g}/c ${bin}:0x1008(0x24)`],
    [`p:${g}/a ${bin}:0x1000(0x20)`, `p:${g}/a ${bin}:0x1000(0x22) x=%di`],
  ];
  const events = `${TRACEFS}/uprobe_events`;
  await withKernelLock(() => {
    for (const lines of inputs) {
      const { refused: kernelRefused, errno, log: logged } = askKernelInput(events, lines);
      const ours = parseProbeCommandsUntilError(lines.join('\n'), { tracer: 'uprobe', symbolPlaces: false });
      const label = lines.map((l) => l.replace(dir, 'DIR')).join(' ; ');
      t.equal(ours.error?.lineNumber, kernelRefused, `${label}: ${kernelRefused ? `line ${kernelRefused} refused (${errno})` : 'every line accepted'}`);
      if (kernelRefused !== undefined && logged.length === 0) {
        t.equal(ours.error?.logged, false, `${label}: nothing in error_log, as the kernel`);
        t.equal(errno, 'EINVAL', `${label}: the kernel's bare EINVAL`);
      }
    }
  });
  t.same(readEvents(events).filter((l) => l.includes(`:${g}/`)), [], 'nothing left behind');
});
