// The npm package: `npm pack` makes a tarball with the compiled product, the
// libbpf wasm build and type declarations (no tests), `npm install --omit=dev`
// into an empty prefix needs no compiler, and the installed `kprobe-bpf`
// parses, compiles, checks and traces. Runs on whatever Node runs it (the
// Node-version smoke test runs this file with Node 22 and 24 as well).
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTarget } from './runtime/lib/target.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const work = mkdtempSync(join(tmpdir(), 'kpb-pkg-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
// The installed bin's `#!/usr/bin/env node` finds the Node running this test first.
const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };
const run = (cmd: string, args: string[], cwd = work) => spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 300_000 });

/**
 * A copy of what `npm pack` would read in the checkout, symlinks resolved
 * (build/ may be a link to a shared build); npm's `files` list does the selecting.
 */
function stage(): string {
  const dir = join(work, 'stage');
  for (const f of ['package.json', 'README.md', 'dist']) cpSync(join(ROOT, f), join(dir, f), { recursive: true, dereference: true });
  for (const f of ['libbpf.wasm', 'bpf-uapi.json']) cpSync(join(ROOT, 'build/wasm', f), join(dir, 'build/wasm', f), { dereference: true });
  return dir;
}

t.comment(`Node ${process.version}`);
let tarball = '';
let prefix = '';
let bin = '';

t.test(`npm pack makes a tarball with the product, the wasm build and types, no tests (Node ${process.version})`, async (t) => {
  const r = run('npm', ['pack', '--pack-destination', work, '--loglevel=error'], stage());
  t.equal(r.status, 0, r.stderr);
  tarball = join(work, `kprobe-bpf-${VERSION}.tgz`);
  t.ok(existsSync(tarball), 'tarball written');
  const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n');
  for (const f of ['dist/bin/cli.js', 'dist/bundle/cli.js', 'dist/bundle/main.js', 'dist/api/index.js', 'dist/api/index.d.ts', 'build/wasm/libbpf.wasm', 'build/wasm/bpf-uapi.json', 'package.json']) {
    t.ok(files.includes(`package/${f}`), `has ${f}`);
  }
  t.same(files.filter((f) => /^package\/dist\/(test|bench)\/|\.map$|\.ts$(?<!\.d\.ts)/.test(f)), [], 'no tests, benches, maps or sources');
});

t.test('npm install --omit=dev into an empty prefix installs the CLI and only koffi', async (t) => {
  prefix = join(work, 'prefix');
  const r = run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error', '--prefix', prefix, tarball]);
  t.equal(r.status, 0, r.stderr);
  bin = join(prefix, 'node_modules/.bin/kprobe-bpf');
  t.ok(existsSync(bin), 'node_modules/.bin/kprobe-bpf');
  t.match(realpathSync(bin), /\/dist\/bundle\/cli\.js$/, 'the bin is the bundled CLI (mk/bundle.mk)');
  const top = readdirSync(join(prefix, 'node_modules')).filter((d) => !d.startsWith('.'));
  t.ok(top.includes('koffi') && !top.includes('chevrotain'), 'the run-time dependency installed, nothing else');
  t.notOk(top.some((d) => ['typescript', 'tap', '@types', 'esbuild', '@esbuild'].includes(d)), `no dev dependency (${top.join(' ')})`);
});

t.test('the installed kprobe-bpf: --version, parse, compile, check', async (t) => {
  t.equal(run(bin, ['--version']).stdout, `kprobe-bpf ${VERSION}\n`);
  const p = run(bin, ['parse', '-e', 'p /bin/true:0x1149 %di']);
  t.equal(p.stdout, 'p:uprobes/p_true_0x1149 /bin/true:0x0000000000001149 arg1=%di\n', p.stderr);
  const obj = join(work, 'probe.o');
  const c = run(bin, ['compile', '-e', 'p:pkgtest/true /bin/true:0x1149 %di', '-o', obj]);
  t.equal(c.status, 0, c.stderr);
  t.same([...readFileSync(obj).subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'an ELF object');
  const k = run(bin, ['check', obj]);
  t.equal(k.status, 0, k.stdout + k.stderr);
  t.match(k.stdout, /^pkgtest\/true +uprobe\/\/bin\/true:0x1149 .* ok$/m);
});

t.test('the installed kprobe-bpf traces a command (-c)', async (t) => {
  const target = buildTarget();
  t.teardown(target.cleanup);
  const r = run(bin, ['trace', '--pipe', '-e', `p:pkgtest/hot ${target.path}:kpb_hot i=%di:s32`, '-c', `${target.path} 0 2`]);
  t.equal(r.status, 0, r.stderr);
  // The command's own stdout (sema=0) is interleaved with ours.
  const hits = r.stdout.split('\n').filter((l) => / hot: /.test(l));
  t.equal(hits.length, 2, r.stdout);
  t.match(hits[0], /^ +kpbtarget-\d+ +\[\d{3}\] [.dDbBNnLlZzHhs]{3}[0-9a-f.]{2} +[\d.]+: hot: \(0x[0-9a-f]+\) i=0$/);
  t.match(hits[1], /^ +kpbtarget-\d+ +\[\d{3}\] [.dDbBNnLlZzHhs]{3}[0-9a-f.]{2} +[\d.]+: hot: \(0x[0-9a-f]+\) i=1$/);
});

t.test('the installed package is a library: parse and compile through its exports', async (t) => {
  const script = `import { parse, compile } from 'kprobe-bpf';
const defs = parse('p:pkgtest/lib /bin/true:0x10 x=%di:u32');
const c = compile(defs);
console.log(defs[0].group, defs[0].event, c.programs.length, c.object[1] === 0x45);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: prefix, encoding: 'utf8' });
  t.equal(r.stdout, 'pkgtest lib 1 true\n', r.stderr);
});
