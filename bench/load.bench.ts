// Load time of the same object through our loader (libbpf in wasm behind the
// syscall bridge) and through native libbpf (Debian's libbpf.so, in a small C
// harness this bench compiles with gcc), in one run: open from memory, load
// (maps, relocations, verifier), close. Median of warm iterations (our wasm
// instances are pooled and keep libbpf's feature-probe cache, as one native
// process does), plus the very first load of the run: wasm compile,
// instantiation and libbpf's kernel feature probes.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bench, Row } from './table.js';

const ITERATIONS = 20;

const HARNESS = `
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <bpf/libbpf.h>
static int quiet(enum libbpf_print_level l, const char *f, va_list ap) { (void)l; (void)f; (void)ap; return 0; }
static long long now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }
int main(int argc, char **argv) {
  FILE *f = fopen(argv[1], "rb"); if (!f) return 2;
  fseek(f, 0, SEEK_END); long n = ftell(f); fseek(f, 0, SEEK_SET);
  char *buf = malloc(n); if (fread(buf, 1, n, f) != (size_t)n) return 2; fclose(f);
  int iters = atoi(argv[2]);
  libbpf_set_print(quiet);
  for (int i = 0; i < iters; i++) {
    long long t0 = now();
    struct bpf_object *o = bpf_object__open_mem(buf, n, NULL);
    if (!o || bpf_object__load(o)) { fprintf(stderr, "load failed\\n"); return 1; }
    bpf_object__close(o);
    printf("%lld\\n", now() - t0);
  }
  return 0;
}
`;

const KPROBE_MAP = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 128); __type(key, __u32); __type(value, __u64); } counts SEC(".maps");
const volatile __u32 target_tgid = 1;
SEC("kprobe/do_sys_openat2")
int count_open(void *ctx) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32; __u64 one = 1, *v;
  if (tgid != target_tgid) return 0;
  v = bpf_map_lookup_elem(&counts, &tgid);
  if (v) __sync_fetch_and_add(v, 1); else bpf_map_update_elem(&counts, &tgid, &one, BPF_ANY);
  return 0;
}
char LICENSE[] SEC("license") = "GPL";
`;

const CORE = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
struct task_struct { int pad; int pid; int tgid; } __attribute__((preserve_access_index));
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } out SEC(".maps");
SEC("kprobe/do_sys_openat2")
int core_pid(void *ctx) {
  struct task_struct *t = (struct task_struct *)bpf_get_current_task();
  __u32 k = 0; __u64 v = BPF_CORE_READ(t, pid) + BPF_CORE_READ(t, tgid);
  bpf_map_update_elem(&out, &k, &v, BPF_ANY);
  return 0;
}
char LICENSE[] SEC("license") = "GPL";
`;

const PROBE_LINES = [
  'p:kprobes/b_open do_sys_openat2 dfd=%di:s32 name=+0(%si):string flags=%dx:x32 mode=%cx:u16',
  'r:kprobes/b_open_ret do_sys_openat2 ret=$retval:s64',
  'p:uprobes/b_u /bin/true:0x1000 a=%di b=%si:u32 s=+0(%si):ustring c=$comm',
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const bench: Bench = {
  name: 'load: our loader (libbpf in wasm + bridge) vs native libbpf, same object, open_mem+load+close',
  async run(): Promise<Row[]> {
    if (process.getuid?.() !== 0) return [{ object: 'skipped: needs root (BPF_PROG_LOAD)' }];
    const dir = mkdtempSync(join(tmpdir(), 'kb-load-bench-'));
    try {
      const multiarch = execFileSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).trim() || 'x86_64-linux-gnu';
      writeFileSync(join(dir, 'harness.c'), HARNESS);
      execFileSync('gcc', ['-O2', '-o', join(dir, 'harness'), join(dir, 'harness.c'), '-lbpf']);
      const objects: { name: string; path: string }[] = [];
      for (const [name, src] of [['kprobe + hash map + .rodata (clang)', KPROBE_MAP], ['CO-RE vs vmlinux BTF (clang)', CORE]] as const) {
        const c = join(dir, `${objects.length}.c`);
        const o = join(dir, `${objects.length}.o`);
        writeFileSync(c, src);
        execFileSync('clang', ['-target', 'bpf', '-O2', '-g', `-I/usr/include/${multiarch}`, '-c', c, '-o', o]);
        objects.push({ name, path: o });
      }
      const { compileDefinitions } = await import('../compiler/object.js');
      const { parseProbeCommands } = await import('../grammar/index.js');
      const { applyRemovals } = await import('../bin/probe-input.js');
      const ours = join(dir, 'ours.o');
      writeFileSync(ours, compileDefinitions(applyRemovals(parseProbeCommands(PROBE_LINES.join('\n'), { legacy: false }).commands)).object);
      objects.push({ name: `${PROBE_LINES.length} probes (kprobe-bpf compile)`, path: ours });

      const { BpfObject } = await import('../runtime/loader.js');
      const quiet = () => undefined;
      const rows: Row[] = [];
      for (const [i, o] of objects.entries()) {
        const bytes = readFileSync(o.path);
        const t0 = process.hrtime.bigint();
        const first = BpfObject.open(bytes, { logger: quiet });
        first.load(); // throws when our loader cannot load it
        first.close();
        const firstMs = Number(process.hrtime.bigint() - t0) / 1e6;
        const times: number[] = [];
        for (let i = 0; i < ITERATIONS; i++) {
          const s = process.hrtime.bigint();
          const obj = BpfObject.open(bytes, { logger: quiet });
          obj.load();
          obj.close();
          times.push(Number(process.hrtime.bigint() - s) / 1e6);
        }
        const native = spawnSync(join(dir, 'harness'), [o.path, String(ITERATIONS + 1)], { encoding: 'utf8' });
        if (native.status !== 0) throw new Error(`${o.name}: native libbpf failed: ${native.stderr}`);
        const nativeTimes = native.stdout.trim().split('\n').map((l) => Number(l) / 1e6).slice(1);
        const oursMs = median(times);
        const nativeMs = median(nativeTimes);
        rows.push({ object: o.name, 'ours ms (median)': oursMs, 'ours first load ms': i === 0 ? firstMs : '', 'native libbpf ms (median)': nativeMs, 'ratio ours/native': oursMs / nativeMs });
      }
      return rows;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default bench;
