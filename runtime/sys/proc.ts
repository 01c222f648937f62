// Facts about this process read from /proc (CPUs: cpu-list.ts).
import { readdirSync, readlinkSync } from 'node:fs';

/** Open fds of this process, with where each points (/proc/self/fd). */
export function openFds(): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      out.set(Number(name), readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      // the fd readdir itself used is gone by now
    }
  }
  return out;
}

export function openFdCount(): number {
  return openFds().size;
}

/** perf event fds of this process (anon_inode:[perf_event]). */
export function perfEventFds(): number[] {
  return [...openFds()].filter(([, target]) => target === 'anon_inode:[perf_event]').map(([fd]) => fd);
}
