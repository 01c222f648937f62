// `kprobe-bpf check` as a user runs it: object files and -e lines through
// the real verifier, one row per program, exit status 0/1, the verifier's log
// for a rejection. The kernel decides pass/fail; the rows are compared with
// what bpftool (native libbpf) reports for the same object, loaded and pinned
// in a bpffs directory of this test's own.
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { compileBpf, KPROBE_WITH_MAP, loadSkipReason, REJECTED, scratch } from './lib.js';
import { withBpffsSync } from '../lib/bpffs.js';

const skip = loadSkipReason();
const CLI = fileURLToPath(new URL('../../bin/cli.js', import.meta.url));

function check(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, 'check', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function rows(stdout: string): string[][] {
  const lines = stdout.split('\n');
  const head = lines.findIndex((l) => l.startsWith('EVENT'));
  const out: string[][] = [];
  for (const l of lines.slice(head + 1)) {
    if (!l.trim()) break;
    out.push(l.trim().split(/\s{2,}/));
  }
  return out;
}

t.test('a passing object: one row per program, exit 0', { skip }, async (t) => {
  const o = join(scratch, 'check_ok.o');
  writeFileSync(o, compileBpf('check_ok', KPROBE_WITH_MAP));
  const r = check([o]);
  t.equal(r.status, 0, r.stdout + r.stderr);
  const [row, ...rest] = rows(r.stdout);
  t.same(rest, []);
  t.equal(row![0], 'count_open');
  t.equal(row![1], 'kprobe/do_sys_openat2');
  t.ok(Number(row![2]) > 0 && Number(row![3]) > 0, 'instructions and verified instructions');
  t.match(row![4], /^\d+\.\d\d$/, 'load time in ms');
  t.equal(row![5], 'ok');
});

t.test('a row agrees with bpftool on the same object', { skip }, async (t) => {
  // no helper calls, no constant the verifier could fold: the kernel
  // translates it one instruction for one, so bpftool's bytes_xlated / 8 is
  // the object's instruction count
  const o = join(scratch, 'check_cmp.o');
  writeFileSync(o, compileBpf('check_cmp', `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("kprobe/do_sys_openat2") int kb_check_compare(unsigned long *ctx) { return ctx[14] > 5 ? 1 : 0; }
char LICENSE[] SEC("license") = "GPL";
`));
  const r = check([o]);
  t.equal(r.status, 0, r.stdout + r.stderr);
  const [row] = rows(r.stdout);
  const shown = withBpffsSync((root) => {
    execFileSync('bpftool', ['prog', 'loadall', o, join(root, 'check')]);
    return JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'pinned', join(root, 'check', 'kb_check_compare')], { encoding: 'utf8' })) as { name: string; type: string; bytes_xlated: number };
  });
  t.equal(shown.type, 'kprobe', 'bpftool: a kprobe program');
  t.equal(shown.name, row![0], 'bpftool: the same program');
  t.equal(Number(row![2]), shown.bytes_xlated / 8, `INSNS = bpftool's bytes_xlated / 8 (${shown.bytes_xlated})`);
});

t.test('a rejected program: its row fails, the verifier log follows, exit 1', { skip }, async (t) => {
  const o = join(scratch, 'check_bad.o');
  writeFileSync(o, compileBpf('check_bad', REJECTED));
  const r = check([o]);
  t.equal(r.status, 1);
  t.equal(rows(r.stdout)[0]![5], 'FAIL EACCES');
  t.match(r.stdout, /wild_read \(kprobe\/do_sys_openat2\): rejected by the verifier \(EACCES\)/);
  t.match(r.stdout, /at instruction 1\n/);
  t.match(r.stdout, /invalid mem access/);
});

t.test('-e lines are compiled, loaded and named by their event', { skip }, async (t) => {
  const r = check([
    '-e', 'p:kprobes/kb_open do_sys_openat2 dfd=%di:s32 name=+0(%si):string flags=%dx:x32',
    '-e', 'r:kprobes/kb_open_ret do_sys_openat2 ret=$retval:s64',
    '-e', 'p:uprobes/kb_u /bin/true:0x1000 a=%di s=+0(%si):ustring c=$comm',
  ]);
  t.equal(r.status, 0, r.stdout + r.stderr);
  t.same(rows(r.stdout).map((x) => [x[0], x[1], x[5]]), [
    ['kprobes/kb_open', 'kprobe/do_sys_openat2', 'ok'],
    ['kprobes/kb_open_ret', 'kretprobe/do_sys_openat2', 'ok'],
    // a uprobe that reads memory is sleepable by default (libbpf: uprobe.s+ sets BPF_F_SLEEPABLE)
    ['uprobes/kb_u', 'uprobe.s//bin/true:0x1000', 'ok'],
  ]);
});

t.test('usage errors', async (t) => {
  const r = check([]);
  t.equal(r.status, 2);
  t.match(r.stderr, /nothing to check/);
  const bad = check(['-e', 'p:kprobes/x do_sys_open %zz']);
  t.equal(bad.status, 1, 'a syntax error in a definition');
  t.match(bad.stderr, /trace_kprobe: error:/);
});

t.test('a verifier log maps back to the probe and fetch argument', async (t) => {
  const { compileForCheck, failingSlot } = await import('../../bin/commands/check.js');
  t.equal(failingSlot('0: R1=ctx() R10=fp0\n0: (b7) r1 = 4096\n1: (71) r0 = *(u8 *)(r1 +0)\nR1 invalid mem access'), 1, 'the last instruction the verifier printed');
  t.equal(failingSlot('no instructions here'), undefined);
  const line = 'p:kprobes/kb_map do_sys_openat2 dfd=%di:s32 name=+0(%si):string';
  const input = await compileForCheck({ e: [line] });
  t.ok(input, 'compiled');
  // opening (not loading) needs no privilege: it lists the program libbpf sees
  const { BpfObject } = await import('../../runtime/loader.js');
  const obj = BpfObject.open(input!.bytes, { logger: () => undefined });
  const prog = obj.programs()[0]!;
  obj.close();
  const o = input!.origin(prog.name);
  t.ok(o, 'the program has an origin');
  t.equal(o!.event, 'kprobes/kb_map');
  t.equal(o!.definition, line);
  const notes = new Set<string>();
  for (let slot = 0; slot < prog.insns; slot++) {
    const n = o!.noteAt(slot);
    if (n) notes.add(n);
  }
  t.ok(notes.has('dfd=%di:s32') && notes.has('name=+0(%si):string'), `each fetch argument owns instructions (${[...notes].join(' | ')})`);
});
