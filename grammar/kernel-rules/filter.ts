// What the event filter language (kernel/trace/trace_events_filter.c) does
// on a given kernel: the fields the rules table sets per version.

export interface FilterRules {
  /** The kernel version these rules describe, "MAJOR.MINOR". */
  readonly version: string;
  /** `FIELD.function == SYMBOL` (6.3). */
  readonly functionSuffix: boolean;
  /** `CPUS{list}` values and `__data_loc cpumask_t` fields (6.6). */
  readonly cpus: boolean;
  /** The generic `stacktrace`/`STACKTRACE` field (present in 6.12, absent in 6.1). */
  readonly stacktraceField: boolean;
  /**
   * A filter that ends after `&&`, `||` or `!` (e.g. `a == 1 &&`): accepted by
   * 6.1 and 6.12 (predicate_parse's loop just ends), refused by 6.18 with
   * "Meaningless filter expression" at the end of the text.
   */
  readonly trailingOperator: 'accept' | 'refuse';
}

/**
 * 6.1.4 = 6.1.176 source (filters-and-modern-events.md §1, §3), except the
 * trailing operator: the live Debian 6.1.0-57 guest refuses `a == 1 &&` with
 * "Meaningless filter expression" as 6.18 does (a stable backport), while
 * the live 6.12.95 guest accepts it (test/guest/filter-kprobe.test.ts).
 */
export const FILTER_BASE: Omit<FilterRules, 'version'> = {
  functionSuffix: false, cpus: false, stacktraceField: false, trailingOperator: 'refuse',
};
