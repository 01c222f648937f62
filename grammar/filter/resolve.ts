// kernel: the field-dependent half of parse_pred(): each predicate checked
// against the event's fields in the kernel's order, so that the first
// refusal (and its position) is the kernel's; then the test it would run.
import type { FilterAst, FilterExpr, FilterOp, FilterPredicateNode, FilterValue } from './ast.js';
import type { CheckedExpr, CheckedFilter, CheckedPredicate, Compare, PredicateTest } from './checked.js';
import { parseCpuList } from './cpulist.js';
import { EINVAL, FilterSyntaxError, type FilterErrorAt, type FilterErrorCode } from './errors.js';
import { findFilterField, isStringField, type EventField, type FilterField } from './fields.js';
import { localFilterHost, type FilterHost } from './host.js';
import { classifyGlob } from './regex.js';
import { MAX_NUMBER_LEN } from './predicate-parser.js';
import type { FilterRules } from './versions.js';
import { kstrtol, kstrtoul } from '../kstrto.js';

class Refusal { constructor(readonly at: FilterErrorAt) {} }
function refuse(code: FilterErrorCode, pos: number): never { throw new Refusal({ code, pos, errno: EINVAL }); }

const COMPARE: Record<Exclude<FilterOp, '~'>, Compare> = { '==': 'eq', '!=': 'ne', '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge', '&': 'band' };
const WIDTH: Partial<Record<number, 8 | 16 | 32 | 64>> = { 1: 8, 2: 16, 4: 32, 8: 64 };

/** kernel: select_comparison_fn and the (type)pred->val conversion. */
function integerTest(compare: Compare, size: number, signed: boolean, val: bigint): PredicateTest {
  const width = WIDTH[size];
  if (!width) return { kind: 'never' };
  const asSigned = signed && compare !== 'eq' && compare !== 'ne';
  return { kind: 'integer', compare, width, signed: asSigned, value: asSigned ? BigInt.asIntN(width, val) : BigInt.asUintN(width, val) };
}

function functionTest(node: FilterPredicateNode, field: FilterField, value: FilterValue, host: FilterHost): PredicateTest {
  const vs = value.span.start + 1;
  if (field.size !== 8) refuse('ILLEGAL_FIELD_OP', vs);
  if (node.op!.text !== '==' && node.op!.text !== '!=') refuse('INVALID_OP', vs);
  const end = value.span.end + 1;
  let ip: bigint | undefined;
  if (value.kind === 'address') {
    if (value.text.length >= MAX_NUMBER_LEN) refuse('OPERAND_TOO_LONG', end);
    ip = kstrtoul(value.text);
    if (ip === undefined) refuse('INVALID_VALUE', end);
  } else {
    ip = host.symbolAddress?.(value.kind === 'symbol' ? value.text : '');
    if (!ip) refuse('NO_FUNCTION', end);
  }
  const fn = host.functionAt?.(ip!);
  if (!fn) return refuse('NO_FUNCTION', end);
  return { kind: 'function', not: node.op!.text === '!=', start: fn.start, end: fn.start + fn.size };
}

function cpusTest(node: FilterPredicateNode, field: FilterField, value: FilterValue, host: FilterHost): PredicateTest {
  const vs = value.span.start + 1;
  const t = field.filterType;
  if (t !== 'cpumask' && t !== 'cpu' && t !== 'other') refuse('ILLEGAL_FIELD_OP', vs);
  const op = node.op!.text;
  if (op !== '==' && op !== '!=' && op !== '&') refuse('ILLEGAL_FIELD_OP', vs);
  if (node.stop) throw new Refusal(node.stop);
  const cpus = value.kind === 'cpus' ? parseCpuList(value.list, host.nrCpuIds) : undefined;
  if (!cpus) return refuse('INVALID_CPULIST', value.span.end);
  const compare = COMPARE[op] as 'eq' | 'ne' | 'band';
  const single = cpus.length === 1;
  const nrCpuIds = host.nrCpuIds;
  if (t === 'cpumask') return single ? { kind: 'cpumask_has_cpu', compare, cpu: cpus[0]!, nrCpuIds } : { kind: 'cpumask', compare, cpus, nrCpuIds };
  const scalar = compare === 'band' ? 'eq' : compare;
  if (t === 'cpu') return single ? { kind: 'cpu', compare: scalar, value: cpus[0]! } : { kind: 'cpu_in_mask', compare, cpus };
  if (single) return integerTest(scalar, field.size, false, BigInt(cpus[0]!));
  const width = WIDTH[field.size];
  return width ? { kind: 'integer_in_mask', compare, width, cpus, nrCpuIds } : { kind: 'never' };
}

function stringTest(node: FilterPredicateNode, field: FilterField, value: FilterValue): PredicateTest {
  const vs = value.span.start + 1;
  const op = node.op!.text;
  if (op !== '!=' && op !== '~' && op !== '==') refuse('ILLEGAL_FIELD_OP', vs);
  if (!isStringField(field)) refuse('EXPECT_DIGIT', vs);
  if (node.stop || value.kind !== 'string') throw new Refusal(node.stop!);
  const match = op === '~' ? classifyGlob(value.text) : { kind: 'full' as const, pattern: value.text, negated: false };
  const source = field.filterType === 'comm' ? 'comm' : field.filterType === 'static_string' ? 'static'
    : field.filterType === 'dyn_string' ? 'dynamic' : field.filterType === 'rdyn_string' ? 'relative'
    : node.ustring ? 'user_pointer' : 'pointer';
  const not = op === '!=' || (op === '~' && match.negated);
  return { kind: 'string', source, match, not, length: field.size };
}

function numberTest(node: FilterPredicateNode, field: FilterField, value: FilterValue): PredicateTest {
  const vs = value.span.start + 1;
  if (isStringField(field)) refuse('EXPECT_STRING', vs);
  const op = node.op!.text;
  if (op === '~') refuse('ILLEGAL_FIELD_OP', vs);
  if (node.stop || value.kind !== 'number') throw new Refusal(node.stop!);
  const parsed = field.signed ? kstrtol(value.text) : kstrtoul(value.text);
  if (parsed === undefined) return refuse('ILLEGAL_INTVAL', vs);
  const val = BigInt.asUintN(64, parsed);
  const compare = COMPARE[op];
  if (field.filterType !== 'cpu') return integerTest(compare, field.size, field.signed, val);
  // kernel: filter_pred_cpu compares ints and has no '&' case.
  return compare === 'band' ? { kind: 'never' } : { kind: 'cpu', compare, value: Number(BigInt.asIntN(32, val)) };
}

function predicateTest(node: FilterPredicateNode, fields: readonly EventField[], rules: FilterRules, host: FilterHost): CheckedPredicate {
  const field = findFilterField(node.field.name, fields, rules);
  if (!field) return refuse('FIELD_NOT_FOUND', node.field.span.end + 1);
  if (!node.op) throw new Refusal(node.stop!);
  const v = node.value;
  const branch = v.kind === 'none' ? v.branch : v.kind;
  let test: PredicateTest;
  if (node.function) test = functionTest(node, field, v, host);
  else if (branch === 'cpus') test = cpusTest(node, field, v, host);
  else if (branch === 'string') test = stringTest(node, field, v);
  else if (branch === 'number') test = numberTest(node, field, v);
  else throw new Refusal(node.stop!);
  return { field, op: node.op.text, node, test };
}

function bind(e: FilterExpr, preds: readonly CheckedPredicate[]): CheckedExpr {
  if (e.kind === 'pred') return { kind: 'pred', pred: preds[e.index]! };
  if (e.kind === 'not') return { kind: 'not', term: bind(e.term, preds) };
  return { kind: e.kind, terms: e.terms.map((t) => bind(t, preds)) };
}

/**
 * Checks a parsed filter against an event's fields; throws the kernel's
 * FilterSyntaxError (first refusal in the kernel's order) or returns the
 * tests the kernel would run.
 */
export function resolveFilter(ast: FilterAst, fields: readonly EventField[], rules: FilterRules, host: FilterHost = localFilterHost()): CheckedFilter {
  const predicates: CheckedPredicate[] = [];
  try {
    for (const node of ast.predicates) predicates.push(predicateTest(node, fields, rules, host));
    if (ast.stop) throw new Refusal(ast.stop);
  } catch (e) {
    if (e instanceof Refusal) throw new FilterSyntaxError(ast.text, e.at);
    throw e;
  }
  if (!ast.expr) throw new Error('filter parse without a tree or a refusal');
  return { text: ast.text, expr: bind(ast.expr, predicates), predicates };
}
