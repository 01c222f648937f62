// The filter as written: predicates with their source spans (byte offsets
// into the stored text), joined by a tree of &&, || and !. Names and values
// are byte strings (one char per byte, ctype.ts), as the kernel compares
// them. Nothing here knows an event's fields; resolve.ts checks against them.
import type { FilterErrorAt } from './errors.js';

/** kernel: OPS, in the order the parser tries them ("<=" before "<"). */
export const FILTER_OPS = ['~', '!=', '==', '<=', '<', '>=', '>', '&'] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

export interface Span { readonly start: number; readonly end: number }

export type FilterValue =
  /** 'text' or "text": no escapes, the text between the quotes. */
  | { readonly kind: 'string'; readonly quote: '"' | "'"; readonly text: string; readonly span: Span }
  /** [-]digits-and-letters, converted later by the field's signedness. */
  | { readonly kind: 'number'; readonly text: string; readonly span: Span }
  /** CPUS{list} (6.6+): the list between the braces. */
  | { readonly kind: 'cpus'; readonly list: string; readonly span: Span }
  /** After FIELD.function: a number (an address) ... */
  | { readonly kind: 'address'; readonly text: string; readonly span: Span }
  /** ... or a bare symbol name, up to the next whitespace. */
  | { readonly kind: 'symbol'; readonly text: string; readonly span: Span }
  /**
   * Not parsed: the predicate stopped with a syntax error first. `branch` is
   * the kind of value the kernel had started to read, which decides the
   * field checks it made before giving up.
   */
  | { readonly kind: 'none'; readonly branch?: 'cpus' | 'string' | 'number'; readonly span: Span };

export interface FilterPredicateNode {
  readonly field: { readonly name: string; readonly span: Span };
  /** FIELD.ustring: a `char *` field read from user memory. */
  readonly ustring: boolean;
  /** FIELD.function: the field is an address tested against a function's range (6.3+). */
  readonly function: boolean;
  readonly op?: { readonly text: FilterOp; readonly span: Span };
  readonly value: FilterValue;
  readonly span: Span;
  /**
   * The syntax error that ended parsing inside this predicate. The kernel
   * reports it only after this predicate's field checks (field lookup, the
   * operator against the field type...), so it waits for the resolver.
   */
  readonly stop?: FilterErrorAt;
}

/** && and || are n-ary; `pred` refers to FilterAst.predicates by index. */
export type FilterExpr =
  | { readonly kind: 'and' | 'or'; readonly terms: readonly FilterExpr[] }
  | { readonly kind: 'not'; readonly term: FilterExpr }
  | { readonly kind: 'pred'; readonly index: number };

export interface FilterAst {
  /** The filter as the kernel stores it: the write with trailing whitespace removed. */
  readonly text: string;
  /** Predicates in source order (the order the kernel checks them). */
  readonly predicates: readonly FilterPredicateNode[];
  /** The tree, when the whole text parsed. */
  readonly expr?: FilterExpr;
  /** A refusal found outside any predicate, reported after every predicate's own checks. */
  readonly stop?: FilterErrorAt;
}
