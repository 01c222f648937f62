// Shared by tests that touch global kernel state (tracefs, bpffs, perf events).
// tap runs test files in parallel, so such tests serialise on one lock, and
// each says why it skips when the kernel feature is truly absent.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

export const TRACEFS = '/sys/kernel/tracing';
const LOCK_DIR = '/tmp/kprobe-bpf-kernel.lock';

/** Why a kernel test cannot run here, or undefined when it can. */
export function rootSkipReason(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux, this is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'needs root (writes kernel tracing state)';
  return undefined;
}

/** Mounts tracefs if needed; returns a skip reason when tracing is unavailable. */
export function ensureTracefs(): string | undefined {
  const r = rootSkipReason();
  if (r) return r;
  if (!existsSync(`${TRACEFS}/README`)) {
    try {
      execFileSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS], { stdio: 'pipe' });
    } catch (e) {
      return `cannot mount tracefs at ${TRACEFS}: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  return undefined;
}

/** Reason uprobe_events is unusable, or undefined. */
export function uprobeEventsSkipReason(): string | undefined {
  const r = ensureTracefs();
  if (r) return r;
  if (!existsSync(`${TRACEFS}/uprobe_events`)) return 'kernel has no uprobe_events (CONFIG_UPROBE_EVENTS off)';
  return undefined;
}

function lockHolderAlive(): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(`${LOCK_DIR}/pid`, 'utf8'));
  } catch {
    return true; // released (or being released) right now: try again
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

/**
 * Runs fn while holding the machine-wide kernel-state lock. The lock is a
 * directory that appears with its holder's pid already inside (made aside,
 * then renamed into place: rename(2) is atomic and fails on an existing
 * non-empty directory), so no one ever sees a lock without its holder.
 */
export async function withKernelLock<T>(fn: () => Promise<T> | T): Promise<T> {
  for (;;) {
    const mine = mkdtempSync(`${LOCK_DIR}.new-`);
    writeFileSync(`${mine}/pid`, String(process.pid));
    try {
      renameSync(mine, LOCK_DIR);
      break;
    } catch (e) {
      rmSync(mine, { recursive: true, force: true });
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
      if (!lockHolderAlive()) rmSync(LOCK_DIR, { recursive: true, force: true });
      else await sleep(50);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}
