// Sleepable uprobe programs read user memory the way the kernel's uprobe
// tracer does: pages the process has not touched yet are faulted in
// (trace_uprobe.c fetches with copy_from_user / strncpy_from_user), where a
// non-sleepable program's bpf_probe_read_user* can only report a fault. The
// kernel is the judge: the same lines go to uprobe_events (a unique group, a
// private trace instance) and to `kprobe-bpf trace`, each on its own run of a
// gcc-built non-PIE target (fixed addresses), and the trace lines must be
// equal. The target passes a string literal it never read, pointers into
// never-touched pages of a large static array (one string straddles two such
// pages) and reads a word there by @+FILE_OFFS. The same trace compiled
// --no-sleepable must show (fault): proof the pages really were untouched.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ElfSymbols } from '../../runtime/elf-symbols.js';
import { uprobeEventsSkipReason, withKernelLock } from '../lib/kernel.js';
import { TraceInstance, addUprobeEvent, removeUprobeEvent, traceBodies } from './lib/tracefs.js';

const CLI = fileURLToPath(new URL('../../../bin/kprobe-bpf', import.meta.url));
const PAGE = 4096;

const TARGET_C = String.raw`
#define PAGE ${PAGE}
/* 1 MiB of initialised data: file-backed, mapped page by page on first touch. */
__attribute__((aligned(PAGE))) char big[256 * PAGE] = {
	[100 * PAGE] = 'f', 'a', 'r', '-', 'p', 'a', 'g', 'e',
	[150 * PAGE - 5] = 's', 'p', 'a', 'n', 's', '-', 't', 'w', 'o',
	[200 * PAGE + 64] = 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x08,
	[220 * PAGE + 8] = 0xcd, 0xab, 0x34, 0x12,
};

__attribute__((noinline)) long take(const char *lit, const char *far, const char *span, const long *word)
{
	asm volatile("" ::: "memory");
	return (long)lit + (long)far + (long)span + (long)word;
}

int main(void)
{
	return take("a literal never touched before", &big[100 * PAGE], &big[150 * PAGE - 5],
		    (const long *)&big[200 * PAGE + 64]) == 0;
}
`;

interface Target { readonly dir: string; readonly path: string; readonly lines: readonly string[]; readonly events: readonly string[] }

function buildTarget(group: string): Target {
  const dir = mkdtempSync(join(tmpdir(), 'kprobe-bpf-sleepable-'));
  writeFileSync(join(dir, 't.c'), TARGET_C);
  const path = join(dir, 'untouched');
  execFileSync('gcc', ['-O1', '-no-pie', '-o', path, join(dir, 't.c')]);
  const elf = new ElfSymbols(path);
  const take = elf.resolve('take');
  // kernel translate_user_vaddr: @+FOFFS is relative to where the probed
  // instruction's file offset is mapped (bp_addr - offset), so name the word
  // at big[220 * PAGE + 8] in those terms.
  const takeVaddr = elf.find('take')[0]!.value;
  const word = elf.find('big')[0]!.value + BigInt(220 * PAGE + 8);
  const foffs = word - (takeVaddr - take);
  const at = `${path}:0x${take.toString(16)}`;
  const lines = [
    `p:${group}/take ${at} lit=+0(%di):string far=+0(%si):ustring span=+0(%dx):string word=+0(%cx):x64 bytes=+0(%cx):u8[4] fo=@+0x${foffs.toString(16)}:x32`,
    `r:${group}/take_ret ${at} rv=$retval:s32`,
  ];
  return { dir, path, lines, events: ['take', 'take_ret'] };
}

/** The kernel's own uprobe tracer on one run of the target. */
function kernelTrace(group: string, target: Target): string {
  const inst = new TraceInstance(`${group}i`);
  try {
    for (const l of target.lines) addUprobeEvent(l);
    for (const ev of target.events) inst.enable(group, ev);
    spawnSync(target.path, [], { stdio: 'ignore' });
    for (const ev of target.events) inst.enable(group, ev, false);
    return inst.trace();
  } finally {
    inst.remove();
    for (const ev of target.events) removeUprobeEvent(group, ev);
  }
}

function ours(target: Target, extra: string[] = []): { stdout: string; stderr: string; status: number | null } {
  const file = join(target.dir, 'events.txt');
  writeFileSync(file, target.lines.join('\n') + '\n');
  const r = spawnSync(CLI, ['trace', '-f', file, '-c', target.path, ...extra], { encoding: 'utf8' });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

const skip = uprobeEventsSkipReason();

t.test('sleepable uprobes fault untouched pages in and print what the kernel prints', { skip }, async (t) => {
  await withKernelLock(async () => {
    const group = `kpbslp${process.pid}`;
    const target = buildTarget(group);
    t.teardown(() => rmSync(target.dir, { recursive: true, force: true }));
    const kernel = traceBodies(kernelTrace(group, target)).map((l) => l.body);
    t.equal(kernel.length, 2, 'the kernel traced the call and its return', { kernel });
    t.notMatch(kernel.join('\n'), /\(fault\)/, 'the kernel read every string');
    t.match(kernel[0], /word=0x877665544332211 .* fo=0x1234abcd$/, 'and the words in untouched pages');

    const sleepable = ours(target);
    t.equal(sleepable.status, 0, 'kprobe-bpf trace exits 0', { stderr: sleepable.stderr });
    t.equal(sleepable.stderr, '', 'nothing on stderr (no fallback)');
    t.same(traceBodies(sleepable.stdout).map((l) => l.body), kernel, 'every trace line equals the kernel\'s');

    const atomic = ours(target, ['--no-sleepable']);
    t.equal(atomic.status, 0, 'kprobe-bpf trace --no-sleepable exits 0', { stderr: atomic.stderr });
    const lit = traceBodies(atomic.stdout).map((l) => l.body).find((b) => b.startsWith('take: '));
    t.match(lit, /lit=\(fault\) far=\(fault\) span=\(fault\) word=0x0/, 'non-sleepable programs cannot read those pages: they were untouched');
  });
});

t.test('a kernel that refuses sleepable uprobes (EINVAL): lines are recompiled, an object fails naming --no-sleepable', { skip }, async (t) => {
  // The fixture makes this kernel refuse them: see test/runtime/fixtures/sleepable-fallback.ts.
  const fixture = fileURLToPath(new URL('./fixtures/sleepable-fallback.js', import.meta.url));
  await withKernelLock(async () => {
    const group = `kpbslf${process.pid}`;
    const target = buildTarget(group);
    t.teardown(() => rmSync(target.dir, { recursive: true, force: true }));
    const file = join(target.dir, 'events.txt');
    writeFileSync(file, target.lines.join('\n') + '\n');
    const run = (mode: string) => spawnSync(process.execPath, [fixture, file, target.path, mode], { encoding: 'utf8' });

    const lines = run('lines');
    t.equal(lines.status, 0, 'lines: the trace runs', { stderr: lines.stderr });
    t.equal(lines.stderr.match(/using non-sleepable ones/g)?.length, 1, 'lines: said once on stderr', { stderr: lines.stderr });
    t.notMatch(lines.stderr, /^libbpf:/m, "lines: libbpf's messages about the refused load are not shown");
    const bodies = traceBodies(lines.stdout).map((l) => l.body);
    t.equal(bodies.length, 2, 'lines: the call and its return were traced by the non-sleepable programs', { bodies });
    t.match(bodies[0], /^take: .* lit=\(fault\)/, 'lines: non-sleepable reads: untouched pages are (fault)');

    const object = run('object');
    t.equal(object.status, 1, 'object: exit 1');
    t.match(object.stderr, /does not run sleepable uprobe programs.*kprobe-bpf compile --no-sleepable/, 'object: the message names --no-sleepable');
    t.same(traceBodies(object.stdout), [], 'object: nothing traced');
  });
});

interface BtfType { id: number; kind: string; name?: string; type_id?: number; nr_elems?: number; members?: { name: string; type_id: number }[] }

/**
 * The ring's geometry, read from the compiled object by bpftool and from the
 * event's `format` file (which the format tests judge against the kernel's),
 * not by our own reader: the ring's size (the `records` map's max_entries in
 * its BTF map definition: a pointer to an array of that many elements) and
 * the bytes one record of this test takes in it: records go in at their used
 * length, and its string always faults (it reads at the small integer in
 * %di), so a record is the 32-byte prefix and the fixed entry, plus the
 * 8-byte record header, rounded up to 8 (kernel/bpf/ringbuf.c).
 */
function ringGeometry(line: string, obj: string): { ringBytes: number; recordBytes: number } {
  execFileSync(CLI, ['compile', '-e', line, '-o', obj]);
  const types = (JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', obj], { encoding: 'utf8' })) as { types: BtfType[] }).types;
  const byId = (id: number | undefined) => types.find((x) => x.id === id);
  const def = byId(types.find((x) => x.kind === 'VAR' && x.name === 'records')?.type_id);
  const ringBytes = byId(byId(def?.members?.find((m) => m.name === 'max_entries')?.type_id)?.type_id)?.nr_elems;
  const format = execFileSync(CLI, ['compile', '-e', line, '--format'], { encoding: 'utf8' });
  const fixed = Math.max(...[...format.matchAll(/\toffset:(\d+);\tsize:(\d+);/g)].map((m) => Number(m[1]) + Number(m[2])));
  if (ringBytes === undefined || !Number.isFinite(fixed)) throw new Error(`cannot read the ring geometry of ${line}`);
  return { ringBytes, recordBytes: Math.ceil((32 + fixed + 8) / 8) * 8 };
}

t.test('the ring buffer wraps: every record printed once, in order, or counted as lost', { skip }, async (t) => {
  const { buildTarget: buildRuntimeTarget } = await import('./lib/target.js');
  const target = buildRuntimeTarget();
  t.teardown(() => target.cleanup());
  const line = `p:kpbslw/hot ${target.path}:kpb_hot i=%di:s32 s=+0(%di):string`;
  // the object is traced as compiled (a trace of the lines sizes its ring to this machine's CPUs instead)
  const dir = mkdtempSync(join(tmpdir(), 'kprobe-bpf-ring-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const obj = join(dir, 'ring.o');
  const { ringBytes, recordBytes } = ringGeometry(line, obj);
  t.comment(`ring ${ringBytes} bytes, ${recordBytes} bytes a record: ${Math.floor(ringBytes / recordBytes)} records at once`);
  // How often the ring wrapped depends on how fast the reader drained it
  // while the target ran (a full ring drops, it does not wrap); a run that
  // did not wrap twice is run again with four times the hits.
  let wraps = 0;
  for (let hits = 4 * Math.ceil(ringBytes / recordBytes); wraps < 2 && hits <= 64 * Math.ceil(ringBytes / recordBytes); hits *= 4) {
    const r = await withKernelLock(() =>
      spawnSync(CLI, ['trace', obj, '-c', `${target.path} 0 ${hits} go 20000`, '--profile'], { encoding: 'utf8', maxBuffer: 1 << 28 }));
    t.equal(r.status, 0, 'kprobe-bpf trace exits 0', { stderr: r.stderr });
    const seen = traceBodies(r.stdout.split('\n').filter((l) => l.startsWith('#') || / hot: /.test(l)).join('\n'))
      .map((l) => Number(/ i=(-?\d+) /.exec(l.body)?.[1]));
    const profile = /^\s+hot\s+(\d+)\s+(\d+)\s*$/m.exec(r.stderr);
    t.ok(profile, 'the profile has a row for the event', { stderr: r.stderr });
    const [printed, misses] = [Number(profile?.[1]), Number(profile?.[2])];
    t.equal(printed, seen.length, 'the profile counts the printed records');
    t.equal(printed + misses, hits, `every one of ${hits} hits printed or counted lost (${misses} lost)`);
    t.ok(seen.every((v, i) => i === 0 || v > seen[i - 1]!), 'in the order of the hits');
    // Every printed record went through the ring once; lost ones took no room.
    wraps = Math.floor((seen.length * recordBytes) / ringBytes);
    t.comment(`${hits} hits: ${seen.length} printed, the ring wrapped ${wraps} times`);
  }
  t.ok(wraps >= 2, `the ring wrapped at least twice (${wraps}), so the checks above saw records across its end`);
});

t.test('compile --no-sleepable keeps uprobe sections non-sleepable', async (t) => {
  const line = 'p:g/e /bin/true:0x1000 s=+0(%di):string';
  const run = (extra: string[]) => spawnSync(CLI, ['compile', '-e', line, '--disasm', ...extra], { encoding: 'utf8' });
  const on = run([]);
  const off = run(['--no-sleepable']);
  t.match(on.stdout, /^uprobe\.s\/\/bin\/true:0x1000: /m, 'sleepable by default (uprobe.s/)');
  t.match(on.stdout, /call 148|copy_from_user/, 'faults pages in with bpf_copy_from_user');
  t.match(off.stdout, /^uprobe\/\/bin\/true:0x1000: /m, '--no-sleepable: uprobe/');
  t.notMatch(off.stdout, /call 148|copy_from_user/, '--no-sleepable: no bpf_copy_from_user');
});
