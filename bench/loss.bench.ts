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
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, ratio, type Bench, type Row } from './table.js';
import { haveBpftrace, installedCli, measure, TIME, type Measured } from './cli-run.js';
import { uprobeEventsSkipReason } from '../test/lib/kernel.js';
import { buildLoopTarget, type LoopTarget } from '../test/e2e/lib/loop-target.js';

const RUNS = 5;
const LOSS_HITS = Number(process.env['KPB_LOSS_HITS'] ?? 200_000);
/** What a printed line of the string event holds (ours: the event name; bpftrace: its printf). */
const MARK = 'shit: ';

interface Run {
  /** Lines that reached our pipe. */
  readonly lines: number;
  readonly rssMiB: number;
  readonly wallS: number;
  /** Ours: `kprobe-bpf memory:` at exit, MiB by name. */
  readonly memory: ReadonlyMap<string, number>;
}

/** Runs argv under time(1), counting the lines holding MARK on its stdout. */
async function run(argv: readonly string[], dir: string): Promise<Run> {
  const m: Measured = await measure(argv, { ...process.env, KPROBE_BPF_TIMING: '1' }, dir, MARK);
  const memory = new Map<string, number>();
  const atExit = /^kprobe-bpf memory: (.*)$/m.exec(m.stderr)?.[1] ?? '';
  for (const [, name, mib] of atExit.matchAll(/(\w+) ([\d.]+)/g)) memory.set(name!, Number(mib));
  return { lines: m.counted, rssMiB: m.rssKiB / 1024, wallS: m.wallMs / 1000, memory };
}

/** A string argument each: the bytes at the stack pointer (the return address, up to a NUL). */
const ourLine = (t: LoopTarget) => `p:kpbloss${process.pid}/shit ${t.path}:0x${t.tickOffset.toString(16)} i=%di:s32 s=+0(%sp):ustring`;
const bpftraceScript = (t: LoopTarget) => `uprobe:${t.path}:kpb_tick { printf("${MARK}%d %s\\n", arg0, str(reg("sp"))); }`;

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
        ours.push(await run([process.execPath, ...cli.args, 'trace', '-e', ourLine(target), '--pipe', '-c', loop], dir));
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
