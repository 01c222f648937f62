// kernel: parse_pred(), the part that does not depend on the event's fields:
// where the field name, suffixes, operator and value are, and the syntax
// errors among them. Positions follow the kernel: parse_pred is handed
// pos = start + 1, so every error inside a predicate is one byte right of
// the character it names.
import { FILTER_OPS, type FilterOp, type FilterPredicateNode, type FilterValue, type Span } from './ast.js';
import { byteAt, isAlnum, isDigit, isSpace } from './ctype.js';
import { EINVAL, type FilterErrorAt, type FilterErrorCode } from './errors.js';
import type { FilterRules } from './versions.js';

/** kernel: MAX_FILTER_STR_VAL, and num_buf[24] for numbers. */
export const MAX_FILTER_STR_VAL = 256;
export const MAX_NUMBER_LEN = 24;

export type PredicateParse =
  | { readonly kind: 'empty' } // no field name at all: parse_pred returns -1
  | { readonly kind: 'pred'; readonly node: FilterPredicateNode; readonly end: number };

const at = (code: FilterErrorCode, index: number): FilterErrorAt => ({ code, pos: index + 1, errno: EINVAL });

function skipSpace(s: string, i: number): number {
  while (isSpace(byteAt(s, i))) i++;
  return i;
}

function matchOp(s: string, i: number): FilterOp | undefined {
  return FILTER_OPS.find((op) => s.startsWith(op, i));
}

interface ValueParse { readonly value: FilterValue; readonly end: number; readonly stop?: FilterErrorAt }

function functionValue(s: string, i: number): ValueParse {
  const start = i;
  if (isDigit(byteAt(s, i))) {
    while (isAlnum(byteAt(s, i))) i++;
    return { value: { kind: 'address', text: s.slice(start, i), span: { start, end: i } }, end: i };
  }
  while (i < s.length && !isSpace(byteAt(s, i))) i++;
  return { value: { kind: 'symbol', text: s.slice(start, i), span: { start, end: i } }, end: i };
}

function cpusValue(s: string, start: number): ValueParse {
  let i = start + 4;
  const none = (end: number, stop: FilterErrorAt): ValueParse => ({ value: { kind: 'none', branch: 'cpus', span: { start, end } }, end, stop });
  if (byteAt(s, i++) !== 0x7b) return none(i, at('MISSING_BRACE_OPEN', i));
  const maskStart = i;
  while (i < s.length && byteAt(s, i) !== 0x7d) i++;
  if (byteAt(s, i) !== 0x7d) return none(i, at('MISSING_BRACE_CLOSE', i));
  if (maskStart === i) return none(i, at('INVALID_CPULIST', i));
  return { value: { kind: 'cpus', list: s.slice(maskStart, i), span: { start, end: i + 1 } }, end: i + 1 };
}

function quotedValue(s: string, start: number): ValueParse {
  const q = s[start] as '"' | "'";
  let i = start + 1;
  while (i < s.length && s[i] !== q) i++;
  const span = { start, end: i };
  if (i >= s.length) return { value: { kind: 'none', branch: 'string', span }, end: i, stop: at('MISSING_QUOTE', i) };
  if (i - (start + 1) >= MAX_FILTER_STR_VAL) return { value: { kind: 'none', branch: 'string', span }, end: i, stop: at('OPERAND_TOO_LONG', i) };
  return { value: { kind: 'string', quote: q, text: s.slice(start + 1, i), span: { start, end: i + 1 } }, end: i + 1 };
}

function numberValue(s: string, start: number): ValueParse {
  let i = start;
  if (s[i] === '-') i++;
  while (isAlnum(byteAt(s, i))) i++;
  const span = { start, end: i };
  if (i - start >= MAX_NUMBER_LEN) return { value: { kind: 'none', branch: 'number', span }, end: i, stop: at('OPERAND_TOO_LONG', i) };
  return { value: { kind: 'number', text: s.slice(start, i), span }, end: i };
}

function parseValue(s: string, i: number, isFunction: boolean, rules: FilterRules): ValueParse {
  if (isFunction) return functionValue(s, i);
  if (rules.cpus && s.startsWith('CPUS', i)) return cpusValue(s, i);
  const c = s[i];
  if (c === '"' || c === "'") return quotedValue(s, i);
  if (isDigit(byteAt(s, i)) || c === '-') return numberValue(s, i);
  return { value: { kind: 'none', span: { start: i, end: i } }, end: i, stop: at('INVALID_VALUE', i) };
}

/** One predicate starting at `start` (a non-space byte). */
export function parsePredicate(s: string, start: number, rules: FilterRules): PredicateParse {
  let i = skipSpace(s, start);
  const nameStart = i;
  while (isAlnum(byteAt(s, i)) || s[i] === '_') i++;
  if (i === nameStart) return { kind: 'empty' };
  const field = { name: s.slice(nameStart, i), span: { start: nameStart, end: i } };
  const ustring = s.startsWith('.ustring', i);
  if (ustring) i += 8;
  const isFunction = rules.functionSuffix && s.startsWith('.function', i);
  if (isFunction) i += 9;
  i = skipSpace(s, i);
  const op = matchOp(s, i);
  const base = { field, ustring, function: isFunction };
  if (!op) {
    const node = { ...base, value: { kind: 'none', span: { start: i, end: i } }, span: { start, end: i }, stop: at('INVALID_OP', i) } as const;
    return { kind: 'pred', node, end: i };
  }
  const opSpan: Span = { start: i, end: i + op.length };
  const v = parseValue(s, skipSpace(s, opSpan.end), isFunction, rules);
  const node: FilterPredicateNode = { ...base, op: { text: op, span: opSpan }, value: v.value, span: { start, end: v.end }, ...(v.stop ? { stop: v.stop } : {}) };
  return { kind: 'pred', node, end: v.end };
}
