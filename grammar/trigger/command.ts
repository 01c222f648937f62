// One write to an event's `trigger` file (kernel: trace_events_trigger.c
// trigger_process_regex): the command word up to the first ':', space or
// tab, then its parameters and filter, parsed by the command's own rules.
import type { EventField, FilterRules } from '../filter/index.js';
import { kstrtoul } from '../kstrto.js';
import type { CountTrigger, EventTrigger } from './ast.js';
import { EINVAL, silentError } from './errors.js';
import { parseHistTrigger, triggerFilter } from './hist.js';
import type { HistVariable } from './hist-field.js';
import { TriggerUnsupportedError } from './unsupported.js';

/** kernel: the commands registered with register_event_command. */
const OTHER_COMMANDS = ['snapshot', 'enable_event', 'disable_event', 'enable_hist', 'disable_hist'];

export interface TriggerParseOptions {
  readonly group: string;
  readonly event: string;
  readonly fields: readonly EventField[];
  readonly rules: FilterRules;
  /** Variables the hist triggers written before define (kernel: tr->hist_vars). */
  readonly variables?: readonly HistVariable[];
}

const skipSpaces = (s: string): string => s.replace(/^[ \t\n\v\f\r]+/, '');

/**
 * kernel: event_trigger_parse for stacktrace/traceon/traceoff — an optional
 * count (a parameter only when it starts with a digit), then `if FILTER`.
 */
function parseCountTrigger(kind: CountTrigger['kind'], paramAndFilter: string | undefined, o: TriggerParseOptions): CountTrigger {
  let param: string | undefined;
  let filter: string | undefined;
  if (paramAndFilter !== undefined) {
    if (!/^[0-9]/.test(paramAndFilter)) filter = paramAndFilter;
    else {
      const m = /^([^ \t]*)(?:[ \t]([\s\S]*))?$/.exec(paramAndFilter)!;
      param = m[1]!;
      if (m[2] !== undefined) { const f = skipSpaces(m[2]); if (f !== '') filter = f; }
    }
  }
  let count: bigint | undefined;
  if (param !== undefined) {
    const number = param.split(':')[0]!;
    if (number === '') throw silentError(EINVAL);
    count = kstrtoul(number, 0);
    if (count === undefined) throw silentError(EINVAL);
  }
  const checked = filter === undefined ? undefined : triggerFilter(filter, o.fields, o.rules);
  return { kind, ...(count !== undefined ? { count } : {}), ...(checked ? { filter: checked } : {}) };
}

/** What writing `text` to events/GRP/EVENT/trigger makes, or the kernel's refusal. */
export function parseEventTrigger(text: string, o: TriggerParseOptions): EventTrigger {
  const buff = skipSpaces(text.trim());
  const m = /^([^: \t]*)(?:[: \t]([\s\S]*))?$/.exec(buff)!;
  const command = m[1]!;
  let next = m[2] === undefined ? undefined : skipSpaces(m[2]);
  if (next === '') next = undefined;
  if (command.startsWith('!')) throw new TriggerUnsupportedError(`${command}: removing a trigger`);
  switch (command) {
    case 'hist': return parseHistTrigger(next, o);
    case 'stacktrace': case 'traceon': case 'traceoff': return parseCountTrigger(command, next, o);
    default:
      if (OTHER_COMMANDS.includes(command)) throw new TriggerUnsupportedError(`the ${command} trigger`);
      throw silentError(EINVAL);
  }
}
