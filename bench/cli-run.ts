// Whole-process runs of the CLI, as users start it, for the benches that time
// them against bpftrace (startup, loss): the installed bin's command, one run
// under time(1) (CPU, peak RSS, a marker counted on stdout), whether the peer
// is there.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DIST_CLI = join(ROOT, 'dist/bin/cli.js');
const BUNDLE_CLI = join(ROOT, 'dist/bundle/cli.js');
export const TIME = '/usr/bin/time';

/**
 * How the installed bin starts, less the node binary: the bundle when built
 * and not older than dist/ (bin/kprobe-bpf's rule), after the flags its
 * shebang gives Node (`#!/usr/bin/env -S node FLAGS`).
 */
export function installedCli(): { readonly args: readonly string[]; readonly label: 'bundle' | 'dist' } {
  const fresh = existsSync(BUNDLE_CLI) && statSync(BUNDLE_CLI).mtimeMs >= statSync(DIST_CLI).mtimeMs;
  const entry = fresh ? BUNDLE_CLI : DIST_CLI;
  const shebang = readFileSync(entry, 'utf8').split('\n', 1)[0]!;
  const flags = /^#!\/usr\/bin\/env -S node(.*)$/.exec(shebang)?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
  return { args: [...flags, entry], label: fresh ? 'bundle' : 'dist' };
}

export interface Measured {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly rssKiB: number;
  /** KPROBE_BPF_TIMING=1's phases (lib/timing.ts), ms by name. */
  readonly phases: ReadonlyMap<string, number>;
  /** Occurrences of the `count` marker in stdout (when asked). */
  readonly counted: number;
  readonly stderr: string;
}

/** Occurrences of `marker` in a byte stream, also across chunk boundaries. */
function markerCounter(marker: string): { add(chunk: Buffer): void; readonly n: number } {
  const m = Buffer.from(marker);
  let n = 0;
  let tail = Buffer.alloc(0);
  return {
    add(chunk) {
      const b = tail.length ? Buffer.concat([tail, chunk]) : chunk;
      for (let at = b.indexOf(m); at >= 0; at = b.indexOf(m, at + m.length)) n++;
      tail = Buffer.from(b.subarray(Math.max(0, b.length - (m.length - 1))));
    },
    get n() { return n; },
  };
}

/** Runs argv under time(1) (CPU, peak RSS), stdout discarded or its `count` markers counted; wall from our clock. */
export function measure(argv: readonly string[], env: NodeJS.ProcessEnv, dir: string, count?: string): Promise<Measured> {
  const stats = join(dir, 'time.txt');
  const t0 = process.hrtime.bigint();
  const child = spawn(TIME, ['-f', '%U %S %M', '-o', stats, ...argv], { stdio: ['ignore', count ? 'pipe' : 'ignore', 'pipe'], env });
  const counter = count ? markerCounter(count) : undefined;
  if (counter) child.stdout!.on('data', (d: Buffer) => counter.add(d));
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) return reject(new Error(`${argv.join(' ')} exited ${code}: ${stderr}`));
      const [u, s, m] = readFileSync(stats, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
      const phases = new Map<string, number>();
      for (const mm of stderr.matchAll(/^kprobe-bpf timing: (.+) ([\d.]+) ms, rss [\d.]+ MiB$/gm)) phases.set(mm[1]!, Number(mm[2]));
      resolve({ wallMs, cpuMs: (u! + s!) * 1000, rssKiB: m!, phases, counted: counter?.n ?? 0, stderr });
    });
  });
}

export const haveBpftrace = (): boolean => {
  try {
    execFileSync('bpftrace', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
