// A definition naming an event already defined: one more probe of it, or a
// refusal (another probe type, other arguments, the exact same probe).
// Judged by the live kernel's uprobe_events: each input is written line by
// line as a file is, up to the first refused line; we must accept the same
// lines and refuse the same one with the same error_log entry. The events
// are removed again at once.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseProbeCommandsUntilError } from '../../grammar/index.js';
import { aliveDefinitions } from '../../grammar/append.js';
import { askKernelInput, readEvents } from '../lib/grammar-diff.js';
import { TRACEFS, uprobeEventsSkipReason, withKernelLock } from '../lib/kernel.js';

const gccMissing = (): string | false => (execFileSync('sh', ['-c', 'command -v gcc || true'], { encoding: 'utf8' }).trim() ? false : 'gcc is not installed');

t.test('uprobe_events judges a name defined again', { skip: uprobeEventsSkipReason() ?? gccMissing() }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-append-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 't.c'), 'int __attribute__((noinline)) f(int a) { return a + 1; }\nint main(int c, char **v) { return f(c); }\n');
  const b = join(dir, 'bin');
  execFileSync('gcc', ['-O1', '-o', b, join(dir, 't.c')]);
  const g = `kbap${process.pid}`;
  const first = `p:${g}/a ${b}:0x1000 x=%di s=+0(%si):string`;
  const inputs: string[][] = [
    // one more place: taken
    [first, `p:${g}/a ${b}:0x1010 x=%di s=+0(%si):string`],
    // the same place, the same argument by another text (the default type written out): taken
    [first, `p:${g}/a ${b}:0x1000 x=%di:x64 s=+0(%si):string`],
    // the exact same probe
    [first, `p:${g}/a ${b}:0x1000 x=%di s=+0(%si):string`],
    // the same probe again further down, after another place
    [first, `p:${g}/a ${b}:0x1010 x=%di s=+0(%si):string`, `p:${g}/a ${b}:0x1010 x=%di s=+0(%si):string`],
    // another probe type, both ways round
    [first, `r:${g}/a ${b}:0x1010 x=%di s=+0(%si):string`],
    [`r:${g}/a ${b}:0x1000 x=%ax`, `p:${g}/a ${b}:0x1000%return x=%ax`, `p:${g}/a ${b}:0x1010 x=%ax`],
    // arguments: another name, another type, another count, fewer, none, an array, a bitfield in the same container
    [first, `p:${g}/a ${b}:0x1010 y=%di s=+0(%si):string`],
    [first, `p:${g}/a ${b}:0x1010 x=%di:u64 s=+0(%si):string`],
    [first, `p:${g}/a ${b}:0x1010 x=%di s=+0(%si):ustring`],
    [first, `p:${g}/a ${b}:0x1010 x=%di s=+0(%si):string t=%dx`],
    [first, `p:${g}/a ${b}:0x1010 x=%di`],
    [first, `p:${g}/a ${b}:0x1010`],
    [first, `p:${g}/a ${b}:0x1010 x=%di:x64[1] s=+0(%si):string`],
    [`p:${g}/a ${b}:0x1000 x=%di:u8`, `p:${g}/a ${b}:0x1010 x=%di:b3@2/8`],
    // generated names: a second place of one offset cannot share a name, two lines at one place can
    [`p ${b}:0x1000 %di`, `p ${b}:0x1000 %di`],
    [`p ${b}:0x1000 %di`, `p ${b}:0x1000 %si`],
    // after a removal the name is free again
    [first, `-:${g}/a`, `r:${g}/a ${b}:0x1000 y=%si`],
    // a removal that names a place and arguments as they read back takes that probe only
    [first, `p:${g}/a ${b}:0x1010 x=%di s=+0(%si):string`, `-:${g}/a ${b}:0x0000000000001010 x=%di`, `p:${g}/a ${b}:0x1010 x=%di s=+0(%si):string`],
    [first, `p:${g}/a ${b}:0x1010 x=%di s=+0(%si):string`, `-:${g}/a ${b}:0x0000000000001000`, `p:${g}/a ${b}:0x1010 x=%di s=+0(%si):string`],
  ];
  const events = `${TRACEFS}/uprobe_events`;
  await withKernelLock(() => {
    for (const lines of inputs) {
      const { refused, log: kernelLog, created } = askKernelInput(events, lines);
      const ours = parseProbeCommandsUntilError(lines.join('\n'), { tracer: 'uprobe', symbolPlaces: false });
      const label = lines.map((l) => l.replaceAll(dir, 'DIR')).join(' ; ');
      t.equal(ours.error?.lineNumber, refused, `${label}: ${refused ? `line ${refused} refused` : 'every line taken'}`);
      t.same(ours.error?.errorLogEntries() ?? [], kernelLog, `${label}: error_log`);
      if (refused === undefined) t.equal(aliveDefinitions(ours.commands).length, created.length, `${label}: the probes the kernel holds after it`);
    }
  });
  t.same(readEvents(events).filter((l) => l.includes(dir)), [], 'nothing left behind');
});

t.test('another tracer\'s event of that name: registering the event fails (EVENT_EXIST)', async (t) => {
  const { commands, error } = parseProbeCommandsUntilError('p:g/a /bin/true:0x10 x=%di\np:g/a do_sys_open x=%di', { fileKind: () => 'regular' });
  t.equal(commands.length, 1);
  t.equal(error?.toErrorLog(), 'trace_kprobe: error: Given group/event name is already used by another event\n  Command: p:g/a do_sys_open x=%di\n           ^');
  const again = parseProbeCommandsUntilError('p:g/a do_sys_open x=%di\n-:g/a\np:g/a /bin/true:0x10 x=%di', { fileKind: () => 'regular' });
  t.equal(again.error, undefined, 'free again once removed');
});

t.test('a removal with a place and arguments takes the probe they name, and only it', async (t) => {
  const lines = ['p:g/a /bin/true:0x10 x=%di', 'p:g/a /bin/true:0x20 x=%di', 'p:g/b /bin/true:0x20 x=%di'];
  const alive = (removal: string) => aliveDefinitions(parseProbeCommandsUntilError([...lines, removal].join('\n'), { fileKind: () => 'regular', tracer: 'uprobe' }).commands).map((d) => `${d.event}@${d.point.kind === 'file' ? d.point.offset : ''}`);
  t.same(alive('-:g/a /bin/true:0x0000000000000020 x=%di'), ['a@16', 'b@32'], 'the place and argument as read back');
  t.same(alive('-:g/a /bin/true:0x0000000000000020'), ['a@16', 'b@32'], 'the place alone');
  t.same(alive('-:g/a /bin/true:0x20 x=%di'), ['a@16', 'a@32', 'b@32'], 'not the place as written');
  t.same(alive('-:g/a /bin/true:0x0000000000000020 x=%si'), ['a@16', 'a@32', 'b@32'], 'not another argument');
  t.same(alive('-:g/a'), ['b@32'], 'the name alone: every probe of the event');
  t.same(alive('-:g/'), [], 'the group: every event of it');
});
