// Where an event's filter is evaluated in its program. The kernel builds the
// whole record, then runs the filter on it (trace_event_buffer_commit ->
// filter_check_discard). Its answer depends only on the record's values, so
// a conjunct of the filter (an operand of a top-level &&, or of a !(… || …)
// by De Morgan) that is false rejects the record whatever the other fields
// hold: such a conjunct may be tested as soon as the fields it names are
// built, and the rest of the record (the strings above all) is then never
// fetched for a record the filter drops. Fetches that do not grow the
// record's dynamic area write fixed offsets only, so building them first
// leaves every record byte where it was; the dynamic ones keep their order.
// Tests on the CPU, common_pid and arguments taken straight from a register
// go first of all, before the record is even reserved (filter-codegen.ts:
// emitFilterBeforeRecord). Only numeric tests move: string tests keep their
// place in the final check (their search loops' verifier budget is counted
// over one filter there). What the kernel does with a hit the filter drops
// is the same either way: nothing is recorded, the hit is counted.
import type { CheckedExpr, CheckedFilter, CheckedPredicate } from '../grammar/filter/index.js';
import type { FetchProgram, ProbeProgram } from './ir.js';
import { RECORD_PREFIX_SIZE } from './abi.js';

/**
 * What a fetch costs: 0, registers and constants (no helper call); 1,
 * fixed-size memory reads (a helper call per dereference); 2, data that
 * goes to the dynamic area (strings, $comm, symstr: the costly part).
 */
export type FetchRank = 0 | 1 | 2;
const LAST: FetchRank = 2;
/**
 * Where a conjunct can be tested: BEFORE, before the record exists (the
 * running CPU, common_pid, common_type and arguments read straight from a
 * register or a constant, into a stack window); else after the fetches of
 * that rank.
 */
export type StageRank = typeof BEFORE | FetchRank;
export const BEFORE = -1;
/** Bytes of the record (from its start, prefix included) the stack window before the record holds. */
export const BEFORE_WINDOW = 256;

export function fetchRank(f: FetchProgram): FetchRank {
  switch (f.store.op) {
    case 'raw': return f.derefs.length === 0 ? 0 : 1;
    case 'mem': return 1;
    default: return 2;
  }
}

/** One check of the filter: `filter` over the fields built by the first `after` fetches of the plan (BEFORE: before the record). */
export interface FilterStage {
  readonly after: number | typeof BEFORE;
  readonly filter: CheckedFilter;
  /** Fetches the program skips when this check drops the record (empty: the final check on the whole record). */
  readonly skips: readonly string[];
}

export interface FilterPlan {
  /** The fetches in the order the program makes them. */
  readonly fetches: readonly FetchProgram[];
  /** The fetches the test before the record makes into its stack window (when the first stage is BEFORE). */
  readonly beforeFetches: readonly FetchProgram[];
  /** In program order; the last one runs after every fetch unless early ones decide everything. */
  readonly stages: readonly FilterStage[];
}

/**
 * The filter as a conjunction: `negated` is the polarity the caller sees
 * `e` under (!(a || b) is !a && !b; !!a is a).
 */
export function conjuncts(e: CheckedExpr, negated = false): CheckedExpr[] {
  if (e.kind === 'not') return conjuncts(e.term, !negated);
  if (e.kind === (negated ? 'or' : 'and')) return (e as Extract<CheckedExpr, { kind: 'and' | 'or' }>).terms.flatMap((x) => conjuncts(x, negated));
  return [negated ? { kind: 'not', term: e } : e];
}

function predicatesOf(e: CheckedExpr): CheckedPredicate[] {
  switch (e.kind) {
    case 'pred': return [e.pred];
    case 'not': return predicatesOf(e.term);
    default: return e.terms.flatMap(predicatesOf);
  }
}

/**
 * After which fetch rank the predicate can be decided: the common fields,
 * cpu and __probe_ip are in the record before any fetch; an argument after
 * its own fetch; a string test only on the whole record.
 */
function predicateRank(p: CheckedPredicate, fetches: readonly FetchProgram[]): StageRank {
  switch (p.test.kind) {
    case 'cpu': case 'cpu_in_mask': return BEFORE;
    case 'never': case 'integer': case 'integer_in_mask': break;
    case 'function': return p.field.origin === 'event' ? rankOfField(p, fetches) : 0;
    default: return LAST;
  }
  if (p.field.origin === 'common') return p.field.name === 'common_pid' || p.field.name === 'common_type' ? BEFORE : 0;
  if (p.field.origin !== 'event') return 0;
  const f = fetches.find((x) => x.argName === p.field.name);
  return f && fetchedBeforeRecord(f) ? BEFORE : rankOfField(p, fetches);
}

function rankOfField(p: CheckedPredicate, fetches: readonly FetchProgram[]): FetchRank {
  const f = fetches.find((x) => x.argName === p.field.name);
  return f ? fetchRank(f) : 0;
}

/**
 * A register or a constant stored as it is, inside the window before the
 * record, at an offset aligned to its size: the verifier refuses a
 * misaligned stack access (the record, a map value or a ring buffer
 * reservation, packs its fields as the kernel does).
 */
export function fetchedBeforeRecord(f: FetchProgram): boolean {
  if (fetchRank(f) !== 0 || (f.source.op !== 'reg' && f.source.op !== 'imm') || f.store.op !== 'raw') return false;
  const at = RECORD_PREFIX_SIZE + f.fieldOffset;
  return at % f.store.size === 0 && at + f.store.size <= BEFORE_WINDOW;
}

const conjunctRank = (e: CheckedExpr, fetches: readonly FetchProgram[]): StageRank =>
  predicatesOf(e).reduce<StageRank>((r, p) => Math.max(r, predicateRank(p, fetches)) as StageRank, BEFORE);

const andOf = (terms: readonly CheckedExpr[]): CheckedExpr => (terms.length === 1 ? terms[0]! : { kind: 'and', terms });

function subFilter(filter: CheckedFilter, terms: readonly CheckedExpr[]): CheckedFilter {
  const preds = new Set(terms.flatMap(predicatesOf));
  return { text: filter.text, expr: andOf(terms), predicates: filter.predicates.filter((p) => preds.has(p)) };
}

/**
 * The fetch order and filter checks of one program: fetches by rank (stable),
 * each conjunct tested right after the last rank it needs when a costlier
 * fetch follows, the remaining conjuncts on the whole record. With nothing
 * to move, this is the one check on the whole record.
 */
export function planFilter(program: ProbeProgram, filter: CheckedFilter): FilterPlan {
  const whole: FilterPlan = { fetches: program.fetches, beforeFetches: [], stages: [{ after: program.fetches.length, filter, skips: [] }] };
  const terms = conjuncts(filter.expr);
  const ranks = terms.map((c) => conjunctRank(c, program.fetches));
  const fetches = ([0, 1, 2] as const).flatMap((r) => program.fetches.filter((f) => fetchRank(f) === r));
  const stages: FilterStage[] = [];
  let late = terms.map((_, i) => i);
  let beforeFetches: FetchProgram[] = [];
  // before the record: always worth it (no reservation, no prefix helpers for a dropped hit)
  const before = late.filter((i) => ranks[i] === BEFORE);
  if (before.length > 0) {
    const sub = subFilter(filter, before.map((i) => terms[i]!));
    const named = new Set(sub.predicates.map((p) => p.field.name));
    beforeFetches = program.fetches.filter((f) => named.has(f.argName));
    stages.push({ after: BEFORE, filter: sub, skips: ['the record'] });
    late = late.filter((i) => ranks[i] !== BEFORE);
  }
  for (const r of [0, 1] as const) {
    const after = fetches.filter((f) => fetchRank(f) <= r).length;
    if (after === fetches.length) break;
    const now = late.filter((i) => ranks[i]! <= r);
    if (now.length === 0) continue;
    stages.push({ after, filter: subFilter(filter, now.map((i) => terms[i]!)), skips: fetches.slice(after).map((f) => f.argName) });
    late = late.filter((i) => ranks[i]! > r);
  }
  if (stages.length === 0) return whole;
  if (late.length > 0) stages.push({ after: fetches.length, filter: subFilter(filter, late.map((i) => terms[i]!)), skips: [] });
  // with nothing tested between fetches, they keep their order
  return { fetches: stages.some((s) => s.after !== BEFORE && s.skips.length > 0) ? fetches : program.fetches, beforeFetches, stages };
}
