// The hist files of a trace: every hist trigger's map read and printed as
// `cat events/GRP/EVENT/hist` prints it, grouped per event in the order the
// triggers were written; with several events, each file is headed
// `==> events/GRP/EVENT/hist <==` and followed by an empty line, as head(1)
// prints several files.
import type { HistPlan } from '../../compiler/hist-layout.js';
import { HIST_DROPS_MAP, histMapName, shownTrigger, tablePlan } from '../../compiler/hist-layout.js';
import { mapLookupPerCpuU64Sum } from '../sys/index.js';
import { decodeEntries } from './entries.js';
import { histTable, type HistSymbols } from './format.js';
import { readHashMap, readPerCpuHashMap } from './map-read.js';
import { sortEntries } from './order.js';
import { kernelStackEntries } from './stack-key.js';
import { emptyKallsyms } from '../kallsyms.js';
import { sortVariantFor } from './kernel-sort.js';
import { release } from 'node:os';

export interface HistMaps {
  /** A map's fd by name (the loaded object's maps). */
  fdOf(name: string): number | undefined;
}

/** The running kernel's sort (ties print in its order). */
const VARIANT = sortVariantFor(release());

/** The events with hist triggers, each with its triggers in order. */
export function histFiles(plans: readonly HistPlan[]): Map<string, HistPlan[]> {
  const files = new Map<string, HistPlan[]>();
  for (const p of plans) {
    const key = `${p.group}/${p.event}`;
    files.set(key, [...(files.get(key) ?? []), p]);
  }
  return files;
}

/** One event's hist file now. */
export function histFileText(plans: readonly HistPlan[], maps: HistMaps, s: HistSymbols): string {
  const drops = maps.fdOf(HIST_DROPS_MAP);
  return plans.map((p, n) => {
    // a named trigger prints the table it shares (kernel: one hist_data for every trigger of the name)
    const table = tablePlan(p);
    const shown = shownTrigger(p);
    const fd = maps.fdOf(histMapName(table.index));
    if (fd === undefined) throw new Error(`object has no ${histMapName(table.index)} map`);
    const raw = table.sums === 'percpu' ? readPerCpuHashMap(fd, table.layout.keySize, table.layout.valueSize, table.layout.commOffset) : readHashMap(fd, table.layout.keySize, table.layout.valueSize);
    let entries = decodeEntries(raw, shown, table.layout);
    let plan: HistPlan = { ...table, trigger: shown };
    if (shown.keys.some((k) => k.source === 'stacktrace')) {
      const cut = kernelStackEntries(plan, entries, s.kallsyms ?? emptyKallsyms());
      entries = cut.entries;
      plan = { ...plan, layout: cut.layout };
    }
    const sorted = sortEntries(entries, plan.trigger, plan.layout, VARIANT);
    return histTable(plan, sorted, drops === undefined ? 0n : mapLookupPerCpuU64Sum(drops, table.index), s, n);
  }).join('');
}

/** Every hist file of the trace, headed per file when there are several. */
export function histReport(plans: readonly HistPlan[], maps: HistMaps, s: HistSymbols): string {
  const files = histFiles(plans);
  if (files.size === 1) return histFileText([...files.values()][0]!, maps, s);
  return [...files].map(([name, ps]) => `==> events/${name}/hist <==\n${histFileText(ps, maps, s)}\n`).join('');
}
