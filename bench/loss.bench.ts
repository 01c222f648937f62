// Loss and memory of a busy string trace, against bpftrace in the same run:
// LOSS_HITS back-to-back calls of a uprobed function (the producer's top
// rate: the loop does nothing else) with a string argument each, `trace
// --pipe -c LOOP`, the CLI as the installed bin runs it (the bundle with its
// shebang's Node flags, like startup.bench.ts) and bpftrace's
// `uprobe:LOOP:kpb_tick { printf(...) }`, interleaved run by run. Per run:
// the events lost (hits the loop made that no line shows; ours also says so
// on stderr) and the peak RSS (time -f %M); then, for ours, where the memory
// is at exit (V8's heap, external memory, RSS: KPROBE_BPF_TIMING's last
// line), so a regression has a name.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bench, Row } from './table.js';
import { uprobeEventsSkipReason } from '../test/lib/kernel.js';
import { buildLoopTarget, type LoopTarget } from '../test/e2e/lib/loop-target.js';

const RUNS = 3;
const LOSS_HITS = Number(process.env['KPB_LOSS_HITS'] ?? 200_000);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TIME = '/usr/bin/time';
/** What a printed line of the string event holds (ours: the event name; bpftrace: its printf). */
const MARK = 'shit: ';

/** The installed bin's command: the bundle when it is not older than dist/ (bin/kprobe-bpf's rule), with its shebang's Node flags. */
function installedCli(): { argv: string[]; label: string } {
  const dist = join(ROOT, 'dist/bin/cli.js');
  const bundle = join(ROOT, 'dist/bundle/cli.js');
  const entry = existsSync(bundle) && statSync(bundle).mtimeMs >= statSync(dist).mtimeMs ? bundle : dist;
  const flags = /^#!\/usr\/bin\/env -S node(.*)$/.exec(readFileSync(entry, 'utf8').split('\n', 1)[0]!)?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
  return { argv: [process.execPath, ...flags, entry], label: entry === bundle ? 'bundle' : 'dist' };
}

interface Run {
  /** Lines that reached our pipe. */
  readonly lines: number;
  readonly rssMiB: number;
  readonly wallS: number;
  /** Ours: `kprobe-bpf memory:` at exit, MiB by name. */
  readonly memory: ReadonlyMap<string, number>;
}

/** Runs argv under time(1), counting the lines holding MARK on its stdout (across chunk boundaries). */
function run(argv: readonly string[], dir: string): Promise<Run> {
  const stats = join(dir, 'time.txt');
  const t0 = process.hrtime.bigint();
  const child = spawn(TIME, ['-f', '%M', '-o', stats, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KPROBE_BPF_TIMING: '1' } });
  const mark = Buffer.from(MARK);
  let lines = 0;
  let tail = Buffer.alloc(0);
  child.stdout!.on('data', (d: Buffer) => {
    const b = tail.length ? Buffer.concat([tail, d]) : d;
    for (let at = b.indexOf(mark); at >= 0; at = b.indexOf(mark, at + mark.length)) lines++;
    tail = Buffer.from(b.subarray(Math.max(0, b.length - (mark.length - 1))));
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`${argv.join(' ')} exited ${code}: ${stderr}`));
      const memory = new Map<string, number>();
      const m = /^kprobe-bpf memory: (.*)$/m.exec(stderr)?.[1] ?? '';
      for (const [, name, mib] of m.matchAll(/(\w+) ([\d.]+)/g)) memory.set(name!, Number(mib));
      const rssKiB = Number(readFileSync(stats, 'utf8').trim().split('\n').pop());
      resolve({ lines, rssMiB: rssKiB / 1024, wallS: Number(process.hrtime.bigint() - t0) / 1e9, memory });
    });
  });
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : 0;
};
const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}x` : '-');

/** A string argument each: the bytes at the stack pointer (the return address, up to a NUL). */
const ourLine = (t: LoopTarget) => `p:kpbloss${process.pid}/shit ${t.path}:0x${t.tickOffset.toString(16)} i=%di:s32 s=+0(%sp):ustring`;
const bpftraceScript = (t: LoopTarget) => `uprobe:${t.path}:kpb_tick { printf("${MARK}%d %s\\n", arg0, str(reg("sp"))); }`;

const haveBpftrace = (): boolean => spawnSync('bpftrace', ['--version'], { stdio: 'ignore' }).status === 0;

const cli = installedCli();

const bench: Bench = {
  name: `loss: ${LOSS_HITS / 1000}k back-to-back hits of a string-argument uprobe, trace --pipe -c (the CLI as installed: ${cli.label}), ${RUNS} runs interleaved with bpftrace's`,
  async run() {
    const why = uprobeEventsSkipReason();
    if (why) return [{ measure: 'loss', result: `skipped: ${why}` }];
    if (!existsSync(TIME)) return [{ measure: 'loss', result: `skipped: no ${TIME} for peak RSS` }];
    const peer = haveBpftrace();
    const target = buildLoopTarget();
    const dir = mkdtempSync(join(tmpdir(), 'kpb-loss-'));
    try {
      const loop = `${target.path} ${LOSS_HITS}`;
      const ours: Run[] = [];
      const theirs: Run[] = [];
      for (let i = 0; i < RUNS; i++) {
        ours.push(await run([...cli.argv, 'trace', '-e', ourLine(target), '--pipe', '-c', loop], dir));
        if (peer) theirs.push(await run(['bpftrace', '-e', bpftraceScript(target), '-c', loop], dir));
      }
      const lost = (rs: Run[]) => rs.map((r) => LOSS_HITS - r.lines).join(' / ');
      const rss = (rs: Run[]) => median(rs.map((r) => r.rssMiB));
      const row = (measure: string, o: number | string, p: number | string, r: string): Row =>
        ({ measure, 'kprobe-bpf': o, bpftrace: peer ? p : '-', 'kprobe-bpf / bpftrace': peer ? r : '-' });
      const atExit = (name: string) => +median(ours.map((r) => r.memory.get(name) ?? 0)).toFixed(1);
      return [
        row(`peak RSS, ${LOSS_HITS / 1000}k string-argument events (MiB, median)`, +rss(ours).toFixed(1), +rss(theirs).toFixed(1), ratio(rss(ours), rss(theirs))),
        row(`events lost of ${LOSS_HITS / 1000}k back-to-back hits (string argument), ${RUNS} runs`, lost(ours), lost(theirs), '-'),
        row('  peak RSS run by run (MiB)', ours.map((r) => r.rssMiB.toFixed(1)).join(' / '), theirs.map((r) => r.rssMiB.toFixed(1)).join(' / '), '-'),
        row('  wall (s, median)', +median(ours.map((r) => r.wallS)).toFixed(2), +median(theirs.map((r) => r.wallS)).toFixed(2), ratio(median(ours.map((r) => r.wallS)), median(theirs.map((r) => r.wallS)))),
        row('  ours at exit: V8 heap used / total, external, array buffers (MiB)', `${atExit('heapUsed')} / ${atExit('heapTotal')}, ${atExit('external')}, ${atExit('arrayBuffers')}`, '-', '-'),
      ];
    } finally {
      target.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default bench;
