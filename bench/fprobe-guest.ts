// Per-hit cost of a BTF kprobe on vfs_read in the Debian 6.12 guest
// (`p vfs_read file count`): compiled to an fentry program (the default),
// against the same line compiled to a kprobe program (KPROBE_BPF_TRAMPOLINE=0),
// an `f` event, and the kernel's own fprobe event, on the same workload in one
// guest run (bench/fprobe-guest.sh), as ratios to the fentry program. QEMU
// TCG inflates every number alike; the ratios are the result. Part of
// `make bench` (bench/run.ts: fprobe); a skipped row without the 6.12 images.
//   node dist/bench/run.js fprobe        (host; boots the 6.12 guest once)
import { fileURLToPath } from 'node:url';
import type { Bench, Row } from './table.js';
import { runInGuest, guestEnv } from '../test/vm/harness.js';
import { BACKPORTS, REPO_ROOT, readImages } from '../test/vm/images.js';

const N = 100_000;
const VARIANTS: readonly (readonly [string, string])[] = [
  ['fentry', 'kprobe-bpf: p vfs_read file count (fentry program)'],
  ['kprobe', 'kprobe-bpf: the same line as a kprobe program (KPROBE_BPF_TRAMPOLINE=0)'],
  ['fprobe', 'kprobe-bpf: f vfs_read file count (fentry program)'],
  ['kernel-fprobe', 'kernel: f vfs_read file count (its fprobe event, recording)'],
];

/** "ROUND NAME SECONDS" lines of the guest script: each round's seconds per name (a name twice in a round: its runs). */
export function parseRuns(stdout: string): Map<number, Map<string, number[]>> {
  const rounds = new Map<number, Map<string, number[]>>();
  for (const line of stdout.split('\n')) {
    const m = /^(\d+) (\S+) ([0-9.]+)$/.exec(line);
    if (!m) continue;
    const round = rounds.get(Number(m[1])) ?? new Map<string, number[]>();
    rounds.set(Number(m[1]), round);
    round.set(m[2]!, [...(round.get(m[2]!) ?? []), Number(m[3])]);
  }
  return rounds;
}

/**
 * One row per variant: per round its run less the mean of that round's
 * unprobed runs, per hit; the median over rounds; and its ratio to the
 * fentry program's median.
 */
export function rowsOf(rounds: ReadonlyMap<number, ReadonlyMap<string, readonly number[]>>, hits: number): Row[] {
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const perHit = (name: string): number => median([...rounds.values()].flatMap((r) => {
    const base = r.get('baseline');
    const run = r.get(name);
    return base?.length && run?.length ? [((mean(run) - mean(base)) / hits) * 1e9] : [];
  }));
  const fentry = perHit('fentry');
  return VARIANTS.map(([name, what]) => {
    const ns = perHit(name);
    return { probe: what, 'ns/hit': Number.isFinite(ns) ? Math.round(ns) : 'no run', 'x fentry': Number.isFinite(ns / fentry) ? Number((ns / fentry).toFixed(2)) : '-' };
  });
}

const bench: Bench = {
  name: `BTF kprobe on vfs_read in the 6.12 guest (TCG): fentry vs kprobe program vs the kernel's fprobe, ${N.toLocaleString('en-US')} hits a run, median of 3 rounds`,
  async run(): Promise<Row[]> {
    const images = readImages(BACKPORTS.manifest);
    if (!images) return [{ probe: `skipped: no 6.12 guest images (${BACKPORTS.manifest}; make vm612)` }];
    const script = fileURLToPath(new URL('../../bench/fprobe-guest.sh', import.meta.url));
    const r = await runInGuest({ command: ['/bin/sh', script], cwd: REPO_ROOT, timeoutMs: 1_200_000, env: guestEnv({ N: String(N) }), images });
    if (r.exitCode !== 0) process.stderr.write(`fprobe bench: guest exit ${r.exitCode}\n${r.stderr}\n${r.consoleTail}\n`);
    return rowsOf(parseRuns(r.stdout), N);
  },
};
export default bench;
