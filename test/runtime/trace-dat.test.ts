// `trace -o X.dat` judged by Debian's trace-cmd: one run of `kprobe-bpf
// trace --pipe -o X.dat` on a gcc-built target, then `trace-cmd report`
// of X.dat must show, event for event, what our text output showed: the
// same comm-pid, CPU, timestamp (both to the microsecond, rounded), event
// name and the value of every field. libtraceevent decodes the raw entries
// with our format files, so a field at the wrong offset shows up here.
//
// Fields are compared with `trace-cmd report -R` (each field printed from
// its format line's offset, size and type): libtraceevent 1.7's print-fmt
// mode does not evaluate the kernel's array and char fragments
// (REC->a[1], '%c'), the same on the kernel's own files. Its raw mode prints
// an s8/s16 unsigned and arrays as bytes, so values are compared as bits of
// the field's width. A string fetch that faulted has no raw value (its
// __data_loc length is 0); there print-fmt mode shows "" where we print (fault).
import t from 'tap';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { uprobeEventsSkipReason } from '../lib/kernel.js';
import { buildTarget, runTarget } from './lib/target.js';

const CLI = fileURLToPath(new URL('../../../bin/kprobe-bpf', import.meta.url));

/** How a field's value reads in each output. */
type Kind = { int: number } | 'char' | 'string' | { array: number } | 'chars';
interface Field { readonly name: string; readonly fetch: string; readonly kind: Kind }

/** Every integer type of one value with distinct bytes (%dx: a stack address). */
const INTS: Field[] = [8, 16, 32, 64].flatMap((bits) => ['u', 's', 'x'].map((p) => ({ name: `${p}${bits}`, fetch: `%dx:${p}${bits}`, kind: { int: bits } })));
const EVENTS: Record<string, { fn: string; ret?: boolean; fields: Field[] }> = {
  ints: {
    fn: 'kpb_target',
    fields: [
      ...INTS,
      { name: 'neg', fetch: '%cx:s64', kind: { int: 64 } },
      { name: 'small', fetch: '%di:s8', kind: { int: 8 } },
      { name: 'bf', fetch: '%di:b3@2/8', kind: { int: 8 } },
      { name: 'c', fetch: '%r8:char', kind: 'char' },
    ],
  },
  mem: {
    fn: 'kpb_target',
    fields: [
      { name: 's', fetch: '+0(%si):string', kind: 'string' },
      { name: 'us', fetch: '+0(%si):ustring', kind: 'string' },
      { name: 'id', fetch: '+0(%dx):s32', kind: { int: 32 } },
      { name: 'name', fetch: '+4(%dx):string', kind: 'string' },
      { name: 'bytes', fetch: '+20(%dx):u8[4]', kind: { array: 8 } },
      { name: 'xb', fetch: '+20(%dx):x8[4]', kind: { array: 8 } },
      { name: 'sb', fetch: '+20(%dx):s8[4]', kind: { array: 8 } },
      { name: 'wa', fetch: '+20(%dx):u16[2]', kind: { array: 16 } },
      { name: 'ca', fetch: '+4(%dx):char[5]', kind: 'chars' },
      { name: 'cm', fetch: '$comm', kind: 'string' },
      { name: 'late', fetch: '+0(%si):u32', kind: { int: 32 } },
    ],
  },
  ret: { fn: 'kpb_target', ret: true, fields: [{ name: 'rv', fetch: '$retval:s64', kind: { int: 64 } }] },
  flt: { fn: 'kpb_fault', fields: [{ name: 'v', fetch: '%si:x16', kind: { int: 16 } }, { name: 'bad', fetch: '+0(%di):string', kind: 'string' }] },
};

interface Line { comm: string; pid: string; cpu: string; ts: string; event: string; probe: string[]; fields: Map<string, string> }

/** Values by field name, the names known in order (values may hold spaces: ARRAY[01, 02]). */
function splitFields(text: string, names: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  names.forEach((name, i) => {
    const start = i === 0 ? (text.startsWith(`${name}=`) ? 0 : -1) : text.indexOf(` ${name}=`, at);
    if (start < 0) return;
    const valueAt = start + (i === 0 ? 0 : 1) + name.length + 1;
    const next = names[i + 1];
    const end = next === undefined ? text.length : text.indexOf(` ${next}=`, valueAt);
    out.set(name, text.slice(valueAt, end < 0 ? text.length : end));
    at = end < 0 ? text.length : end;
  });
  return out;
}

const OURS = /^\s*(.*)-(\d+)\s+\[(\d{3})\] \S{5}\s+(\d+\.\d{6}): (\w+): \(([^)]*)\)(?: (.*))?$/;
const THEIRS = /^\s*(.*)-(\d+)\s+\[(\d{3})\]\s+(\d+\.\d{6}): (\w+):\s+(.*)$/;

function ours(line: string): Line | undefined {
  const m = OURS.exec(line);
  if (!m) return undefined;
  const ev = EVENTS[m[5]!];
  return { comm: m[1]!, pid: m[2]!, cpu: m[3]!, ts: m[4]!, event: m[5]!, probe: m[6]!.split(' <- '), fields: splitFields(m[7] ?? '', ev?.fields.map((f) => f.name) ?? []) };
}

function theirsRaw(line: string): Line | undefined {
  const m = THEIRS.exec(line);
  if (!m) return undefined;
  const ev = EVENTS[m[5]!];
  const probeNames = ev?.ret ? ['__probe_func', '__probe_ret_ip'] : ['__probe_ip'];
  const all = splitFields(m[6]!.trim(), [...probeNames, ...(ev?.fields.map((f) => f.name) ?? [])]);
  // Our line prints a return probe as the kernel does: "(ret_ip <- func)".
  const probe = (ev?.ret ? ['__probe_ret_ip', '__probe_func'] : probeNames).map((n) => all.get(n) ?? '?');
  return { comm: m[1]!, pid: m[2]!, cpu: m[3]!, ts: m[4]!, event: m[5]!, probe, fields: all };
}

const hex = (s: string): bigint => BigInt(`0x${s.replace(/^0x/, '')}`);
const big = (s: string): bigint => BigInt(/^-?\d+$/.test(s) ? s : `0x${s.replace(/^0x/, '')}`);
const bits = (v: bigint, n: number): bigint => BigInt.asUintN(n, v);

/** Our value and trace-cmd's raw value, each as the bytes/bits the entry holds. */
function normalize(kind: Kind, mine: string, raw: string): [string, string] {
  if (kind === 'string') return [mine.replace(/^"|"$/g, ''), raw];
  if (kind === 'char') return [String(mine.charCodeAt(1)), String(big(raw))];
  if (kind === 'chars') {
    const text = mine.replace(/[{}',]/g, '');
    return [text, raw.slice(0, text.length)];
  }
  if (typeof kind === 'object' && 'array' in kind) {
    const w = kind.array;
    const le = mine.replace(/[{}]/g, '').split(',').flatMap((e) => {
      const v = bits(big(e), w);
      return Array.from({ length: w / 8 }, (_, k) => ((v >> BigInt(8 * k)) & 0xffn).toString(16).padStart(2, '0'));
    });
    return [le.join(' '), raw.replace(/^ARRAY\[|\]$/g, '').split(', ').join(' ')];
  }
  return [String(bits(big(mine), kind.int)), String(bits(big(raw), kind.int))];
}

t.test('trace-cmd report of our trace.dat shows what our text output shows, event for event', { skip: uprobeEventsSkipReason() ?? traceCmdMissing() }, (t) => {
  const target = buildTarget({ name: 'kpbdattgt' });
  const dir = mkdtempSync(join(tmpdir(), 'kpb-dat-'));
  t.teardown(() => { target.cleanup(); rmSync(dir, { recursive: true, force: true }); });
  const group = `kpbdat${process.pid}`;
  const defs = Object.entries(EVENTS).map(([name, e]) =>
    `${e.ret ? 'r' : 'p'}:${group}/${name} ${target.path}:${e.fn} ${e.fields.map((f) => `${f.name}=${f.fetch}`).join(' ')}`);
  writeFileSync(join(dir, 'defs.txt'), defs.join('\n') + '\n');
  const dat = join(dir, 'x.dat');
  const run = spawnSync(CLI, ['trace', '-f', join(dir, 'defs.txt'), '-c', `${target.path} 3 0`, '-o', dat, '--pipe'], { encoding: 'utf8', timeout: 120_000 });
  t.equal(run.status, 0, `trace exits 0 (stderr: ${run.stderr})`);
  t.match(run.stderr, /wrote 12 events to /, 'stderr says how many events the file holds');
  const mine = run.stdout.split('\n').map(ours).filter((l): l is Line => l !== undefined);
  t.equal(mine.length, 12, 'our text output: 3 calls x 4 events');

  const report = execFileSync('trace-cmd', ['report', '-R', dat], { encoding: 'utf8' });
  const theirs = report.split('\n').map(theirsRaw).filter((l): l is Line => l !== undefined);
  t.equal(theirs.length, mine.length, 'trace-cmd report shows as many events');
  mine.forEach((m, i) => {
    const r = theirs[i];
    if (!r) return;
    const at = `event ${i} (${m.event})`;
    t.same([r.comm, r.pid, r.cpu, r.ts, r.event], [m.comm, m.pid, m.cpu, m.ts, m.event], `${at}: comm-pid, CPU, timestamp, event`);
    // trace-cmd -R prints the probe's address fields in hex without 0x: an address of digits only is still hex
    t.same(r.probe.map(hex), m.probe.map(hex), `${at}: probe address(es)`);
    for (const f of EVENTS[m.event]!.fields) {
      const mv = m.fields.get(f.name);
      if (mv === '(fault)') continue; // compared below in print-fmt mode
      t.ok(r.fields.has(f.name), `${at}: trace-cmd shows field ${f.name}`);
      const [a, b] = normalize(f.kind, mv ?? '<missing>', r.fields.get(f.name) ?? '<missing>');
      t.equal(b, a, `${at}: ${f.name}`);
    }
  });

  // A faulted string: we print (fault) as the kernel does; libtraceevent prints the empty string.
  const printed = execFileSync('trace-cmd', ['report', dat], { encoding: 'utf8' }).split('\n').filter((l) => / flt: /.test(l));
  const faults = mine.filter((m) => m.event === 'flt');
  t.equal(faults.length, 3, 'three faulting hits');
  t.ok(faults.every((m) => m.fields.get('bad') === '(fault)'), 'we print (fault)');
  t.equal(printed.length, 3);
  t.ok(printed.every((l) => / bad=""$/.test(l)), `trace-cmd prints bad="" (${printed[0]})`);
  t.end();
});

t.test('Ctrl-C: the file is written with every event printed before it, and trace-cmd reads it', { skip: uprobeEventsSkipReason() ?? traceCmdMissing() }, async (t) => {
  const target = buildTarget({ name: 'kpbdatsig' });
  const dir = mkdtempSync(join(tmpdir(), 'kpb-dat-'));
  t.teardown(() => { target.cleanup(); rmSync(dir, { recursive: true, force: true }); });
  const dat = join(dir, 'sig.dat');
  // System-wide (no -c/-p): hits come from runs of the target we start until one is printed.
  const child = spawn(CLI, ['trace', '-e', `p:kpbdatsig${process.pid}/hot ${target.path}:kpb_hot i=%di:s32`, '-o', dat, '--pipe'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (let i = 0; i < 600 && !out.includes(' hot: ') && child.exitCode === null; i++) {
    runTarget(target, ['0', '2']);
    await new Promise((r) => setTimeout(r, 50));
  }
  runTarget(target, ['0', '2']);
  while (out.split(' hot: ').length - 1 < 2 && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGINT');
  t.equal(await exit, 130, `exit status 128+SIGINT (stderr: ${err})`);
  const printed = out.split('\n').filter((l) => / hot: /.test(l)).length;
  t.ok(printed >= 2, `events were printed before Ctrl-C (${printed})`);
  t.match(err, new RegExp(`wrote ${printed} events to `), 'the file holds every printed event');
  const report = execFileSync('trace-cmd', ['report', dat], { encoding: 'utf8' });
  t.equal(report.split('\n').filter((l) => / hot: /.test(l)).length, printed, 'trace-cmd reads them all');
});

function traceCmdMissing(): string | undefined {
  return spawnSync('trace-cmd', ['--version']).error ? 'trace-cmd is not installed (make test installs Debian\'s trace-cmd)' : undefined;
}
