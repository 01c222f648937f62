// The wasm libbpf loader on clang-built objects, the kernel as the judge:
// fdinfo says what the kernel created, bpftool reads maps back, the BTF of
// /sys/kernel/btf/vmlinux gives the offsets CO-RE must patch in, and the
// verifier writes the rejection log.
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { KprobeBpfError } from '../../lib/errors.js';
import { BpfObject, checkObject, LoaderError, VerifierError } from '../../runtime/loader.js';
import { compileBpf, fdinfo, kallsymsText, KPROBE_WITH_MAP, loadSkipReason, openFds, REJECTED, vmlinuxHeader } from './lib.js';

const skip = loadSkipReason();
const quiet = () => undefined;

t.test('a kprobe program with a hash map and a .rodata global loads', { skip }, async (t) => {
  const bytes = compileBpf('kprobe_map', KPROBE_WITH_MAP);
  const obj = BpfObject.open(bytes, { name: 'kprobe_map', logger: quiet });
  t.teardown(() => obj.close());
  t.same(obj.programs().map((p) => [p.name, p.section, p.autoload]), [['count_open', 'kprobe/do_sys_openat2', true]]);
  const maps = obj.maps();
  t.same(maps.find((m) => m.name === 'counts'), { name: 'counts', type: 1, keySize: 4, valueSize: 8, maxEntries: 128, flags: 0 }, 'the map as declared');
  t.ok(maps.some((m) => m.name.endsWith('.rodata')), 'libbpf made an internal map for the .rodata global');

  const r = obj.load();
  const prog = r.programs[0]!;
  t.ok(prog.fd >= 0, 'program fd');
  const pinfo = fdinfo(prog.fd);
  t.equal(Number(pinfo.prog_type), 2, 'kernel: a BPF_PROG_TYPE_KPROBE program');
  t.equal(prog.verifiedInsns, Number(pinfo.verified_insns), 'verified instructions = the kernel fdinfo count');
  t.ok(prog.loadNs !== undefined && prog.loadNs > 0n, 'load time measured');

  const counts = r.maps.find((m) => m.name === 'counts')!;
  const minfo = fdinfo(counts.fd);
  t.same([minfo.map_type, minfo.key_size, minfo.value_size, minfo.max_entries].map(Number), [1, 4, 8, 128], 'kernel: the hash map as declared');

  // The .rodata image went to the kernel through BPF_MAP_UPDATE_ELEM (value
  // pointer translated by the bridge) and was frozen: bpftool reads it back.
  const rodata = r.maps.find((m) => m.name.endsWith('.rodata'))!;
  const dump = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'dump', 'id', fdinfo(rodata.fd).map_id!], { encoding: 'utf8' })) as { value: string[] }[];
  const value = Buffer.from(dump[0]!.value.map((h) => parseInt(h, 16)));
  t.equal(value.readUInt32LE(0), 4242, 'kernel map holds target_tgid = 4242');
});

t.test('CO-RE relocations are resolved against /sys/kernel/btf/vmlinux', { skip }, async (t) => {
  // A local task_struct with a made-up layout: pid at offset 4. CO-RE must
  // rewrite the access to the running kernel's offset.
  const src = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
struct task_struct { int local_pad; int pid; } __attribute__((preserve_access_index));
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } out SEC(".maps");
SEC("kprobe/do_sys_openat2")
int core_pid(void *ctx) {
  struct task_struct *t = (struct task_struct *)bpf_get_current_task();
  __u32 k = 0;
  __u64 v = BPF_CORE_READ(t, pid);
  bpf_map_update_elem(&out, &k, &v, BPF_ANY);
  return 0;
}
char LICENSE[] SEC("license") = "GPL";
`;
  const bytes = compileBpf('core_local', src);
  const log: string[] = [];
  const obj = BpfObject.open(bytes, { name: 'core_local', logger: (_l, m) => log.push(m) });
  t.teardown(() => obj.close());
  obj.load(); // throws a LoaderError if libbpf cannot load it

  // The judge: task_struct.pid's offset in the kernel's own BTF.
  const raw = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'raw'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const struct = /^\[\d+\] STRUCT 'task_struct' size=\d+ vlen=\d+\n((?:\t.*\n)+)/m.exec(raw);
  const bits = struct && /^\t'pid' type_id=\d+ bits_offset=(\d+)/m.exec(struct[1]!);
  t.ok(bits, 'vmlinux BTF has task_struct.pid');
  const kernelOffset = Number(bits![1]) / 8;
  const patched = log.join('').match(/patched insn #\d+ \([^)]*\) (?:imm|off) (\d+) -> (\d+)/);
  t.ok(patched, 'libbpf patched an instruction');
  t.equal(Number(patched![1]), 4, 'from the local offset');
  t.equal(Number(patched![2]), kernelOffset, `to the kernel's offset ${kernelOffset}`);
});

const ksym = skip ? undefined : kallsymsText();
t.test('vmlinux.h, BPF_CORE_READ and a typeless __ksym extern', { skip: skip ?? (ksym ? undefined : 'kallsyms lists no do_sys_* text symbol to resolve') }, async (t) => {
  vmlinuxHeader();
  const src = `
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
extern const void ${ksym} __ksym;
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, u32); __type(value, u64); } out SEC(".maps");
SEC("kprobe/do_sys_openat2")
int core_vmlinux(void *ctx) {
  struct task_struct *t = (struct task_struct *)bpf_get_current_task();
  u32 k = 0;
  u64 v = BPF_CORE_READ(t, real_parent, tgid) + ((u64)&${ksym} & 1);
  bpf_map_update_elem(&out, &k, &v, BPF_ANY);
  return 0;
}
char LICENSE[] SEC("license") = "GPL";
`;
  const obj = BpfObject.open(compileBpf('core_vmlinux', src), { name: 'core_vmlinux', logger: quiet });
  t.teardown(() => obj.close());
  const r = obj.load();
  t.ok(r.programs[0]!.fd >= 0);
});

t.test('a program the verifier rejects comes back with its log', { skip }, async (t) => {
  const obj = BpfObject.open(compileBpf('rejected', REJECTED), { name: 'rejected', logger: quiet });
  t.teardown(() => obj.close());
  let err: unknown;
  try {
    obj.load();
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof VerifierError, 'load throws a VerifierError');
  const v = err as VerifierError;
  t.ok(v instanceof LoaderError && v instanceof KprobeBpfError, 'a LoaderError, on the shared error base');
  t.equal(v.errno, 13, 'EACCES, the verifier rejection');
  const p = v.program;
  t.equal(p.name, 'wild_read');
  t.equal(p.fd, -1);
  t.equal(p.errno, 13);
  t.equal(v.log, p.log);
  t.match(p.log, /invalid mem access/, 'the kernel verifier says why');
  t.match(p.log, /^1: \(71\) r0 = \*\(u8 \*\)\(r1 \+0\)$/m, 'and at which instruction');
  t.equal(p.verifiedInsns, 2, 'processed count from the log');
  t.match((v.cause as Error).message, /wild_read/, "libbpf's account, the cause, names the program");
});

t.test('checkObject reports every program, passing and rejected', { skip }, async (t) => {
  const src = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("kprobe/do_sys_openat2") int first_ok(void *ctx) { return 0; }
SEC("kprobe/do_sys_openat2") int second_bad(void *ctx) { return *(char *)0x10; }
SEC("kprobe/do_sys_openat2") int third_ok(void *ctx) { return 1; }
SEC("kprobe/do_sys_openat2") int fourth_bad(void *ctx) { return *(char *)0x20; }
char LICENSE[] SEC("license") = "GPL";
`;
  const { verdicts } = checkObject(compileBpf('mixed', src), { logger: quiet });
  t.same(verdicts.map((v) => [v.program.name, v.error]), [['first_ok', ''], ['second_bad', 'EACCES'], ['third_ok', ''], ['fourth_bad', 'EACCES']]);
  t.ok(verdicts.every((v) => v.program.verifiedInsns !== undefined));
});

t.test('closing an object leaves no fd behind', { skip }, async (t) => {
  const bytes = compileBpf('fds', KPROBE_WITH_MAP);
  // warm up koffi, the wasm compile and libbpf's first feature probes
  BpfObject.open(bytes, { logger: quiet }).close();
  const before = openFds();
  for (let i = 0; i < 3; i++) {
    const obj = BpfObject.open(bytes, { logger: quiet });
    obj.load();
    t.ok(openFds() > before, 'maps and programs hold fds while loaded');
    obj.close();
    t.equal(obj.leakedFds, 0, 'libbpf closed everything itself');
  }
  t.equal(openFds(), before, '/proc/self/fd count is back where it was');

  const bad = BpfObject.open(compileBpf('fds_bad', REJECTED), { logger: quiet });
  t.throws(() => bad.load(), VerifierError);
  bad.close();
  t.equal(openFds(), before, 'also after a rejected load');
});

t.test('dropLibbpf keeps the loaded object fds for the kernel and close() closes them', { skip }, async (t) => {
  const bytes = compileBpf('drop', KPROBE_WITH_MAP);
  BpfObject.open(bytes, { logger: quiet }).close();
  const before = openFds();
  const obj = BpfObject.open(bytes, { logger: quiet });
  const r = obj.load();
  obj.dropLibbpf();
  const prog = r.programs[0]!;
  const counts = r.maps.find((m) => m.name === 'counts')!;
  // a collection now frees libbpf's instance; the fds must not go with it
  (globalThis as { gc?: () => void }).gc?.();
  t.equal(Number(fdinfo(prog.fd).prog_type), 2, 'the program fd is still the kernel program');
  t.equal(Number(fdinfo(counts.fd).max_entries), 128, 'the map fd is still the kernel map');
  t.throws(() => obj.programs(), /dropLibbpf/, 'libbpf is no longer asked');
  t.throws(() => obj.load(), /dropLibbpf/);
  t.same(obj.refusals, [], 'the bridge refused nothing');
  obj.close();
  t.equal(obj.leakedFds, 0);
  t.equal(openFds(), before, 'close() closed every fd libbpf had made');
  obj.close();
  t.equal(openFds(), before, 'a second close() does nothing');

  // libbpf is compiled and instantiated again for the next object
  const next = BpfObject.open(bytes, { logger: quiet });
  t.teardown(() => next.close());
  t.ok(next.load().programs[0]!.fd >= 0, 'a later object loads');
});

t.test('an object libbpf cannot open is a clear error', async (t) => {
  t.throws(() => BpfObject.open(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 1, 2, 3]), { logger: quiet }), /cannot open BPF object/);
});
