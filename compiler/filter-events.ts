// Which filter each event ends up with: the `if FILTER` of its definition
// line, then every `--filter` write in order, as the kernel applies writes to
// events/GRP/EVENT/filter and events/GRP/filter (a later write replaces an
// earlier one, `0` clears). Each text is checked against the event's own
// fields (its format), so a refusal is the kernel's error_log entry.
import type { ProbeDefinition } from '../grammar/ast.js';
import {
  applyGroupFilter, clearsFilter, compileFilter, FilterOptionError, FilterSyntaxError,
  type CheckedFilter, type CompileFilterOptions, type EventField, type FilterOption,
} from '../grammar/filter/index.js';
import type { EventFormat } from './abi.js';
import { layoutEvent } from './layout.js';

/** The filter writes of one input: per definition its `if` text, then the --filter options in order. */
export interface FilterWrites {
  readonly byDefinition: ReadonlyMap<ProbeDefinition, string>;
  readonly options: readonly FilterOption[];
}

/** An event a group filter did not fit: left unfiltered, as the kernel leaves it. */
export interface GroupFilterMiss {
  readonly event: string;
  readonly error: FilterSyntaxError;
}

export interface EventFilters {
  /** Per event (GRP/EVENT), its checked filter; events without one are absent. */
  readonly filters: ReadonlyMap<string, CheckedFilter>;
  readonly groupMisses: readonly GroupFilterMiss[];
}

export const eventKey = (group: string, event: string): string => `${group}/${event}`;

/** The fields a filter can name on an event: its probe fields and arguments, as its format file lists them. */
export function eventFieldsOf(format: EventFormat): EventField[] {
  return [...format.probeFields, ...format.argFields].map((f) => ({ name: f.name, type: f.ctype, offset: f.offset, size: f.size, signed: f.signed }));
}

/** Applies the writes in order; a refused event write throws the kernel's FilterSyntaxError. */
export function resolveEventFilters(defs: readonly ProbeDefinition[], writes: FilterWrites, options: CompileFilterOptions = {}): EventFilters {
  const fields = new Map(defs.map((d) => [eventKey(d.group, d.event), eventFieldsOf(layoutEvent(d))]));
  const filters = new Map<string, CheckedFilter>();
  const misses: GroupFilterMiss[] = [];
  const write = (key: string, text: string) => {
    if (clearsFilter(text)) filters.delete(key);
    else filters.set(key, compileFilter(text, fields.get(key)!, options));
  };
  for (const d of defs) {
    const text = writes.byDefinition.get(d);
    if (text !== undefined) write(eventKey(d.group, d.event), text);
  }
  for (const o of writes.options) {
    if (o.event !== undefined) {
      const key = eventKey(o.group, o.event);
      if (!fields.has(key)) throw new FilterOptionError(`--filter ${key}: no such event in the input`);
      write(key, o.filter);
      continue;
    }
    const group = new Map([...fields].filter(([k]) => k.startsWith(`${o.group}/`)).map(([k, f]) => [k, f]));
    if (group.size === 0) throw new FilterOptionError(`--filter ${o.group}: no event of group ${o.group} in the input`);
    if (clearsFilter(o.filter)) { for (const k of group.keys()) filters.delete(k); continue; }
    for (const [key, result] of applyGroupFilter(o.filter, group, options).events) {
      if (result instanceof FilterSyntaxError) { filters.delete(key); misses.push({ event: key, error: result }); } else filters.set(key, result);
    }
  }
  return { filters, groupMisses: misses };
}
