// One event, several probes (Linux 5.5+): a definition that names an event
// already defined, with the same kind of probe and the same arguments, adds a
// place to it. The kernel's uprobe tracer on the same lines is the judge: the
// same trace lines (each place's address under the one event name), one
// format file, and a profile row per probe as uprobe_profile has.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uprobeEventsSkipReason, withKernelLock } from '../lib/kernel.js';
import { buildLoopTarget } from './lib/loop-target.js';
import { kernelRun, runCli, setarchWorks, traceLines } from './lib/runs.js';

const CALLS = 3;

t.test('an event of two places prints what uprobe_events prints for it', { skip: uprobeEventsSkipReason() }, async (t) => {
  const noSetarch = setarchWorks();
  if (noSetarch) return void t.fail(`cannot run the target without ASLR: ${noSetarch}`);
  const target = buildLoopTarget();
  const dir = mkdtempSync(join(tmpdir(), 'kpb-multi-'));
  t.teardown(() => {
    target.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  // main sits in kpb_tick's segment: the same vaddr-to-file-offset shift
  const nm = execFileSync('nm', [target.path], { encoding: 'utf8' });
  const vaddr = (fn: string) => BigInt(`0x${new RegExp(`^([0-9a-f]+) T ${fn}$`, 'm').exec(nm)![1]}`);
  const mainOffset = target.tickOffset - vaddr('kpb_tick') + vaddr('main');
  const at = (off: bigint) => `${target.path}:0x${off.toString(16)}`;
  const group = `kmp${process.pid % 100000}`;
  const lines: [string, string][] = [
    ['m', `p:${group}/m ${at(target.tickOffset)} x=%di:s64 c=$comm`],
    ['m', `p:${group}/m ${at(mainOffset)} x=%di:s64 c=$comm`],
    ['r', `r:${group}/r ${at(target.tickOffset)} rv=$retval:s64`],
    ['r', `r:${group}/r ${at(mainOffset)} rv=$retval:s64`],
  ];
  const command = ['env', '-i', target.path, String(CALLS)];
  await withKernelLock(async () => {
    const kernel = kernelRun(group, lines, command);
    const file = join(dir, 'events.txt');
    writeFileSync(file, lines.map(([, l]) => l).join('\n') + '\n');
    const ours = await runCli(['trace', '-f', file, '-c', command.join(' '), '--profile'], { setarch: true });
    t.equal(ours.code, 0, 'trace exits 0', { stderr: ours.stderr });
    const k = traceLines(kernel.trace);
    t.equal(k.length, 2 * (CALLS + 1), 'the kernel traced every hit of both places of both events');
    t.ok(new Set(k.map((l) => /\((\w+)/.exec(l.body)?.[1])).size >= 3, 'from more than one place');
    t.same(traceLines(ours.stdout), k, 'the same lines in the same order');
    const rows = ours.stderr.split('\n').filter((l) => /^\s+[mr]\s+\d+\s+\d+$/.test(l)).map((l) => l.trim().split(/\s+/));
    t.same(rows.map((r) => r[0]).sort(), ['m', 'm', 'r', 'r'], '--profile: a row per probe, as uprobe_profile');
    const format = await runCli(['compile', '-f', file, '--format']);
    const formats = format.stdout.split(/(?=^name: )/m).filter((f) => f.startsWith('name: '));
    t.same(formats.map((f) => f.split('\n')[0]), ['name: m', 'name: r'], 'compile --format: one format file per event');
    const withoutId = (f: string) => f.replace(/^ID: \d+\n/m, '');
    t.equal(withoutId(formats[0] ?? ''), withoutId(kernel.formats.get('m') ?? ''), "and it is the kernel's (ID aside)");
  });
});
