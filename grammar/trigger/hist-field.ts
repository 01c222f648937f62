// One key or value of a hist trigger, as the kernel's parse_expr /
// parse_atom / parse_field read it: `FIELD[.MODIFIER]`, `common_cpu`,
// `common_timestamp[.usecs]`, `$var`, constants and expressions (the last
// three are refused here as kprobe-bpf does not run them, after the
// kernel's own refusals).
import { findFilterField, type EventField, type FilterRules } from '../filter/index.js';
import { kstrtoul } from '../kstrto.js';
import type { HistField, HistModifier } from './ast.js';
import { MAX_FILTER_STR_VAL } from './ast.js';
import { EINVAL, errPos, histError, silentError, TriggerError } from './errors.js';
import { TriggerUnsupportedError } from './unsupported.js';

/** Where errors are reported: the error_log location and the command the carets point into. */
export interface HistContext {
  readonly location: string;
  readonly command: string;
  readonly fields: readonly EventField[];
  readonly rules: FilterRules;
}

const fail = (ctx: HistContext, code: Parameters<typeof histError>[0], str: string): TriggerError =>
  histError(code, ctx.location, ctx.command, errPos(ctx.command, str));

/** kernel: contains_operator — any of - + / * (a leading '-' is unary minus). */
const hasOperator = (s: string): boolean => /[-+/*]/.test(s);

const SIMPLE_MODIFIERS: Readonly<Record<string, HistModifier>> = {
  hex: 'hex', sym: 'sym', symXoffset: 'sym-offset', syscall: 'syscall', log2: 'log2', usecs: 'usecs',
};

/** "MAJOR.MINOR" at least `want`. */
export const atLeast = (version: string, want: [number, number]): boolean => {
  const [maj, min] = version.split('.').map(Number) as [number, number];
  return maj > want[0] || (maj === want[0] && min >= want[1]);
};

/** kernel: parse_field's modifier, with the text err_pos points at on a refusal. */
function parseModifier(ctx: HistContext, fieldName: string, modifier: string): { modifier: HistModifier; buckets?: bigint } {
  // 6.3 added value modifiers (`.percent`, `.graph`); before, they are bad modifiers
  if ((modifier === 'percent' || modifier === 'graph') && atLeast(ctx.rules.version, [6, 3])) {
    throw new TriggerUnsupportedError(`${fieldName}.${modifier}: the .percent and .graph value modifiers`);
  }
  const simple = SIMPLE_MODIFIERS[modifier];
  if (simple) return { modifier: simple };
  if (modifier === 'execname' && fieldName === 'common_pid') return { modifier: 'execname' };
  if (modifier.startsWith('bucket')) {
    let rest = modifier.slice(6);
    if (rest.startsWith('s')) rest = rest.slice(1);
    if (!rest.startsWith('=')) throw fail(ctx, 'BAD_FIELD_MODIFIER', rest);
    rest = rest.slice(1);
    const n = kstrtoul(rest, 0);
    if (n === undefined || n === 0n) throw fail(ctx, 'BAD_FIELD_MODIFIER', rest);
    return { modifier: 'buckets', buckets: n };
  }
  throw fail(ctx, 'BAD_FIELD_MODIFIER', modifier);
}

/** kernel: parse_field + create_hist_field for one atom (no operator). */
function parseField(ctx: HistContext, text: string): HistField {
  const dot = text.indexOf('.');
  const fieldName = dot < 0 ? text : text.slice(0, dot);
  const mod = dot < 0 ? undefined : parseModifier(ctx, fieldName, text.slice(dot + 1));
  const extra = { ...(mod ? { modifier: mod.modifier } : {}), ...(mod?.buckets !== undefined ? { buckets: mod.buckets } : {}) };
  if (fieldName === 'common_timestamp') return { source: 'timestamp', name: 'common_timestamp', string: false, size: 8, signed: false, ...extra };
  if (fieldName === 'common_cpu') return { source: 'cpu', name: 'common_cpu', string: false, size: 4, signed: false, ...extra };
  const field = findFilterField(fieldName, ctx.fields, ctx.rules);
  if (!field || field.size === 0) {
    // kernel: `cpu` and `CPU` (FILTER_CPU) are common_cpu for hist triggers
    if (field?.filterType === 'cpu') return { source: 'cpu', name: 'common_cpu', string: false, size: 4, signed: false, ...extra };
    throw fail(ctx, 'FIELD_NOT_FOUND', fieldName);
  }
  const string = ['dyn_string', 'rdyn_string', 'static_string'].includes(field.filterType);
  if (field.filterType === 'ptr_string') throw new TriggerUnsupportedError(`${fieldName}: a char * field as a hist key or value`);
  if (!string && ![1, 2, 4, 8].includes(field.size)) throw silentError(12, 'Cannot allocate memory'); // kernel: select_value_fn NOP, -ENOMEM
  return { source: 'field', name: field.name, field, string, size: string ? (field.filterType === 'static_string' ? field.size : MAX_FILTER_STR_VAL) : field.size, signed: field.signed, ...extra };
}

/**
 * kernel: parse_expr / parse_atom on a key or value text (`.sym-offset`
 * already rewritten to `.symXoffset`, as the kernel does before parsing).
 */
export function parseHistField(ctx: HistContext, text: string, hasVariables: boolean): HistField {
  if (hasOperator(text)) throw new TriggerUnsupportedError(`${text}: hist expressions`);
  if (/^[0-9]/.test(text)) {
    if (kstrtoul(text, 0) === undefined) throw fail(ctx, 'EXPECT_NUMBER', text);
    throw new TriggerUnsupportedError(`${text}: constants as hist keys or values`);
  }
  let atom = text;
  // kernel: SYSTEM.EVENT.VAR names another event's variable; the atom is what follows the second dot
  const first = atom.indexOf('.');
  if (first >= 0 && atom.indexOf('.', first + 1) >= 0) atom = atom.slice(atom.indexOf('.', first + 1) + 1);
  if (atom.length >= 2 && atom.startsWith('$')) {
    if (hasVariables) throw new TriggerUnsupportedError(`${text}: hist variables`);
    // kernel: parse_var_ref logs the variable it did not find, then parse_atom
    // goes on to read `$x` as a field, which logs again and refuses
    const missing = fail(ctx, 'VAR_NOT_FOUND', atom.slice(1));
    try {
      parseField(ctx, atom);
    } catch (e) {
      if (e instanceof TriggerError && e.logged) throw new TriggerError(e.message, e.errno, true, e.location, e.command, e.pos, [missing]);
      throw e;
    }
    throw missing;
  }
  return parseField(ctx, atom);
}

export { EINVAL };
