// kernel: predicate_parse(), the loop over terms: '(' and '!' before a
// predicate, then ')', '&&', '||' or the end after it. The tree is built on
// the way (&& binds tighter than ||; '!' applies to the next term), and the
// loop stops where the kernel's stops, with its error and position.
import type { FilterAst, FilterExpr, FilterPredicateNode } from './ast.js';
import { calcStack } from './calc-stack.js';
import { byteAt, fromBytes, isSpace, stripTrailingSpace, toBytes } from './ctype.js';
import { EINVAL, EPERM, errnoRefusal, type FilterErrorAt } from './errors.js';
import { parsePredicate } from './predicate-parser.js';
import { BranchProgram } from './program.js';
import type { FilterRules } from './versions.js';
import { LINUX_ERRNO } from '../../lib/errno.js';

const INVERT = 1, PROCESS_AND = 2, PROCESS_OR = 4;

interface Frame { flags: number; readonly negated: boolean; readonly or: FilterExpr[]; and: FilterExpr[] }

const join = (kind: 'and' | 'or', terms: FilterExpr[]): FilterExpr | undefined =>
  terms.length === 0 ? undefined : terms.length === 1 ? terms[0] : { kind, terms };

function closeFrame(f: Frame): FilterExpr | undefined {
  const last = join('and', f.and);
  const group = join('or', last ? [...f.or, last] : f.or);
  return group && f.negated ? { kind: 'not', term: group } : group;
}

/** The loop state: the kernel's op stack (frames), invert bit and program. */
class TermLoop {
  readonly frames: Frame[] = [{ flags: 0, negated: false, or: [], and: [] }];
  readonly preds: FilterPredicateNode[] = [];
  readonly prog = new BranchProgram();
  invert = 0;
  pendingNot = false;
  ret = -LINUX_ERRNO.ENOMEM;

  get top(): Frame { return this.frames[this.frames.length - 1]!; }

  open(): void {
    this.frames.push({ flags: this.invert, negated: this.pendingNot, or: [], and: [] });
    this.pendingNot = false;
  }

  addPred(node: FilterPredicateNode): void {
    const term: FilterExpr = { kind: 'pred', index: this.preds.length };
    this.top.and.push(this.pendingNot ? { kind: 'not', term } : term);
    this.pendingNot = false;
    this.preds.push(node);
    this.prog.add();
  }

  /** #6-#12 for one token after a predicate: '&', '|', ')' or NUL. */
  after(c: number): 'next' | 'end' | 'popped' | 'unbalanced' {
    const top = this.top;
    const n = this.preds.length - 1;
    this.invert = top.flags & INVERT;
    if (top.flags & PROCESS_AND) { this.prog.update(n, this.invert); top.flags &= ~PROCESS_AND; }
    if (c === 0x26) { top.flags |= PROCESS_AND; return 'next'; }
    if (top.flags & PROCESS_OR) { this.prog.update(n, this.invert ^ 1); top.flags &= ~PROCESS_OR; }
    if (c === 0x7c) {
      top.flags |= PROCESS_OR;
      const group = join('and', top.and);
      if (group) top.or.push(group);
      top.and = [];
      return 'next';
    }
    if (c === 0) return 'end';
    if (this.frames.length === 1) return 'unbalanced';
    this.frames.pop();
    const group = closeFrame(top);
    if (group) this.top.and.push(group);
    return 'popped';
  }
}

type Step = { readonly next: number } | { readonly stop: FilterErrorAt } | { readonly end: number };

/** #5: after a predicate, up to the next term (or the end). */
function afterPredicate(s: string, ptr: number, loop: TermLoop): Step {
  loop.ret = -1;
  for (;;) {
    const next = ptr++;
    const c = byteAt(s, next);
    if (isSpace(c)) continue;
    if (c === 0x26 || c === 0x7c) {
      if (byteAt(s, next + 1) !== c) return { stop: { code: 'TOO_MANY_PREDS', pos: next, errno: EPERM } };
      ptr++;
    } else if (c !== 0x29 && c !== 0) {
      return { stop: { code: 'TOO_MANY_PREDS', pos: next, errno: EPERM } };
    }
    const r = loop.after(c);
    if (r === 'next') return { next: ptr };
    if (r === 'end') return { end: ptr };
    if (r === 'unbalanced') return { stop: { code: 'TOO_MANY_CLOSE', pos: ptr, errno: EPERM } };
  }
}

/** The loop of predicate_parse() over the stripped text, as bytes. */
function parseTerms(s: string, nrParens: number, nrPreds: number, rules: FilterRules): { loop: TermLoop; stop?: FilterErrorAt } {
  const loop = new TermLoop();
  let ptr = 0;
  let ended = false;
  while (ptr < s.length) {
    const next = ptr++;
    const c = byteAt(s, next);
    if (isSpace(c)) continue;
    if (c === 0x28) {
      if (loop.frames.length - 1 > nrParens) return { loop, stop: errnoRefusal(EINVAL) };
      loop.open();
      continue;
    }
    if (c === 0x21 && s[next + 1] !== '=' && s[next + 1] !== '~') { loop.invert ^= 1; loop.pendingNot = !loop.pendingNot; continue; }
    if (loop.preds.length >= nrPreds + 2) return { loop, stop: { code: 'TOO_MANY_PREDS', pos: next, errno: -loop.ret } };
    const p = parsePredicate(s, next, rules);
    if (p.kind === 'empty') return { loop, stop: errnoRefusal(EPERM) };
    loop.addPred(p.node);
    if (p.node.stop) return { loop };
    const step = afterPredicate(s, p.end, loop);
    if ('stop' in step) return { loop, stop: step.stop };
    if ('end' in step) { ptr = step.end; ended = true; break; }
    ptr = step.next;
  }
  return { loop, ...finish(ptr, ended, loop, rules) };
}

/** After the loop: the kernel's `out:` checks, and what a trailing operator means on this version. */
function finish(ptr: number, ended: boolean, loop: TermLoop, rules: FilterRules): { stop?: FilterErrorAt } {
  const n = loop.preds.length;
  if (!ended && n > 0 && rules.trailingOperator === 'refuse') return { stop: { code: 'INVALID_FILTER', pos: ptr, errno: EINVAL } };
  if (loop.frames.length !== 1) return { stop: { code: 'TOO_MANY_OPEN', pos: ptr, errno: -loop.ret } };
  if (n === 0) return { stop: { code: 'NO_FILTER', pos: ptr, errno: EINVAL } };
  if (!loop.prog.valid()) return { stop: errnoRefusal(EINVAL) };
  return {};
}

/**
 * Parses a filter as written to an event's `filter` file. Syntax errors are
 * not thrown: they are kept (on the predicate they stopped in, or on the
 * tree) for resolveFilter to report in the kernel's order.
 */
export function parseFilter(written: string, rules: FilterRules): FilterAst {
  const s = stripTrailingSpace(toBytes(written));
  const text = fromBytes(s);
  const size = calcStack(s);
  if ('code' in size) return { text, predicates: [], stop: size };
  if (size.preds === 0) return { text, predicates: [], stop: errnoRefusal(EINVAL) };
  const { loop, stop } = parseTerms(s, size.parens, size.preds, rules);
  const expr = stop || loop.preds.some((p) => p.stop) ? undefined : closeFrame(loop.frames[0]!);
  return { text, predicates: loop.preds, ...(expr ? { expr } : {}), ...(stop ? { stop } : {}) };
}
