// Hostile objects (../shared/fixtures/hostile-objects, found by mutation
// fuzzing): `kprobe-bpf check` on each gives a clear error and exit 1,
// never a hang or a stack; and the mechanisms behind that, on their own: a
// wasm trap and a call past its time limit become LoaderErrors that say so.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { callLibbpf, LibbpfCrashError, LibbpfTimeoutError, LoaderError } from '../../runtime/bridge/libbpf-call.js';
import { compileBpf, loadSkipReason, scratch } from './lib.js';

const skip = loadSkipReason();
const CLI = fileURLToPath(new URL('../../bin/cli.js', import.meta.url));
// the source tree's copies (this file runs from dist/test/loader/)
const FIXTURES = fileURLToPath(new URL('../../../test/loader/hostile-objects/', import.meta.url));
const fixtureSkip = skip;

/** `kprobe-bpf check FILE`, killed after 20 s: a hang shows as a null status. */
function check(file: string) {
  const r = spawnSync(process.execPath, [CLI, 'check', file], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, out: (r.stdout + r.stderr).trimEnd() };
}

t.test('a .BTF.ext line_info_len of 0xffffffff: the trap is reported as what it is', { skip: fixtureSkip }, async (t) => {
  const r = check(join(FIXTURES, 'btf-ext-line-info-len.o'));
  t.equal(r.status, 1, 'exit 1');
  t.equal(r.out.split('\n').length, 1, `one line: ${r.out}`);
  t.match(r.out, /^cannot open BPF object btf-ext-line-info-len\.o: libbpf crashed \(wasm trap: memory access out of bounds\) reading the object's \.BTF\.ext section: its line_info \(offset \d+, 4294967295 bytes\) runs past the section's \d+ bytes$/);
});

t.test('corrupt license alignment and .BTF.ext: check returns with libbpf\'s account', { skip: fixtureSkip }, async (t) => {
  const r = check(join(FIXTURES, 'license-align-btf-ext-hang.o'));
  t.equal(r.status, 1, 'exit 1 (not killed)');
  t.equal(r.out.split('\n').length, 1, `one line: ${r.out}`);
  t.match(r.out, /^cannot open BPF object license-align-btf-ext-hang\.o: .*\.BTF\.ext/);
});

t.test('two programs sharing 15 characters, one autoload off: the rejected one is blamed, once', { skip: fixtureSkip }, async (t) => {
  const r = check(join(FIXTURES, 'name-collision-15-chars.o'));
  t.equal(r.status, 1, 'exit 1 (not killed)');
  const rows = r.out.split('\n').filter((l) => /^\S+\s{2,}\S*kprobe\//.test(l));
  t.same(rows.map((l) => l.split(/\s{2,}/)[0]), ['probe_vfs_read_broken'], 'one row: the program the verifier refused (the ?-program is not loaded)');
  t.match(rows[0], /FAIL EACCES$/);
});

t.test('the same without the ?: the valid program passes, the broken one fails', { skip }, async (t) => {
  const o = join(scratch, 'collide.o');
  writeFileSync(o, compileBpf('collide', `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("kprobe/vfs_read") int probe_vfs_read_valid(void *ctx) { return 0; }
SEC("kprobe/vfs_write") int probe_vfs_read_broken(void *ctx) { return *(int *)0; }
char LICENSE[] SEC("license") = "GPL";
`));
  const r = check(o);
  t.equal(r.status, 1);
  const rows = r.out.split('\n').filter((l) => /^probe_vfs_\S+\s+kprobe\//.test(l)).map((l) => l.split(/\s{2,}/));
  t.same(rows.map((x) => [x[0], x.at(-1)]), [['probe_vfs_read_valid', 'ok'], ['probe_vfs_read_broken', 'FAIL EACCES']]);
});

// (module (func (export "spin") (loop br 0)) (func (export "trap") unreachable))
const WASM = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 3, 2, 0, 0, 7, 15, 2, 4, 115, 112, 105, 110, 0, 0, 4, 116, 114, 97, 112, 0, 1, 10, 13, 2, 7, 0, 3, 64, 12, 0, 11, 11, 3, 0, 0, 11]);

t.test('libbpf work that never returns is stopped at its time limit', async (t) => {
  const x = new WebAssembly.Instance(new WebAssembly.Module(WASM)).exports as { spin(): void; trap(): void };
  const err = t.throws(() => callLibbpf(() => x.spin(), 300, (what) => `opening x.o: libbpf ${what}`)) as unknown;
  t.ok(err instanceof LibbpfTimeoutError && err instanceof LoaderError, 'a LibbpfTimeoutError, a LoaderError');
  t.equal((err as Error).message, 'opening x.o: libbpf did not finish within 0.3 s and was stopped');
  t.equal((err as LoaderError).errno, 110, 'ETIMEDOUT');
  t.equal(callLibbpf(() => 42, 300, () => ''), 42, 'a call that returns passes its value through');
});

t.test('a wasm trap becomes a LibbpfCrashError naming the trap', async (t) => {
  const x = new WebAssembly.Instance(new WebAssembly.Module(WASM)).exports as { spin(): void; trap(): void };
  const err = t.throws(() => callLibbpf(() => x.trap(), 1000, (what) => `libbpf ${what}`)) as unknown;
  t.ok(err instanceof LibbpfCrashError, 'a LibbpfCrashError');
  t.equal((err as Error).message, 'libbpf crashed (wasm trap: unreachable)');
  t.ok((err as Error).cause instanceof WebAssembly.RuntimeError, 'the trap is its cause');
});
