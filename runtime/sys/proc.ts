// Facts about this process and machine read from /proc and /sys.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

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

/** Parses a kernel cpu list ("0-3,5,7-8") as /sys/devices/system/cpu/online prints it. */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    if (!part) continue;
    const [a, b] = part.split('-');
    const lo = Number(a);
    const hi = b === undefined ? lo : Number(b);
    for (let c = lo; c <= hi; c++) cpus.push(c);
  }
  return cpus;
}

/** CPUs that are online now: one perf ring per such CPU. */
export function onlineCpus(): number[] {
  return parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
}
