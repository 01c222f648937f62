// What the kernel prints for a trigger: `# trigger info:` in the hist file
// and the trigger file's line (kernel: event_hist_trigger_print,
// hist_field_print, event_trigger_print).
import { filterReadback } from '../filter/syntax.js';
import type { CountTrigger, HistField, HistTrigger } from './ast.js';

/** kernel: hist_field_print. */
export function histFieldText(f: HistField): string {
  if (f.source === 'stacktrace') return f.name;
  let s = f.varName !== undefined ? `${f.varName}=` : '';
  s += f.source === 'const' ? `${f.constant}` : f.name;
  // an expression's flags are spelled in its name already
  if (f.source !== 'expr') {
    if (f.modifier) s += `.${f.modifier}`;
    else if (f.usecs) s += '.usecs';
  }
  if (f.buckets !== undefined) s += `=${f.buckets}`;
  return s;
}

/** kernel: event_hist_trigger_print, with its final newline. */
export function histTriggerInfo(t: HistTrigger): string {
  const fields = [...t.vals, ...t.keys];
  const sort = t.sort.map((k) => (k.index === 0 ? 'hitcount' : histFieldText(fields[k.index - 1]!)) + (k.descending ? '.descending' : '')).join(',');
  return `hist:${t.name !== undefined ? `${t.name}:` : ''}keys=${t.keys.map(histFieldText).join(',')}`
    + `:vals=${['hitcount', ...t.vals.map(histFieldText)].join(',')}`
    + (t.vars.length > 0 ? `:${t.vars.map(histFieldText).join(',')}` : '')
    + `:sort=${sort}:size=${1 << t.mapBits}${t.timestamps ? `:clock=${t.clock}` : ''}`
    + `${t.filter ? ` if ${filterReadback(t.filter.text)}` : ''}${t.pause ? ' [paused]' : ' [active]'}\n`;
}

/** kernel: event_trigger_print — `traceon:unlimited`, `stacktrace:count=3 if ...`. */
export function countTriggerInfo(t: CountTrigger): string {
  return `${t.kind}:${t.count === undefined ? 'unlimited' : `count=${t.count}`}${t.filter ? ` if ${filterReadback(t.filter.text)}` : ''}\n`;
}
