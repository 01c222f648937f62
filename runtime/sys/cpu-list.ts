// The kernel's CPU lists (/sys/devices/system/cpu/{online,possible}), parsed
// once, in one place. A list may be sparse ("0,2-3"): the count of possible
// CPUs is the number of CPUs listed, not the highest one + 1.
import { readFileSync } from 'node:fs';

/** Parses a kernel cpu list ("0-3,5,7-8", kernel: cpulist_parse()) into CPU numbers. */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    if (!part) continue;
    const [a, b] = part.split('-');
    const lo = Number(a);
    const hi = b === undefined ? lo : Number(b);
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi < lo) throw new Error(`bad cpu list '${text.trim()}'`);
    for (let c = lo; c <= hi; c++) cpus.push(c);
  }
  return cpus;
}

/** CPUs that are online now: one perf ring per such CPU. */
export function onlineCpus(): number[] {
  return parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
}

let possible: number | undefined;

/**
 * How many CPUs are possible (kernel: num_possible_cpus()). A per-CPU map
 * value is copied as one 8-byte-aligned slot per possible CPU
 * (bpf_map_value_size()), so this sizes such values.
 */
export function possibleCpuCount(): number {
  possible ??= parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'utf8')).length;
  return possible;
}
