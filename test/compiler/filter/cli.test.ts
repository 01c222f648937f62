// The filter on the command line, without root: `DEFINITION if FILTER` and
// --filter in parse (what the filter file reads back), a refusal as the
// kernel's error_log entry with exit 1, group filters, and compile's
// metadata and --disasm annotations.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventsOfObject } from '../../../compiler/metadata.js';

const cli = fileURLToPath(new URL('../../../../bin/kprobe-bpf', import.meta.url));
const run = (...args: string[]) => spawnSync(cli, args, { encoding: 'utf8' });
const DEF = 'p:my/a /bin/true:0x1000 x=%di:s32 s=+0(%si):ustring';
const CANON = 'p:my/a /bin/true:0x0000000000001000 x=%di:s32 s=+0(%si):ustring';

t.test('parse prints the definition and the filter as its filter file reads back', async (t) => {
  const r = run('parse', '-e', `${DEF}   if   x == -1 &&  s ~ "*.so*"   `);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, `${CANON} if x == -1 && s ~ "*.so*"\n`, 'words joined by one space, trailing space gone');
  const o = run('parse', '-e', DEF, '-e', 'p:my/b /bin/true:0x1010 y=%di', '--filter', 'my/a:x > 3', '--filter', 'my/a:x < 3  ');
  t.equal(o.stdout, `${CANON} if x < 3\np:my/b /bin/true:0x0000000000001010 y=%di\n`, 'a later --filter replaces an earlier one');
  const z = run('parse', '-e', `${DEF} if x == 1`, '--filter', 'my/a:0');
  t.equal(z.stdout, `${CANON}\n`, "'0' clears the filter");
});

t.test('a filter the kernel refuses: its error_log entry, exit 1', async (t) => {
  const r = run('parse', '-e', `${DEF} if y == 1`);
  t.equal(r.status, 1);
  t.equal(r.stdout, '');
  t.equal(r.stderr, 'event filter parse error: error: Field not found\n  Command: y == 1\n             ^\n');
  const c = run('compile', '--disasm', '-e', `${DEF} if s > 1`);
  t.equal(c.status, 1, 'compile refuses too');
  t.equal(c.stderr, "event filter parse error: error: Expecting string field\n  Command: s > 1\n                ^\n");
  const e = run('parse', '-e', `${DEF} if`);
  t.equal(e.status, 1);
  t.equal(e.stderr, "kprobe-bpf parse: No filter rule after 'if'\n");
});

t.test('a group filter: events without the field stay unfiltered, with the kernel\'s message', async (t) => {
  const r = run('parse', '-e', DEF, '-e', 'p:my/b /bin/true:0x1010 y=%di', '--filter', 'my:x > 3');
  t.equal(r.status, 0);
  t.equal(r.stdout, `${CANON} if x > 3\np:my/b /bin/true:0x0000000000001010 y=%di\n`);
  t.match(r.stderr, /Couldn't find or set field in one of a subsystem's events/);
  const none = run('parse', '-e', DEF, '--filter', 'other:x > 3');
  t.equal(none.status, 1, 'a group with no events is refused');
});

t.test('compile records the filter in the metadata and annotates its instructions', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-filter-cli-'));
  try {
    const out = join(dir, 'f.o');
    const r = run('compile', '-o', out, '--disasm', '-e', `${DEF} if x == -1 || s ~ "lib*"`, '-e', 'p:my/b /bin/true:0x1010 y=%di');
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /; filter: x == -1\n/);
    t.match(r.stdout, /; filter: s ~ "lib\*"\n/);
    const events = eventsOfObject(readFileSync(out), 'f.o');
    t.same(events.map((e) => e.filter), ['x == -1 || s ~ "lib*"', undefined]);
    const early = run('compile', '-o', out, '--disasm', '-e', `${DEF} if x == -1 && s ~ "lib*"`);
    t.equal(early.status, 0, early.stderr);
    t.match(early.stdout, /; filter, before the record is reserved; [^\n]*\n(?:.*\n)*?; filter: x == -1\n(?:.*\n)*?; record = task_storage_get(?:.*\n)*?; filter: s ~ "lib\*"\n/,
      '--disasm shows x == -1 tested before the record is taken, the string test after');
    const g = run('compile', '--disasm', '-e', `${DEF} if s ~ "*a*b*c*d*"`);
    t.equal(g.status, 1, 'a glob the verifier could not finish is an error');
    t.match(g.stderr, /^kprobe-bpf: filter not compiled: my\/a: /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
