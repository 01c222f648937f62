// A filter checked against one event: every predicate bound to its field,
// with the test the kernel would run (its filter_pred fn_num, the constant
// already converted and truncated as the kernel stores it). This is what
// code generation and the reference evaluator consume.
import type { FilterOp, FilterPredicateNode } from './ast.js';
import type { FilterField } from './fields.js';
import type { StringMatch } from './regex.js';

export type Compare = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'band';

/** Where a string predicate finds its string (kernel: FILTER_PRED_FN_STRING/STRLOC/STRRELLOC/PCHAR/PCHAR_USER/COMM). */
export type StringSource = 'static' | 'dynamic' | 'relative' | 'pointer' | 'user_pointer' | 'comm';

export type PredicateTest =
  /** FILTER_PRED_FN_NOP: never true (a field of 3, 5, 16... bytes; `cpu & N`). */
  | { readonly kind: 'never' }
  /**
   * A field of 1, 2, 4 or 8 bytes against a constant. `value` is the C value
   * of `(type)pred->val`: unsigned of `width` bits for eq/ne (compared as
   * raw bits), the field's own signedness for lt..ge and band.
   */
  | { readonly kind: 'integer'; readonly compare: Compare; readonly width: 8 | 16 | 32 | 64; readonly signed: boolean; readonly value: bigint }
  /** The running CPU (an int) against an int constant; `band` never reaches here. */
  | { readonly kind: 'cpu'; readonly compare: Exclude<Compare, 'band'>; readonly value: number }
  /** The running CPU against a CPUS{} of two or more CPUs (or none). */
  | { readonly kind: 'cpu_in_mask'; readonly compare: 'eq' | 'ne' | 'band'; readonly cpus: readonly number[] }
  /** An integer field read as a CPU number against a CPUS{} of two or more CPUs (or none). */
  | { readonly kind: 'integer_in_mask'; readonly compare: 'eq' | 'ne' | 'band'; readonly width: 8 | 16 | 32 | 64; readonly cpus: readonly number[]; readonly nrCpuIds: number }
  /** A cpumask field against CPUS{}: equal, not equal, intersects (over nr_cpu_ids bits). */
  | { readonly kind: 'cpumask'; readonly compare: 'eq' | 'ne' | 'band'; readonly cpus: readonly number[]; readonly nrCpuIds: number }
  /** A cpumask field against a single CPU. */
  | { readonly kind: 'cpumask_has_cpu'; readonly compare: 'eq' | 'ne' | 'band'; readonly cpu: number; readonly nrCpuIds: number }
  /** A string field or comm; `not` folds `!=` and the pattern's leading '!'. `length` is the static field's size. */
  | { readonly kind: 'string'; readonly source: StringSource; readonly match: StringMatch; readonly not: boolean; readonly length: number }
  /** FIELD.function: the field's value inside [start, end) (eq) or outside (ne). */
  | { readonly kind: 'function'; readonly not: boolean; readonly start: bigint; readonly end: bigint };

export interface CheckedPredicate {
  readonly field: FilterField;
  readonly op: FilterOp;
  readonly node: FilterPredicateNode;
  readonly test: PredicateTest;
}

export type CheckedExpr =
  | { readonly kind: 'and' | 'or'; readonly terms: readonly CheckedExpr[] }
  | { readonly kind: 'not'; readonly term: CheckedExpr }
  | { readonly kind: 'pred'; readonly pred: CheckedPredicate };

export interface CheckedFilter {
  /** The filter text as the kernel stores it and reads it back. */
  readonly text: string;
  readonly expr: CheckedExpr;
  /** In source order. */
  readonly predicates: readonly CheckedPredicate[];
}
