// A hist trigger with a stacktrace key, brought to the kernel's compound
// key: our map's key holds the task's whole stack from the BPF program
// down (STACK_KEY_FRAMES); the kernel's holds HIST_STACKTRACE_DEPTH frames
// from below the probe's dispatcher (runtime/stack-frames.ts). Each entry's
// stack is cut there and the key rebuilt in the kernel's layout (so its
// hash, and the table order that follows from it, are the kernel's); entries
// that become equal are one entry, as in the kernel's table (sums added,
// the first made kept).
import type { HistLayout, HistPlan } from '../../compiler/hist-layout.js';
import { HIST_STACKTRACE_DEPTH, keySizeOf } from '../../grammar/trigger/index.js';
import type { Kallsyms } from '../kallsyms.js';
import { framesOf, stackCut } from '../stack-frames.js';
import type { HistEntry } from './entries.js';

/** The kernel's key layout for the trigger (each key at its kernel offset). */
export function kernelKeyLayout(plan: HistPlan): HistLayout {
  const keyOffsets: number[] = [];
  let keySize = 0;
  for (const k of plan.trigger.keys) { keyOffsets.push(keySize); keySize += keySizeOf(k); }
  return { ...plan.layout, keyOffsets, keySize };
}

export function kernelStackEntries(plan: HistPlan, entries: readonly HistEntry[], ksyms: Kallsyms): { entries: HistEntry[]; layout: HistLayout } {
  const layout = kernelKeyLayout(plan);
  const byKey = new Map<string, HistEntry>();
  for (const e of entries) {
    const key = Buffer.alloc(layout.keySize);
    plan.trigger.keys.forEach((k, i) => {
      const from = plan.layout.keyOffsets[i]!;
      const to = layout.keyOffsets[i]!;
      if (k.source !== 'stacktrace') { e.key.copy(key, to, from, from + keySizeOf(k)); return; }
      const frames = framesOf(e.key, from, (plan.layout.keyOffsets[i + 1] ?? plan.layout.keySize) - from);
      const cut = stackCut(frames, ksyms);
      (cut ? frames.slice(cut.below) : frames).slice(0, HIST_STACKTRACE_DEPTH).forEach((f, j) => key.writeBigUInt64LE(f, to + 8 * j));
    });
    const id = key.toString('hex');
    const seen = byKey.get(id);
    if (!seen) { byKey.set(id, { ...e, key }); continue; }
    const first = seen.seq <= e.seq ? seen : e;
    byKey.set(id, { ...first, key, sums: seen.sums.map((s, j) => s + e.sums[j]!) });
  }
  return { entries: [...byKey.values()], layout };
}
