// num_possible_cpus() of the kernel this process runs on, for the maxactive
// a return kprobe is registered with (format.ts registeredMaxactive).
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Counts a cpulist such as "0-3,8" (the format of /sys/devices/system/cpu/possible). */
export function countCpuList(list: string): number {
  let n = 0;
  for (const part of list.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new RangeError(`not a cpulist: ${JSON.stringify(list)}`);
    n += (m[2] === undefined ? 0 : Number(m[2]) - Number(m[1])) + 1;
  }
  return n;
}

/** The possible CPUs from sysfs; without sysfs, the CPUs this process may use. */
export function possibleCpus(file = '/sys/devices/system/cpu/possible'): number {
  try {
    return countCpuList(readFileSync(file, 'utf8'));
  } catch {
    return availableParallelism();
  }
}
