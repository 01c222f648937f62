// The tracer's one call into the hist printer: a function that writes every
// hist file to stdout as it reads now (kernel symbols loaded once, only when
// a key renders them).
import type { HistPlan } from '../../compiler/hist-layout.js';
import type { TraceMap } from '../trace-load.js';
import { histReport } from './report.js';
import type { HistSymbols } from './format.js';

export async function histPrinter(plans: readonly HistPlan[], maps: ReadonlyMap<string, TraceMap>): Promise<() => void> {
  const needSyms = plans.some((p) => p.trigger.keys.some((k) => k.modifier === 'sym' || k.modifier === 'sym-offset' || k.source === 'stacktrace'));
  const symbols: HistSymbols = needSyms ? { kallsyms: (await import('../kallsyms.js')).Kallsyms.load() } : {};
  return () => { process.stdout.write(histReport(plans, { fdOf: (name) => maps.get(name)?.fd }, symbols)); };
}
