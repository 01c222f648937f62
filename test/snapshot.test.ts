// The start-up snapshots (mk/snapshot.mk, bin/snapshot.ts) and how
// bin/kprobe-bpf picks one.
//
// Choice, without any real Node: a stand-in `node` that prints its argv,
// in a scratch tree shaped like a checkout, shows what bin/kprobe-bpf would
// run: a blob only for the node binary its N.node names, only when no
// NODE_OPTIONS can change V8's flags, and never when the blob is older than
// dist/ or than the node binary; the bundle otherwise.
//
// Each built blob, with the Node binary it belongs to: the same answers as
// the bundle on that Node (parse, compile's object bytes, --version), the
// environment read at the run and not frozen at the build
// (KPROBE_BPF_TIMING), and a trace -c that loads koffi and the wasm libbpf
// from paths the snapshot resolves at start.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { uprobeEventsSkipReason } from './lib/kernel.js';
import { buildTarget } from './runtime/lib/target.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SNAPSHOTS = join(ROOT, 'dist/snapshot');
const BUNDLE = join(ROOT, 'dist/bundle/cli.js');
/** bin/kprobe-bpf's NODE_FLAGS (mk/snapshot.mk builds under the same). */
const NODE_FLAGS = /^NODE_FLAGS="?([^"\n]*)"?$/m.exec(readFileSync(join(ROOT, 'bin/kprobe-bpf'), 'utf8'))?.[1]?.split(' ') ?? [];

/**
 * Runs a child without tap's NODE_OPTIONS and hooks (built for the Node
 * running tap): tap adds them to every child it sees spawned, so they are
 * taken out by env(1), as test/node-versions.test.ts does.
 */
function spawnClean(cmd: string, args: readonly string[], opts: { env?: Record<string, string>; cwd?: string } = {}) {
  const unset = ['NODE_OPTIONS', ...Object.keys(process.env).filter((k) => /^(_+TAPJS|TAP)/.test(k))].flatMap((k) => ['-u', k]);
  const set = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
  return spawnSync('env', [...unset, ...set, cmd, ...args], { cwd: opts.cwd ?? ROOT, encoding: 'utf8' });
}

t.test('bin/kprobe-bpf runs a blob only with its own node, flags and build', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-snapchoice-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const d of ['bin', 'dist/bin', 'dist/bundle', 'dist/snapshot', 'nodeA', 'nodeB', 'nodeC']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(join(ROOT, 'bin/kprobe-bpf'), join(dir, 'bin/kprobe-bpf'));
  for (const n of ['nodeA', 'nodeB']) {
    writeFileSync(join(dir, n, 'node'), `#!/bin/sh\necho "${n} $*"\n`);
    chmodSync(join(dir, n, 'node'), 0o755);
  }
  // nodeC refuses its blob at start (as the same node does in the QEMU guest: "different V8 configurations")
  writeFileSync(join(dir, 'nodeC/node'), '#!/bin/sh\ncase "$*" in *--snapshot-blob*--version*) exit 14;; esac\necho "nodeC $*"\n');
  chmodSync(join(dir, 'nodeC/node'), 0o755);
  const old = new Date(Date.now() - 60_000);
  const setTimes = (path: string, when: Date) => utimesSync(path, when, when);
  writeFileSync(join(dir, 'dist/bin/cli.js'), '');
  writeFileSync(join(dir, 'dist/bundle/cli.js'), '');
  writeFileSync(join(dir, 'dist/snapshot/1.blob'), '');
  symlinkSync(join(dir, 'nodeA/node'), join(dir, 'dist/snapshot/1.node'));
  writeFileSync(join(dir, 'dist/snapshot/2.blob'), '');
  symlinkSync(join(dir, 'nodeC/node'), join(dir, 'dist/snapshot/2.node'));
  const fresh = () => {
    for (const f of ['nodeA/node', 'nodeB/node', 'nodeC/node', 'dist/bin/cli.js', 'dist/bundle/cli.js']) setTimes(join(dir, f), old);
    for (const b of ['1.blob', '2.blob']) setTimes(join(dir, 'dist/snapshot', b), new Date());
  };
  const run = (node: string, extra: Record<string, string> = {}) =>
    spawnClean(join(dir, 'bin/kprobe-bpf'), ['parse', '-e', 'x'], { env: { PATH: `${join(dir, node)}:/usr/bin:/bin`, ...extra } }).stdout.trim();
  const snapshot = `nodeA --snapshot-blob ${join(dir, 'dist/snapshot/1.blob')} ${NODE_FLAGS.join(' ')} -- parse -e x`;
  const bundle = (n: string) => `${n} ${NODE_FLAGS.join(' ')} ${join(dir, 'dist/bundle/cli.js')} parse -e x`;

  fresh();
  t.equal(run('nodeA'), snapshot, 'the node the blob was built by: the blob, with the same flags, arguments after --');
  t.equal(run('nodeB'), bundle('nodeB'), 'another node: the bundle');
  t.equal(run('nodeC'), bundle('nodeC'), 'its own node refuses the blob at start: the bundle');
  t.ok(readdirSync(join(dir, 'dist/snapshot')).some((f) => f.startsWith('2.blob.refused-')), 'the refusal is kept for this boot');
  t.equal(run('nodeC'), bundle('nodeC'), 'and not tried again');
  t.equal(run('nodeA', { NODE_OPTIONS: '--max-old-space-size=100' }), bundle('nodeA'), 'NODE_OPTIONS set: the bundle');
  t.equal(run('nodeA', { KPROBE_BPF_NO_SNAPSHOT: '1' }), bundle('nodeA'), 'KPROBE_BPF_NO_SNAPSHOT set: the bundle');
  setTimes(join(dir, 'dist/bin/cli.js'), new Date(Date.now() + 60_000));
  setTimes(join(dir, 'dist/bundle/cli.js'), new Date(Date.now() + 60_000));
  t.equal(run('nodeA'), bundle('nodeA'), 'dist/ rebuilt after the blob: not the blob');
  fresh();
  setTimes(join(dir, 'nodeA/node'), new Date(Date.now() + 60_000));
  t.equal(run('nodeA'), bundle('nodeA'), 'the node binary replaced after the blob: not the blob');
});

const built = existsSync(SNAPSHOTS) ? readdirSync(SNAPSHOTS).filter((f) => f.endsWith('.node')) : [];
const noBlobs = built.length === 0 ? 'no start-up snapshot built (mk/snapshot.mk; make builds them)' : false;
const uprobeSkip = uprobeEventsSkipReason();

for (const link of built.length ? built : ['none.node']) {
  const blob = join(SNAPSHOTS, link.replace(/\.node$/, '.blob'));
  const node = noBlobs ? '' : readlinkSync(join(SNAPSHOTS, link));
  const version = noBlobs ? '' : spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  t.test(`the blob for ${node || 'no node'} (${version || '-'})`, { skip: noBlobs }, async (t) => {
    const fromBlob = (args: string[], extra: Record<string, string> = {}) =>
      spawnClean(node, ['--snapshot-blob', blob, ...NODE_FLAGS, '--', ...args], { env: extra });
    const fromBundle = (args: string[]) => spawnClean(node, [...NODE_FLAGS, BUNDLE, ...args]);
    const line = 'p:snap/open /bin/true:0x1149 dfd=%di:s32 name=+0(%si):ustring if name ~ "*.so*"';
    for (const args of [['--version'], ['parse', '-e', line], ['parse', '-e', 'p:snap/bad /bin/true:0x1149 x=%zz'], ['help', 'trace']]) {
      const a = fromBlob(args);
      const b = fromBundle(args);
      t.same({ status: a.status, stdout: a.stdout, stderr: a.stderr }, { status: b.status, stdout: b.stdout, stderr: b.stderr }, `${args.join(' ')}: as the bundle answers`);
    }
    const dir = mkdtempSync(join(tmpdir(), 'kpb-snapobj-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const ca = fromBlob(['compile', '-e', line, '-o', join(dir, 'a.o')]);
    const cb = fromBundle(['compile', '-e', line, '-o', join(dir, 'b.o')]);
    t.equal(ca.status, 0, ca.stderr);
    t.equal(cb.status, 0, cb.stderr);
    t.ok(readFileSync(join(dir, 'a.o')).equals(readFileSync(join(dir, 'b.o'))), 'compile: the same object bytes as the bundle');

    const timed = fromBlob(['parse', '-e', line], { KPROBE_BPF_TIMING: '1' });
    t.match(timed.stderr, /^kprobe-bpf timing: node start [\d.]+ ms/m, 'KPROBE_BPF_TIMING is read at the run, not when the blob was built');

    t.test('trace -c from the blob', { skip: uprobeSkip }, async (t) => {
      const target = buildTarget();
      t.teardown(() => target.cleanup());
      const run = fromBlob(['trace', '--pipe', '-e', `p:snap${process.pid}/hit ${target.path}:kpb_target i=%di:s32`, '-c', `${target.path} 3`]);
      t.equal(run.status, 0, run.stderr);
      t.equal(run.stdout.split('\n').filter((l) => / hit: /.test(l)).length, 3, 'its 3 hits printed (koffi and the wasm libbpf found from the blob)');
    });
  });
}
