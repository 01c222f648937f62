// What an event trigger says, as the kernel holds it after parsing
// (kernel: trace_events_hist.c hist_trigger_data / hist_field,
// trace_events_trigger.c event_trigger_data).
import type { CheckedFilter, FilterField } from '../filter/index.js';

/** kernel: get_hist_field_flags, the modifiers a field keeps (`.descending`/`.ascending` belong to sort=). */
export type HistModifier = 'hex' | 'sym' | 'sym-offset' | 'execname' | 'syscall' | 'log2' | 'buckets' | 'usecs';

/** One key or value of a hist trigger. */
export interface HistField {
  /**
   * What the value is: an event field, the running CPU (`common_cpu`,
   * `cpu`), the event's timestamp, the kernel stack (keys only).
   */
  readonly source: 'field' | 'cpu' | 'timestamp' | 'stacktrace' | 'const' | 'expr';
  /** kernel: hist_field_name — the name printed in the table and matched by sort=. */
  readonly name: string;
  readonly field?: FilterField;
  /** The field as a string key: copied up to the kernel's bound (MAX_FILTER_STR_VAL - 1 bytes). */
  readonly string: boolean;
  /** Bytes the value is read with (1, 2, 4, 8) and its sign (sign-extended to u64, as hist_field_s32 and friends). */
  readonly size: number;
  readonly signed: boolean;
  readonly modifier?: HistModifier;
  /** `.buckets=N`. */
  readonly buckets?: bigint;
  /** A numeric literal, or an expression of constants the kernel folded (kernel: HIST_FIELD_FL_CONST). */
  readonly constant?: bigint;
  /** An expression's operator (kernel: field_op_id) and its operands (two; one for unary minus). */
  readonly operator?: HistOperator;
  readonly operands?: readonly HistField[];
  /**
   * The kernel's HIST_FIELD_FL_TIMESTAMP_USECS: `.usecs` on an atom, or an
   * expression's first operand's (expressions must agree on it).
   */
  readonly usecs?: boolean;
  /** A variable definition's name (`ts0=common_timestamp.usecs`): kernel hist_field var.name. */
  readonly varName?: string;
}

/** kernel: FIELD_OP_PLUS, _MINUS, _MULT, _DIV, _UNARY_MINUS. */
export type HistOperator = '+' | '-' | '*' | '/' | 'neg';

/** One sort key: 0 is hitcount, 1.. the values after it, then the keys (kernel: tracing_map field index). */
export interface HistSortKey {
  readonly index: number;
  readonly descending: boolean;
}

export interface HistTrigger {
  readonly kind: 'hist';
  /** `name=`: a named histogram. */
  readonly name?: string;
  readonly keys: readonly HistField[];
  /** The values after hitcount (hitcount is always the first). */
  readonly vals: readonly HistField[];
  /** Variables (`NAME=EXPR`), in the order defined: printed in the trigger info, never in the table. */
  readonly vars: readonly HistField[];
  /** kernel: enable_timestamps — some field read common_timestamp (`:clock=` is printed). */
  readonly timestamps: boolean;
  /** kernel: attrs->ts_in_usecs — some field read common_timestamp.usecs, so every timestamp of the trigger is in usecs. */
  readonly tsInUsecs: boolean;
  /** At least one; default hitcount ascending. */
  readonly sort: readonly HistSortKey[];
  /** kernel: map_bits; the table holds 1 << mapBits entries. */
  readonly mapBits: number;
  readonly pause: boolean;
  readonly cont: boolean;
  readonly clear: boolean;
  /** `clock=` (default `global`): printed in the trigger info when a field is common_timestamp. */
  readonly clock: string;
  /** The trigger's own `if FILTER` (not the event's filter), as the kernel stores it. */
  readonly filter?: CheckedFilter;
}

/** `stacktrace`, `traceon`, `traceoff` with their count and filter. */
export interface CountTrigger {
  readonly kind: 'stacktrace' | 'traceon' | 'traceoff';
  /** Times the trigger may fire; absent: unlimited. */
  readonly count?: bigint;
  readonly filter?: CheckedFilter;
}

export type EventTrigger = HistTrigger | CountTrigger;

/** kernel: TRACING_MAP_BITS_DEFAULT / MIN / MAX, TRACING_MAP_KEYS_MAX / VALS_MAX / SORT_KEYS_MAX / VARS_MAX. */
export const TRACING_MAP = { BITS_DEFAULT: 11, BITS_MIN: 7, BITS_MAX: 17, KEYS_MAX: 3, VALS_MAX: 3, SORT_KEYS_MAX: 2, VARS_MAX: 16 } as const;
/** kernel: MAX_FILTER_STR_VAL, the bytes a string key takes (the string is cut one byte shorter, NUL kept). */
export const MAX_FILTER_STR_VAL = 256;
/** kernel: HIST_STACKTRACE_DEPTH, the frames a stacktrace key holds. */
export const HIST_STACKTRACE_DEPTH = 16;
/** kernel: HIST_KEY_SIZE_MAX. */
export const HIST_KEY_SIZE_MAX = MAX_FILTER_STR_VAL + HIST_STACKTRACE_DEPTH * 8;
