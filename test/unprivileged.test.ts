// The unit tests that promise to need neither root nor LLVM (the compiler's,
// test/compiler/unit/, and the ring readers', test/runtime/ring/) run here as
// nobody (uid/gid 65534, no supplementary groups) with a PATH that holds node
// and the two tools the CLI shim uses, and no llvm-objdump or clang: each file
// must pass there, so a test that quietly leans on privileges or LLVM fails.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NOBODY = '65534';
const SUITES = ['compiler/unit', 'runtime/ring'];
const here = fileURLToPath(new URL('.', import.meta.url));

const which = (tool: string): string | undefined => {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
};

const setpriv = which('setpriv');
const skip = process.getuid?.() !== 0
  ? 'needs root to switch to uid 65534'
  : setpriv === undefined ? 'setpriv (util-linux) is not installed' : false;

/** A directory for PATH with node, dirname and readlink only (bin/kprobe-bpf needs the last two). */
function bareBin(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kprobe-bpf-nobody-'));
  chmodSync(dir, 0o755);
  symlinkSync(process.execPath, join(dir, 'node'));
  for (const tool of ['dirname', 'readlink']) {
    const at = which(tool);
    if (!at) throw new Error(`${tool} not found`);
    symlinkSync(at, join(dir, tool));
  }
  return dir;
}

/** Runs argv as nobody with only `bin` on PATH and no other environment. */
function asNobody(bin: string, argv: readonly string[]) {
  return spawnSync(setpriv!, [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'env', '-i', `PATH=${bin}`, 'HOME=/nonexistent', ...argv], {
    cwd: tmpdir(),
    encoding: 'utf8',
    timeout: 180_000,
  });
}

const testFiles = (suite: string): string[] => {
  const dir = join(here, suite);
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.test.js')).sort().map((f) => join(dir, f)) : [];
};

t.test('the compiler and ring unit tests pass as uid 65534 without LLVM on PATH', { skip }, async (t) => {
  const bin = bareBin();
  t.teardown(() => rmSync(bin, { recursive: true, force: true }));
  const files = SUITES.flatMap(testFiles);
  t.ok(testFiles('compiler/unit').length >= 4, `the compiler's unit tests are built (${files.length} files in all)`);

  // getgroups() may list the process's own gid; any other group would be one kept from root
  const id = asNobody(bin, ['node', '-e', 'process.stdout.write(JSON.stringify([process.getuid(), process.getgid(), ...process.getgroups()]))']);
  t.same(new Set(JSON.parse(id.stdout || '[]') as number[]), new Set([Number(NOBODY)]), `the children run as nobody, in no other group (${id.stdout})`);
  for (const tool of ['llvm-objdump', 'clang', 'llvm-mc', 'bpftool']) {
    t.not(asNobody(bin, ['/bin/sh', '-c', `command -v ${tool}`]).status, 0, `${tool} is not on the children's PATH`);
  }
  // dist/ must be readable (and its directories searchable) by nobody, else every run below fails for that reason
  const readable = asNobody(bin, ['node', '-e', 'for (const f of process.argv.slice(1)) require("fs").readFileSync(f)', ...files]);
  t.equal(readable.status, 0, `nobody can read the test files${readable.stderr ? `: ${readable.stderr.split('\n')[0]}` : ''}`);

  for (const file of files) {
    const r = asNobody(bin, ['node', file]);
    const name = file.slice(here.length);
    const summary = /^# \{ total: (\d+), pass: (\d+)(.*)\}$/m.exec(r.stdout);
    t.equal(r.status, 0, `${name} exits 0 as nobody`, { stderr: r.stderr.slice(-2000), tail: r.stdout.slice(-2000) });
    t.ok(summary && summary[1] === summary[2] && Number(summary[1]) > 0, `${name}: every assert passes (${summary?.[0] ?? 'no summary'})`);
  }
});
