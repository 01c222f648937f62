// One key, value or variable of a hist trigger, as the kernel's parse_expr /
// parse_unary / parse_atom / parse_field read it: `FIELD[.MODIFIER]`,
// `common_cpu`, `common_timestamp[.usecs]`, numeric constants, `$var` of a
// variable this trigger defines as a plain field (kernel:
// local_field_var_ref), and expressions `a+b`, `a-b`, `a*b`, `a/b`, `-(a)`
// (rightmost operator of the lowest precedence first, at most three
// operators, constants folded). A `$var` of another trigger (a cross-event
// reference) is refused as not run by kprobe-bpf, after the kernel's own
// refusals.
import { findFilterField, type EventField, type FilterRules } from '../filter/index.js';
import { kstrtoul } from '../kstrto.js';
import type { HistField, HistModifier, HistOperator } from './ast.js';
import { MAX_FILTER_STR_VAL } from './ast.js';
import { EDOM, EINVAL, errPos, histError, silentError, TriggerError } from './errors.js';
import { TriggerUnsupportedError } from './unsupported.js';

/** Where errors are reported: the error_log location and the command the carets point into. */
export interface HistContext {
  readonly location: string;
  readonly command: string;
  readonly fields: readonly EventField[];
  readonly rules: FilterRules;
  /** The trigger's event (a `SYSTEM.EVENT.$var` naming it is a local reference). */
  readonly group: string;
  readonly event: string;
  /** This trigger's variable definitions, NAME and EXPR text, in order (kernel: attrs->var_defs). */
  readonly varDefs?: readonly { readonly name: string; readonly expr: string }[];
  /** Variables of the triggers written before this one (kernel: tr->hist_vars): a `$var` naming one is a cross-event reference. */
  readonly otherVars: readonly HistVariable[];
}

/** A variable some trigger defines, as other triggers can reference it. */
export interface HistVariable {
  readonly group: string;
  readonly event: string;
  readonly name: string;
}

const fail = (ctx: HistContext, code: Parameters<typeof histError>[0], str: string): TriggerError =>
  histError(code, ctx.location, ctx.command, errPos(ctx.command, str));

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
  const extra = {
    ...(mod ? { modifier: mod.modifier } : {}), ...(mod?.buckets !== undefined ? { buckets: mod.buckets } : {}), ...(mod?.modifier === 'usecs' ? { usecs: true } : {}),
  };
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

/** kernel: contains_operator — the root operator (rightmost + or -, else rightmost * or /) and where it is. */
function containsOperator(str: string): { op: HistOperator; at: number } | undefined {
  const minus = str.lastIndexOf('-');
  if (minus === 0) return { op: 'neg', at: 0 };
  const plus = str.lastIndexOf('+');
  if (plus >= 0 || minus >= 0) return plus > minus ? { op: '+', at: plus } : { op: '-', at: minus };
  const div = str.lastIndexOf('/'), mult = str.lastIndexOf('*');
  if (mult > div) return { op: '*', at: mult };
  if (div >= 0) return { op: '/', at: div };
  return undefined;
}

/** kernel: get_hist_field_flags, the one flag expr_field_str prints after an operand. */
function flagText(f: HistField): string | undefined {
  if (f.source === 'expr') return f.usecs ? 'usecs' : undefined;
  return f.modifier ?? (f.usecs ? 'usecs' : undefined);
}

/** kernel: expr_field_str — an operand as an expression's name spells it. */
function operandText(f: HistField): string {
  const flags = flagText(f);
  return (f.source === 'const' ? `${f.constant}` : f.name) + (flags ? `.${flags}` : '');
}

/** kernel: expr_str at `level` (nothing past the second level). */
function exprName(op: HistOperator, operands: readonly HistField[], level = 0): string | undefined {
  if (level > 1) return undefined;
  if (op === 'neg') {
    const inner = operands[0]!;
    const sub = inner.operator === undefined ? operandText(inner) : exprName(inner.operator, inner.operands!, level + 1);
    return sub === undefined ? undefined : `-(${sub})`;
  }
  return `${operandText(operands[0]!)}${op}${operandText(operands[1]!)}`;
}

/** kernel: HIST_DIV_SHIFT, the shift of the multiply-and-shift division by a constant. */
export const HIST_DIV_SHIFT = 20n;
const U64 = (v: bigint) => BigInt.asUintN(64, v);

/** kernel: hist_field_get_div_fn's choice for a constant divisor, as one function of the dividend. */
export function divideByConstant(divisor: bigint): (v: bigint) => bigint {
  if ((divisor & (divisor - 1n)) === 0n) return (v) => v / divisor;
  if (divisor > 1n << HIST_DIV_SHIFT) return (v) => v / divisor;
  const mult = (1n << HIST_DIV_SHIFT) / divisor;
  return (v) => (v < 1n << HIST_DIV_SHIFT ? U64(v * mult + ((1n << HIST_DIV_SHIFT) - 1n)) >> HIST_DIV_SHIFT : v / divisor);
}

/** A binary operator on two u64 as the kernel's hist_field_plus / _minus / _mult / _div compute it. */
export function applyOperator(op: Exclude<HistOperator, 'neg'>, a: bigint, b: bigint): bigint {
  switch (op) {
    case '+': return U64(a + b);
    case '-': return U64(a - b);
    case '*': return U64(a * b);
    case '/': return b === 0n ? U64(-1n) : a / b;
  }
}

interface Subexprs { n: number }

/** kernel: parse_var_ref's lookup (find_event_var, find_var_file) among the other triggers' variables. */
function otherVariable(ctx: HistContext, system: string | undefined, event: string | undefined, name: string): HistVariable | 'not unique' | undefined {
  const all = ctx.otherVars.filter((v) => v.name === name && (system === undefined || (v.group === system && v.event === event)));
  const files = new Set(all.map((v) => `${v.group}/${v.event}`));
  if (system === undefined && files.size > 1) return 'not unique';
  return all[0];
}

/** kernel: parse_atom — a constant, a variable reference, or a field. */
function parseAtom(ctx: HistContext, str: string, varName: string | undefined, key: boolean): HistField {
  const named = varName !== undefined ? { varName } : {};
  if (/^[0-9]/.test(str)) {
    const constant = kstrtoul(str, 0);
    if (constant === undefined) throw fail(ctx, 'EXPECT_NUMBER', str);
    return { source: 'const', name: '', constant, string: false, size: 8, signed: false, ...named };
  }
  let system: string | undefined, event: string | undefined, ref = str;
  const first = str.indexOf('.');
  if (first >= 0 && str.indexOf('.', first + 1) >= 0) {
    const second = str.indexOf('.', first + 1);
    system = str.slice(0, first); event = str.slice(first + 1, second); ref = str.slice(second + 1);
  }
  const isRef = ref.length >= 2 && ref.startsWith('$');
  // kernel: local_field_var_ref — `$x` of this trigger's own `x=FIELD` reads FIELD
  const local = isRef && (system === undefined || (system === ctx.group && event === ctx.event))
    ? ctx.varDefs?.find((d) => d.name === ref.slice(1) && !containsOperator(d.expr) && !(d.expr.length >= 2 && d.expr.startsWith('$')))
    : undefined;
  if (local) return { ...parseField(ctx, local.expr), ...named };
  if (isRef) {
    const found = otherVariable(ctx, system, event, ref.slice(1));
    const earlier: TriggerError[] = [];
    if (found === 'not unique') earlier.push(fail(ctx, 'VAR_NOT_UNIQUE', ref.slice(1)));
    else if (found) {
      // kernel: create_key_field refuses a key that reads a variable
      if (key) throw histError('INVALID_REF_KEY', ctx.location, ctx.command, errPos(ctx.command, str));
      throw new TriggerUnsupportedError(`${str}: a reference to another event's variable (${found.group}.${found.event}.${found.name})`);
    }
    // kernel: parse_var_ref logs the variable it did not find, then parse_atom
    // goes on to read `$x` as a field, which logs again and refuses
    const missing = fail(ctx, 'VAR_NOT_FOUND', ref.slice(1));
    try {
      parseField(ctx, ref);
    } catch (e) {
      if (e instanceof TriggerError && e.logged) throw new TriggerError(e.message, e.errno, true, e.location, e.command, e.pos, [...earlier, missing]);
      throw e;
    }
    throw missing;
  }
  return { ...parseField(ctx, ref), ...named };
}

const usecsOf = (f: HistField): boolean => f.usecs === true;

/** kernel: parse_unary — `-(EXPR)` only, parentheses required, nothing after them. */
function parseUnary(ctx: HistContext, str: string, varName: string | undefined, n: Subexprs, key: boolean): HistField {
  n.n++;
  if (n.n > 3) throw fail(ctx, 'TOO_MANY_SUBEXPR', str);
  let s = str.slice(1);
  if (!s.includes('(')) throw silentError(EINVAL);
  s = s.slice(1);
  const close = s.lastIndexOf(')');
  if (close < 0) throw silentError(EINVAL);
  if (close !== s.length - 1) throw fail(ctx, 'UNARY_MINUS_SUBEXPR', s);
  s = s.slice(0, close);
  const operand = parseExprAt(ctx, s, undefined, n, key);
  if (operand.string) throw fail(ctx, 'INVALID_STR_OPERAND', s);
  return {
    source: 'expr', name: exprName('neg', [operand]) ?? '', operator: 'neg', operands: [operand], string: false,
    size: operand.size, signed: operand.signed, ...(usecsOf(operand) ? { usecs: true } : {}), ...(varName !== undefined ? { varName } : {}),
  };
}

/** kernel: parse_expr. */
function parseExprAt(ctx: HistContext, str: string, varName: string | undefined, n: Subexprs, key: boolean): HistField {
  if (n.n > 3) throw fail(ctx, 'TOO_MANY_SUBEXPR', str);
  const root = containsOperator(str);
  if (!root) return parseAtom(ctx, str, varName, key);
  if (root.op === 'neg') return parseUnary(ctx, str, varName, n, key);
  n.n++;
  const left = str.slice(0, root.at), right = str.slice(root.at + 1);
  if (left === '' || right === '') throw silentError(EINVAL);
  const a = parseExprAt(ctx, left, undefined, n, key);
  if (a.string) throw fail(ctx, 'INVALID_STR_OPERAND', left);
  const b = parseExprAt(ctx, right, undefined, n, key);
  if (b.string) throw fail(ctx, 'INVALID_STR_OPERAND', right);
  // kernel: check_expr_operands, logged at position 0
  if (usecsOf(a) !== usecsOf(b)) throw histError('TIMESTAMP_MISMATCH', ctx.location, ctx.command, 0);
  const op = root.op;
  if (op === '/' && b.source === 'const' && b.constant === 0n) throw histError('DIVISION_BY_ZERO', ctx.location, ctx.command, errPos(ctx.command, right), EDOM);
  const named = varName !== undefined ? { varName } : {};
  const usecs = usecsOf(a) ? { usecs: true } : {};
  if (a.source === 'const' && b.source === 'const') {
    const constant = op === '/' ? divideByConstant(b.constant!)(a.constant!) : applyOperator(op, a.constant!, b.constant!);
    return { source: 'const', name: '', constant, string: false, size: 8, signed: false, ...usecs, ...named };
  }
  return {
    source: 'expr', name: exprName(op, [a, b]) ?? '', operator: op, operands: [a, b], string: false,
    size: a.size, signed: a.signed, ...usecs, ...named,
  };
}

/**
 * kernel: parse_expr on a key, value or variable text (`.sym-offset`
 * already rewritten to `.symXoffset`, as the kernel does before parsing).
 */
export function parseHistField(ctx: HistContext, text: string, use: 'key' | 'val' | 'var' = 'val', varName?: string): HistField {
  return parseExprAt(ctx, text, varName, { n: 0 }, use === 'key');
}

export { EINVAL };
