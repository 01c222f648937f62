// The CLI bundle (mk/bundle.mk) and the shim that picks it: bin/kprobe-bpf
// runs dist/bundle/cli.js when it is at least as new as dist/bin/cli.js and
// dist/bin/cli.js otherwise (a tsc-only rebuild must not run a stale bundle);
// the bundle, when built, answers as dist/ does.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SHIM = join(ROOT, 'bin/kprobe-bpf');
const DIST_CLI = join(ROOT, 'dist/bin/cli.js');
const BUNDLE_CLI = join(ROOT, 'dist/bundle/cli.js');

/** A checkout-shaped directory with the shim and two stand-in CLIs that say which they are. */
function fakeRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-shim-'));
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'dist/bin'), { recursive: true });
  mkdirSync(join(dir, 'dist/bundle'), { recursive: true });
  copyFileSync(SHIM, join(dir, 'bin/kprobe-bpf'));
  writeFileSync(join(dir, 'dist/bin/cli.js'), "console.log('dist', process.argv.slice(2).join(' '))\n");
  writeFileSync(join(dir, 'dist/bundle/cli.js'), "console.log('bundle', process.argv.slice(2).join(' '))\n");
  return dir;
}
const setTime = (path: string, s: number) => utimesSync(path, s, s);
const shim = (dir: string, ...args: string[]) => execFileSync('sh', [join(dir, 'bin/kprobe-bpf'), ...args], { encoding: 'utf8' });

t.test('the shim runs the bundle when it is as new as dist/, dist/ when the bundle is older or absent', async (t) => {
  const dir = fakeRoot();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dist = join(dir, 'dist/bin/cli.js');
  const bundle = join(dir, 'dist/bundle/cli.js');
  setTime(dist, 1_000_000);
  setTime(bundle, 1_000_010);
  t.equal(shim(dir, 'a', 'b c'), 'bundle a b c\n', 'bundle newer');
  setTime(bundle, 1_000_000);
  t.equal(shim(dir, 'x'), 'bundle x\n', 'same time (one make run)');
  setTime(dist, 1_000_020);
  t.equal(shim(dir, 'x'), 'dist x\n', 'dist/ rebuilt after the bundle');
  rmSync(join(dir, 'dist/bin'), { recursive: true });
  t.equal(shim(dir, 'y'), 'bundle y\n', 'only the bundle (an installed package)');
  rmSync(bundle);
  const r = spawnSync('sh', [join(dir, 'bin/kprobe-bpf')], { encoding: 'utf8' });
  t.equal(r.status, 1);
  t.match(r.stderr, /not built yet; run 'make'/);
});

const built = existsSync(BUNDLE_CLI) && existsSync(join(ROOT, 'dist/bundle/main.js')) && statSync(BUNDLE_CLI).mtimeMs >= statSync(DIST_CLI).mtimeMs;
t.test('the bundle answers as dist/ does', { skip: built ? false : 'dist/bundle is not built or older than dist/ (make builds it)' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-bundle-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const run = (cli: string, args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  for (const args of [['--version'], ['parse', '-e', 'p:a/b /bin/true:0x10 %di +0(%si):string'], ['parse', '-e', 'p /bin/true:0x10 %zz'], ['help', 'trace'], ['nonsense']]) {
    const a = run(DIST_CLI, args);
    const b = run(BUNDLE_CLI, args);
    t.same([b.status, b.stdout, b.stderr], [a.status, a.stdout, a.stderr], args.join(' '));
  }
  const objs = [DIST_CLI, BUNDLE_CLI].map((cli, i) => {
    const out = join(dir, `${i}.o`);
    const r = run(cli, ['compile', '-e', 'p:a/b /bin/true:0x10 %di s=+0(%si):ustring', '-o', out]);
    t.equal(r.status, 0, r.stderr);
    return readFileSync(out);
  });
  t.ok(objs[0]!.equals(objs[1]!), 'compile writes the same object');
});
