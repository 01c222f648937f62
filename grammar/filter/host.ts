// What a filter check needs from the machine it targets, beyond the event's
// fields: nr_cpu_ids for CPUS{} lists, and kallsyms for FIELD.function.
import { cpus } from 'node:os';
import { readFileSync } from 'node:fs';

export interface FilterHost {
  /** kernel: nr_cpu_ids (a CPUS{} list naming a CPU at or above it is refused). */
  readonly nrCpuIds: number;
  /** kernel: kallsyms_lookup_name; undefined where it returns 0. */
  readonly symbolAddress?: (name: string) => bigint | undefined;
  /** kernel: kallsyms_lookup_size_offset: the symbol that contains addr. */
  readonly functionAt?: (addr: bigint) => { readonly start: bigint; readonly size: bigint } | undefined;
}

/** nr_cpu_ids from /sys/devices/system/cpu/possible ("0-N"), else the online count. */
function possibleCpus(): number {
  try {
    const m = /(\d+)\s*$/.exec(readFileSync('/sys/devices/system/cpu/possible', 'utf8'));
    if (m) return Number(m[1]) + 1;
  } catch { /* not Linux: fall back */ }
  return cpus().length;
}

/** This machine, without kallsyms (every FIELD.function lookup fails unless given a table). */
export const localFilterHost = (): FilterHost => ({ nrCpuIds: possibleCpus() });

/** A kallsyms view from /proc/kallsyms-format text ("ADDR TYPE NAME [module]"). */
export function kallsymsHost(text: string, nrCpuIds: number): FilterHost {
  const byName = new Map<string, bigint>();
  const addrs: bigint[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+) (\S) (\S+)/.exec(line);
    if (!m) continue;
    const addr = BigInt(`0x${m[1]}`);
    if (addr === 0n) continue;
    if (!byName.has(m[3]!)) byName.set(m[3]!, addr);
    addrs.push(addr);
  }
  const sorted = [...new Set(addrs)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const functionAt = (addr: bigint) => {
    let lo = 0, hi = sorted.length - 1, found = -1;
    while (lo <= hi) { const mid = (lo + hi) >> 1; if (sorted[mid]! <= addr) { found = mid; lo = mid + 1; } else hi = mid - 1; }
    if (found < 0 || found + 1 >= sorted.length) return undefined;
    return { start: sorted[found]!, size: sorted[found + 1]! - sorted[found]! };
  };
  return { nrCpuIds, symbolAddress: (name) => byName.get(name), functionAt };
}
