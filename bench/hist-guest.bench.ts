// The kernel's own hist trigger against kprobe-bpf's, per hit, in the 6.1
// test guest (this host has no CONFIG_HIST_TRIGGERS): one guest boot runs
// bench/hist-guest.sh, which times the same dd workload (one vfs_read per
// byte) with `hist:keys=common_pid:vals=hitcount` on a kprobe on vfs_read
// written to the kernel's trigger file, with `kprobe-bpf trace --trigger
// ... --no-trace`, and with kprobe-bpf printing every hit, interleaved,
// fastest of three each. QEMU TCG inflates every number alike: the ratios
// are the result. No guest images: a skipped row.
import { fileURLToPath } from 'node:url';
import type { Bench, Row } from './table.js';

const N = 20000;

const bench: Bench = {
  name: `hist trigger per-hit cost in the 6.1 guest (kprobe on vfs_read, ${N.toLocaleString('en-US')} dd reads, fastest of 3)`,
  async run(): Promise<Row[]> {
    const { BOOKWORM, REPO_ROOT, readImages } = await import('../test/vm/images.js');
    const images = readImages(BOOKWORM.manifest);
    if (!images) return [{ skipped: 'no 6.1 guest images (build/vm/guest.json: make vm)' }];
    const { runInGuest, guestEnv } = await import('../test/vm/harness.js');
    const script = fileURLToPath(new URL('../../bench/hist-guest.sh', import.meta.url));
    const r = await runInGuest({ command: ['/bin/sh', script], cwd: REPO_ROOT, timeoutMs: 900_000, env: guestEnv({ N: String(N) }), images });
    const runs = new Map<string, number[]>();
    const hits = new Map<string, string>();
    for (const line of r.stdout.split('\n')) {
      const m = /^(\S+) ([0-9.]+)$/.exec(line);
      if (m) runs.set(m[1]!, [...(runs.get(m[1]!) ?? []), Number(m[2])]);
      const h = /^(kernel|ours)-hits Hits: (\d+)$/.exec(line);
      if (h) hits.set(h[1]!, h[2]!);
    }
    if (!runs.has('kernel-hist')) return [{ skipped: `the guest run failed (exit ${r.exitCode}): ${(r.stderr || r.consoleTail).slice(0, 300)}` }];
    const base = Math.min(...(runs.get('baseline') ?? [NaN]));
    const perHit = (name: string): number => ((Math.min(...(runs.get(name) ?? [NaN])) - base) / N) * 1e9;
    const kernel = perHit('kernel-hist');
    const rows: Row[] = [{ tracer: 'no probe (dd alone)', 'dd s': base, 'ns per hit': 0, 'hits counted': '-' }];
    const label: Record<string, string> = {
      'kernel-hist': "kernel's hist trigger", 'kprobe-bpf-hist': 'kprobe-bpf hist --no-trace', 'kprobe-bpf-print': 'kprobe-bpf, every hit printed',
    };
    for (const name of ['kernel-hist', 'kprobe-bpf-hist', 'kprobe-bpf-print']) {
      rows.push({
        tracer: label[name]!, 'dd s': Math.min(...(runs.get(name) ?? [NaN])), 'ns per hit': perHit(name),
        'hits counted': name === 'kernel-hist' ? hits.get('kernel') ?? '?' : name === 'kprobe-bpf-hist' ? hits.get('ours') ?? '?' : '-',
        'vs kernel hist': perHit(name) / kernel,
      });
    }
    return rows;
  },
};
export default bench;
