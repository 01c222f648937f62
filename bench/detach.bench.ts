// Detach: how long `kprobe-bpf trace` takes to take N uprobes off (N = 1,
// 10, 50 events on a gcc-built loop's kpb_tick), each attached as a perf
// event (the uprobe PMU; what every kernel before 6.6 gets, forced here with
// KPROBE_BPF_UPROBE_MULTI=0) and as a uprobe_multi link per event (the
// default where the kernel has them), in the same run. Measured as users run
// it: the CLI as a subprocess with `-c`, its `detach` phase from
// KPROBE_BPF_TIMING=1 (the registry closing every attachment; the median of
// RUNS). Each perf event pays its own grace periods on close (and their
// closes serialise in the kernel); each link one uprobe_unregister_sync, and
// the session closes the links side by side on libuv's threads (4 by
// default), so those waits overlap. The last column is in-process: one uprobe_multi
// link carrying all N sites of one program, the cost per link once events
// share a program (bpf_cookie telling them apart): not done yet, the
// ceiling of what grouping would give.
import { spawnSync } from 'node:child_process';
import { median, type Bench, type Row } from './table.js';
import { uprobeEventsSkipReason } from '../test/lib/kernel.js';
import { CLI } from '../test/e2e/lib/runs.js';
import { buildLoopTarget, type LoopTarget } from '../test/e2e/lib/loop-target.js';
import { compile } from '../api/index.js';
import { BpfObject } from '../runtime/loader.js';
import { UPROBE_MULTI_ENV, UprobeMultiLink, uprobeMultiProblem } from '../runtime/attach/index.js';

const SIZES = [1, 10, 50];
const RUNS = 3;

const lines = (target: LoopTarget, n: number): string[] => Array.from({ length: n }, (_, i) => `p:bdetach/e${i} ${target.path}:kpb_tick i=%di`);

/** One CLI trace of the loop (3 calls); its detach phase in ms. */
function cliDetachMs(target: LoopTarget, n: number, multi: boolean): number {
  const args = ['trace', ...lines(target, n).flatMap((l) => ['-e', l]), '-c', `${target.path} 3`];
  const r = spawnSync(CLI, args, { encoding: 'utf8', env: { ...process.env, KPROBE_BPF_TIMING: '1', [UPROBE_MULTI_ENV]: multi ? '1' : '0' }, maxBuffer: 1 << 26 });
  const m = /kprobe-bpf timing: detach ([\d.]+) ms/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`trace of ${n} uprobes (${UPROBE_MULTI_ENV}=${multi ? 1 : 0}) failed: ${r.stderr.slice(-2000)}`);
  return Number(m[1]);
}

/** In process: one program, one uprobe_multi link on n sites; its close in ms. */
function oneLinkDetachMs(target: LoopTarget, n: number): number {
  const compiled = compile(lines(target, 1).join('\n'));
  const obj = BpfObject.open(compiled.object, { name: 'bdetach', logger: () => {} });
  try {
    const prog = obj.load({ uprobeMulti: true }).programs.find((p) => p.uprobeMulti);
    if (!prog) throw new Error('the program did not load for uprobe_multi');
    const link = new UprobeMultiLink(Array.from({ length: n }, () => ({ path: target.path, offset: target.tickOffset, isReturn: false })));
    link.setBpf(prog.fd);
    link.enable();
    const t0 = performance.now();
    link.close();
    return performance.now() - t0;
  } finally {
    obj.close();
  }
}

const bench: Bench = {
  name: `detach: N uprobes off, perf events vs uprobe_multi links (trace -c, detach phase, median of ${RUNS})`,
  async run(): Promise<Row[]> {
    const skip = uprobeEventsSkipReason() ?? uprobeMultiProblem(true);
    if (skip) return [{ skipped: skip }];
    const target = buildLoopTarget();
    try {
      return SIZES.map((n) => {
        const perf: number[] = [];
        const links: number[] = [];
        const one: number[] = [];
        for (let i = 0; i < RUNS; i++) {
          perf.push(cliDetachMs(target, n, false));
          links.push(cliDetachMs(target, n, true));
          one.push(oneLinkDetachMs(target, n));
        }
        const p = median(perf), l = median(links), o = median(one);
        return {
          uprobes: n,
          'perf events ms': p,
          'ms/probe': p / n,
          'link per event ms': l,
          'ms/probe ': l / n,
          'links/perf': l / p,
          'one link, N sites ms': o,
          'one/perf': o / p,
        };
      });
    } finally {
      target.cleanup();
    }
  },
};

export default bench;
