// A private bpffs for pinning: each mount of bpffs is its own instance, so a
// test that pins programs (bpftool prog loadall) mounts one in a temporary
// directory and unmounts it after, instead of relying on /sys/fs/bpf being
// mounted (a fresh machine may not have it) or mounting and unmounting that
// shared one under other test files running in parallel.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Mounts a new bpffs instance in a fresh temporary directory; its path. */
function mountPrivate(): string {
  const root = mkdtempSync(join(tmpdir(), 'kprobe-bpf-bpffs-'));
  try {
    execFileSync('mount', ['-t', 'bpf', 'bpf', root], { stdio: 'pipe' });
  } catch (e) {
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
  return root;
}

function unmountPrivate(root: string): void {
  try {
    execFileSync('umount', [root], { stdio: 'pipe' });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Runs fn with the root of a bpffs instance of its own; it is unmounted and removed afterwards, whatever fn does. */
export async function withBpffs<T>(fn: (root: string) => T | Promise<T>): Promise<T> {
  const root = mountPrivate();
  try {
    return await fn(root);
  } finally {
    unmountPrivate(root);
  }
}

/** withBpffs for synchronous callers. */
export function withBpffsSync<T>(fn: (root: string) => T): T {
  const root = mountPrivate();
  try {
    return fn(root);
  } finally {
    unmountPrivate(root);
  }
}
