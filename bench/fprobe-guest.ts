// Per-hit cost of a probe on vfs_read in the Debian 6.12 guest: kprobe-bpf's
// fentry program against its kprobe program and the kernel's own fprobe
// event, one run each on the same workload (bench/fprobe-guest.sh), as a
// ratio. QEMU TCG inflates every number alike; the ratios are the result.
//   node dist/bench/fprobe-guest.js        (host; boots the 6.12 guest once)
import { fileURLToPath } from 'node:url';
import { runInGuest, guestEnv } from '../test/vm/harness.js';
import { BACKPORTS, REPO_ROOT, readImages } from '../test/vm/images.js';

const N = 20000;
const images = readImages(BACKPORTS.manifest);
if (!images) throw new Error('no 6.12 guest images (make vm612)');
const script = fileURLToPath(new URL('../../bench/fprobe-guest.sh', import.meta.url));
const r = await runInGuest({ command: ['/bin/sh', script], cwd: REPO_ROOT, timeoutMs: 900_000, env: guestEnv({ N: String(N) }), images });
const runs = new Map<string, number[]>();
for (const line of r.stdout.split('\n')) {
  const m = /^(\S+) ([0-9.]+)$/.exec(line);
  if (m) runs.set(m[1]!, [...(runs.get(m[1]!) ?? []), Number(m[2])]);
}
const base = Math.min(...(runs.get('baseline') ?? [NaN]));
const perHit = (name: string): number => (Math.min(...(runs.get(name) ?? [NaN])) - base) / N * 1e9;
const fentry = perHit('fentry');
process.stdout.write(`vfs_read hits: ${N} per run, baseline ${base.toFixed(3)} s (guest, TCG)\n`);
for (const name of ['fentry', 'kprobe', 'kernel-fprobe']) {
  const ns = perHit(name);
  process.stdout.write(`${name.padEnd(14)} ${ns.toFixed(0).padStart(8)} ns/hit  ${(ns / fentry).toFixed(2)}x fentry\n`);
}
if (r.exitCode !== 0) process.stderr.write(`guest exit ${r.exitCode}\n${r.stderr}\n${r.consoleTail}\n`);
