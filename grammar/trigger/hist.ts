// A `hist:` trigger as the kernel's event_hist_trigger_parse reads it:
// split off `if FILTER`, rewrite `.sym-offset`, read the `:`-separated
// attributes (parse_hist_trigger_attrs), then the values, keys and sort keys
// in the kernel's order, each refusal with the kernel's text and caret.
import { compileFilter, FilterSyntaxError, type CheckedFilter, type EventField, type FilterRules } from '../filter/index.js';
import { kstrtoul } from '../kstrto.js';
import {
  HIST_KEY_SIZE_MAX, HIST_STACKTRACE_DEPTH, TRACING_MAP, type HistField, type HistSortKey, type HistTrigger,
} from './ast.js';
import { EINVAL, errPos, histError, silentError } from './errors.js';
import { atLeast, parseHistField, type HistContext, type HistVariable } from './hist-field.js';
import { isStacktraceKey, stacktraceKeyName } from './command-stacktrace.js';
import { TriggerUnsupportedError } from './unsupported.js';

/** kernel: HIST_PREFIX. */
export const HIST_PREFIX = 'hist:';

/** The trigger part and the filter part of `PARAMS [if FILTER]`, or the kernel's EINVAL. */
export function separateHistFilter(paramAndFilter: string): { param: string; filter?: string } {
  const s = paramAndFilter;
  let p = 0;
  for (;;) {
    p = s.indexOf('if', p);
    if (p < 0) return { param: s };
    if (p === 0) throw silentError(EINVAL);
    const before = s[p - 1];
    if (before !== ' ' && before !== '\t') { p++; continue; }
    if (p >= s.length - 2 - 1) throw silentError(EINVAL);
    const after = s[p + 2];
    if (after !== ' ' && after !== '\t') { p++; continue; }
    return { param: s.slice(0, p - 1).trim(), filter: s.slice(p).trim() };
  }
}

/**
 * kernel: set_trigger_filter — `if` then the filter, compiled against the
 * event's fields. Up to 6.1 with create_event_filter(..., set_str = false):
 * a refused trigger filter is logged nowhere, the write only fails; from
 * 6.2 ("Have trigger filter parsing errors show up in error_log") it is
 * logged as an event filter's (seen on the 6.1 and 6.12 guests).
 */
export function triggerFilter(filter: string, fields: readonly EventField[], rules: FilterRules): CheckedFilter {
  const m = /^([^ \t]*)[ \t]?([\s\S]*)$/.exec(filter)!;
  if (m[1] !== 'if' || m[2] === '') throw silentError(EINVAL);
  try {
    return compileFilter(m[2]!, fields, { rules });
  } catch (e) {
    if (e instanceof FilterSyntaxError && !atLeast(rules.version, [6, 2])) throw silentError(e.errno, e.message);
    throw e;
  }
}

interface Attrs {
  keys?: string;
  vals?: string;
  sort?: string;
  name?: string;
  clock?: string;
  mapBits?: number;
  pause: boolean;
  cont: boolean;
  clear: boolean;
  assignments: string[];
  actions: string[];
}

/** kernel: parse_map_size. */
function mapBitsOf(text: string): number {
  const size = kstrtoul(text, 0);
  if (size === undefined) throw silentError(EINVAL);
  // roundup_pow_of_two then ilog2: the bit length of size - 1 (0 and 1 give 0)
  const bits = size <= 1n ? 0 : (size - 1n).toString(2).length;
  if (bits < TRACING_MAP.BITS_MIN || bits > TRACING_MAP.BITS_MAX) throw silentError(EINVAL);
  return bits;
}

/** kernel: parse_hist_trigger_attrs (+ parse_assignment, parse_action). */
function parseAttrs(ctx: HistContext, param: string): Attrs {
  const a: Attrs = { pause: false, cont: false, clear: false, assignments: [], actions: [] };
  for (const str of param.split(':')) {
    const eq = str.indexOf('=');
    if (eq >= 0) {
      if (eq === str.length - 1) throw histError('EMPTY_ASSIGNMENT', ctx.location, ctx.command, errPos(ctx.command, str));
      const rhs = (prefix: string) => str.slice(prefix.length);
      if (str.startsWith('key=')) a.keys = rhs('key=');
      else if (str.startsWith('keys=')) a.keys = rhs('keys=');
      else if (str.startsWith('val=')) a.vals = rhs('val=');
      else if (str.startsWith('vals=')) a.vals = rhs('vals=');
      else if (str.startsWith('values=')) a.vals = rhs('values=');
      else if (str.startsWith('sort=')) a.sort = rhs('sort=');
      else if (str.startsWith('name=')) a.name = str;
      else if (str.startsWith('clock=')) a.clock = rhs('clock=').trim();
      else if (str.startsWith('size=')) a.mapBits = mapBitsOf(rhs('size='));
      else {
        if (a.assignments.length === TRACING_MAP.VARS_MAX) throw histError('TOO_MANY_VARS', ctx.location, ctx.command, errPos(ctx.command, str));
        a.assignments.push(str);
      }
    } else if (str === 'pause') a.pause = true;
    else if (str === 'cont' || str === 'continue') a.cont = true;
    else if (str === 'clear') a.clear = true;
    else if ((str === 'nohitcount' || str === 'NOHC') && atLeast(ctx.rules.version, [6, 3])) throw new TriggerUnsupportedError(`${str}: tables without hitcount`);
    else if (str.startsWith('onmatch(') || str.startsWith('onmax(') || str.startsWith('onchange(')) a.actions.push(str);
    else throw silentError(EINVAL);
  }
  if (a.keys === undefined) throw silentError(EINVAL);
  return a;
}

/** kernel: parse_var_defs — every `NAME=EXPR`, comma-separated, at most TRACING_MAP_VARS_MAX. */
function varDefs(ctx: HistContext, assignments: readonly string[]): { name: string; expr: string }[] {
  const out: { name: string; expr: string }[] = [];
  for (const s of assignments) {
    for (const def of s.split(',').slice(0, TRACING_MAP.VARS_MAX)) {
      const eq = def.indexOf('=');
      if (eq < 0) throw histError('MALFORMED_ASSIGNMENT', ctx.location, ctx.command, errPos(ctx.command, def));
      if (out.length === TRACING_MAP.VARS_MAX) throw histError('TOO_MANY_VARS', ctx.location, ctx.command, errPos(ctx.command, def.slice(0, eq)));
      out.push({ name: def.slice(0, eq), expr: def.slice(eq + 1) });
    }
  }
  return out;
}

/**
 * kernel: __create_val_field's refusal of modifiers a sum or a variable
 * cannot take, at the value's text (the 6.1 guest refuses `vals=b.log2`,
 * `vals=b.sym` and `x=b.log2` alike: variables are checked as values).
 */
function checkValueModifier(ctx: HistContext, f: HistField, text: string): void {
  const refused = ['log2', 'buckets', 'sym', 'sym-offset', 'syscall'];
  if (f.modifier !== undefined && refused.includes(f.modifier)) throw histError('BAD_FIELD_MODIFIER', ctx.location, ctx.command, errPos(ctx.command, text));
}

/** kernel: create_var_fields — each definition parsed as a value named NAME; a name already defined here or on the event is refused. */
function varFields(ctx: HistContext, defs: readonly { name: string; expr: string }[], eventVars: readonly string[]): HistField[] {
  const out: HistField[] = [];
  for (const d of defs) {
    if (out.some((v) => v.varName === d.name) || eventVars.includes(d.name)) throw histError('DUPLICATE_VAR', ctx.location, ctx.command, errPos(ctx.command, d.name));
    const f = parseHistField(ctx, d.expr, 'var', d.name);
    checkValueModifier(ctx, f, d.expr);
    out.push(f);
  }
  return out;
}

/** kernel: create_val_fields — hitcount first, then at most two more; `hitcount` is skipped where it appears. */
function valFields(ctx: HistContext, vals: string | undefined): HistField[] {
  const out: HistField[] = [];
  if (vals === undefined) return out;
  const parts = vals.split(',');
  let i = 0;
  for (; i < TRACING_MAP.VALS_MAX && out.length + 1 < TRACING_MAP.VALS_MAX && i < parts.length; i++) {
    const p = parts[i]!;
    if (p === 'hitcount') continue;
    const f = parseHistField(ctx, p, 'val');
    checkValueModifier(ctx, f, p);
    if (f.string) throw new TriggerUnsupportedError(`${p}: a string as a hist value`);
    out.push(f);
  }
  const rest = parts.slice(i);
  if (rest.length > 0 && rest.join(',') !== 'hitcount') throw silentError(EINVAL);
  return out;
}

/** kernel: create_key_fields — at most three keys, each 8-byte aligned, the whole key at most HIST_KEY_SIZE_MAX. */
function keyFields(ctx: HistContext, keys: string): HistField[] {
  const out: HistField[] = [];
  let keySize = 0;
  const parts = keys.split(',');
  for (const p of parts.slice(0, TRACING_MAP.KEYS_MAX)) {
    const f: HistField = isStacktraceKey(p, ctx.rules)
      ? { source: 'stacktrace', name: stacktraceKeyName(ctx.rules), string: false, size: HIST_STACKTRACE_DEPTH * 8, signed: false }
      : parseHistField(ctx, p, 'key');
    keySize += keySizeOf(f);
    if (keySize > HIST_KEY_SIZE_MAX) throw silentError(EINVAL);
    out.push(f);
  }
  if (parts.length > TRACING_MAP.KEYS_MAX) throw silentError(EINVAL);
  return out;
}

/** The bytes a key takes in the compound key (kernel: create_key_field, ALIGN(size, 8); numbers as u64). */
export function keySizeOf(f: HistField): number {
  if (f.source === 'stacktrace') return HIST_STACKTRACE_DEPTH * 8;
  if (f.string) return Math.ceil(f.size / 8) * 8;
  return 8;
}

/** kernel: is_descending. */
function descending(ctx: HistContext, mod: string | undefined): boolean {
  if (mod === undefined || mod === 'ascending') return false;
  if (mod === 'descending') return true;
  throw histError('INVALID_SORT_MODIFIER', ctx.location, ctx.command, errPos(ctx.command, mod));
}

/** kernel: create_sort_keys — hitcount, or a value or key by its hist_field_name. */
function sortKeys(ctx: HistContext, text: string | undefined, vals: readonly HistField[], keys: readonly HistField[]): HistSortKey[] {
  if (text === undefined) return [{ index: 0, descending: false }];
  const at = () => errPos(ctx.command, 'sort=');
  const parts = text.split(',');
  const out: HistSortKey[] = [];
  for (let i = 0; i < TRACING_MAP.SORT_KEYS_MAX && i < parts.length; i++) {
    const item = parts[i]!;
    if (item === '') throw histError('EMPTY_SORT_FIELD', ctx.location, ctx.command, at());
    if (i === TRACING_MAP.SORT_KEYS_MAX - 1 && i + 1 < parts.length) throw histError('TOO_MANY_SORT_FIELDS', ctx.location, ctx.command, at());
    const dot = item.indexOf('.');
    const name = dot < 0 ? item : item.slice(0, dot);
    const mod = dot < 0 ? undefined : item.slice(dot + 1);
    if (name === '') throw histError('EMPTY_SORT_FIELD', ctx.location, ctx.command, at());
    if (name === 'hitcount') { out.push({ index: 0, descending: descending(ctx, mod) }); continue; }
    const fields = [...vals, ...keys];
    const idx = fields.findIndex((f) => f.name === name);
    if (idx < 0) throw histError('INVALID_SORT_FIELD', ctx.location, ctx.command, errPos(ctx.command, name));
    out.push({ index: idx + 1, descending: descending(ctx, mod) });
  }
  return out;
}

/** Whether `f` or, in an expression, any of its operands passes `test` (a `$x` of a local `x=FIELD` is FIELD itself). */
const reads = (f: HistField, test: (f: HistField) => boolean): boolean => test(f) || (f.operands?.some((o) => reads(o, test)) ?? false);
const isTimestamp = (f: HistField): boolean => f.source === 'timestamp';

export interface HistParseOptions {
  /** GRP and EVENT: the error_log location is `hist:GRP:EVENT`. */
  readonly group: string;
  readonly event: string;
  /** The event's own fields (probe fields and arguments; the common ones are known). */
  readonly fields: readonly EventField[];
  readonly rules: FilterRules;
  /** Variables the triggers written before this one define (a `$var` naming one reads another trigger's). */
  readonly variables?: readonly HistVariable[];
}

/**
 * What writing `hist:PARAM_AND_FILTER` to the event's trigger file makes:
 * the trigger, or the kernel's refusal (TriggerError; a bad filter is the
 * filter's FilterSyntaxError), or TriggerUnsupportedError for what the
 * kernel takes and kprobe-bpf does not run.
 */
export function parseHistTrigger(paramAndFilter: string | undefined, o: HistParseOptions): HistTrigger {
  if (paramAndFilter === undefined) throw silentError(EINVAL);
  const base: HistContext = {
    location: `${HIST_PREFIX}${o.group}:${o.event}`, command: `${HIST_PREFIX}${paramAndFilter}`, fields: o.fields, rules: o.rules,
    group: o.group, event: o.event, otherVars: o.variables ?? [],
  };
  const { param, filter } = separateHistFilter(paramAndFilter);
  const attrs = parseAttrs(base, param.replaceAll('.sym-offset', '.symXoffset'));
  if (attrs.actions.length > 0) throw new TriggerUnsupportedError(`${attrs.actions[0]}: hist actions (onmatch, onmax, onchange) and synthetic events`);
  const defs = varDefs(base, attrs.assignments);
  const ctx: HistContext = { ...base, varDefs: defs };
  const vals = valFields(ctx, attrs.vals);
  const eventVars = (o.variables ?? []).filter((v) => v.group === o.group && v.event === o.event).map((v) => v.name);
  const vars = varFields(ctx, defs, eventVars);
  const keys = keyFields(ctx, attrs.keys!);
  const sort = sortKeys(ctx, attrs.sort, vals, keys);
  const checked = filter === undefined ? undefined : triggerFilter(filter, o.fields, o.rules);
  const all = [...keys, ...vals, ...vars];
  return {
    kind: 'hist',
    ...(attrs.name !== undefined ? { name: attrs.name } : {}),
    keys, vals, vars, sort,
    timestamps: all.some((f) => reads(f, isTimestamp)), tsInUsecs: all.some((f) => reads(f, (g) => isTimestamp(g) && g.modifier === 'usecs')),
    mapBits: attrs.mapBits ?? TRACING_MAP.BITS_DEFAULT,
    pause: attrs.pause, cont: attrs.cont, clear: attrs.clear, clock: attrs.clock ?? 'global',
    ...(checked ? { filter: checked } : {}),
  };
}
