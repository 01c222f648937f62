// Detach: how long `kprobe-bpf trace` takes to take N uprobes off (N = 1,
// 10, 50 events on a gcc-built loop's kpb_tick), in the same run: each
// attached as a perf event (the uprobe PMU; what every kernel before 6.6
// gets, forced with KPROBE_BPF_UPROBE_MULTI=0), as a uprobe_multi link per
// event (KPROBE_BPF_UPROBE_GROUP=0), and as the default, the events sharing
// one link through a dispatcher (runtime/attach/uprobe-group.ts). The events
// read a register, so their programs are atomic; events that read memory are
// sleepable, and a kernel that refuses sleepable programs a PROG_ARRAY (6.18
// does) gives them a link each: the "reading memory" column shows that cost.
// Measured as users run it: the CLI as a subprocess with `-c`, its `detach`
// phase from KPROBE_BPF_TIMING=1 (the registry closing every attachment; the
// median of RUNS). Each perf event pays its own grace periods on close (and
// their closes serialise in the kernel); each link one
// uprobe_unregister_sync, the session closing links side by side, each on a
// thread of its own (runtime/sys/fd.ts closeFdAsync), so their waits
// overlap. The last column is in-process: one uprobe_multi link carrying all
// N sites of one program, with no dispatcher: the floor.
import { spawnSync } from 'node:child_process';
import { median, ratio, type Bench, type Row } from './table.js';
import { uprobeEventsSkipReason } from '../test/lib/kernel.js';
import { CLI } from '../test/e2e/lib/runs.js';
import { buildLoopTarget, type LoopTarget } from '../test/e2e/lib/loop-target.js';
import { compile } from '../api/index.js';
import { BpfObject } from '../runtime/loader.js';
import { UPROBE_GROUP_ENV, UPROBE_MULTI_ENV, UprobeMultiLink, uprobeMultiProblem } from '../runtime/attach/index.js';

const SIZES = [1, 10, 50];
const RUNS = 3;

/** Register-only events; with `memory`, each also reads a word through %di (a sleepable program). */
const lines = (target: LoopTarget, n: number, memory = false): string[] =>
  Array.from({ length: n }, (_, i) => `p:bdetach/e${i} ${target.path}:kpb_tick i=%di${memory ? ' w=+0(%di):u64' : ''}`);

/** How the CLI attaches: perf events, a link per event, or shared links (the default); events reading memory or not. */
interface Way { readonly attach: 'perf' | 'link' | 'group'; readonly memory: boolean }

/** One CLI trace of the loop (3 calls); its detach phase in ms. */
function cliDetachMs(target: LoopTarget, n: number, way: Way): number {
  const args = ['trace', ...lines(target, n, way.memory).flatMap((l) => ['-e', l]), '-c', `${target.path} 3`];
  const env = { ...process.env, KPROBE_BPF_TIMING: '1', [UPROBE_MULTI_ENV]: way.attach === 'perf' ? '0' : '1', [UPROBE_GROUP_ENV]: way.attach === 'group' ? '1' : '0' };
  const r = spawnSync(CLI, args, { encoding: 'utf8', env, maxBuffer: 1 << 26 });
  const m = /kprobe-bpf timing: detach ([\d.]+) ms/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`trace of ${n} uprobes (${JSON.stringify(way)}) failed: ${r.stderr.slice(-2000)}`);
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
  name: `detach: N uprobes off, perf events vs a uprobe_multi link per event vs shared links (trace -c, detach phase, median of ${RUNS})`,
  async run(): Promise<Row[]> {
    const skip = uprobeEventsSkipReason() ?? uprobeMultiProblem(true);
    if (skip) return [{ skipped: skip }];
    const target = buildLoopTarget();
    try {
      const ways: Record<string, Way> = {
        perf: { attach: 'perf', memory: false },
        link: { attach: 'link', memory: false },
        group: { attach: 'group', memory: false },
        groupMem: { attach: 'group', memory: true },
      };
      return SIZES.map((n) => {
        const ms = new Map<string, number[]>(Object.keys(ways).map((k) => [k, []]));
        const one: number[] = [];
        for (let i = 0; i < RUNS; i++) {
          for (const [k, way] of Object.entries(ways)) ms.get(k)!.push(cliDetachMs(target, n, way));
          one.push(oneLinkDetachMs(target, n));
        }
        const m = (k: string): number => median(ms.get(k)!);
        return {
          uprobes: n,
          'perf events ms': m('perf'),
          'link per event ms': m('link'),
          'shared (default) ms': m('group'),
          'shared/per event': ratio(m('group'), m('link')),
          'default, reading memory ms': m('groupMem'),
          'one link, no dispatcher ms': median(one),
        };
      });
    } finally {
      target.cleanup();
    }
  },
};

export default bench;
