// Where the filter language changed between kernel versions: one table, one
// row per change, keyed by the first version that has it. Facts from
// kernel/trace/trace_events_filter.c and trace_events.c of 6.1.176, 6.12.107
// and the live 6.18 (shared/design/filters-and-modern-events.md §1, §3).
import { release } from 'node:os';

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

type Change = Partial<Omit<FilterRules, 'version'>>;

/**
 * The changes, oldest first. A version gets every row at or below it.
 * The trailing-operator row is keyed by the first version it was seen on
 * (6.18, live); the source of 6.12 still accepts, the versions between were
 * not checked.
 */
const CHANGES: ReadonlyArray<readonly [version: string, change: Change, source: string]> = [
  ['6.1', { functionSuffix: false, cpus: false, stacktraceField: false, trailingOperator: 'accept' }, '6.1.4 = 6.1.176 source'],
  ['6.3', { functionSuffix: true }, 'parse_pred .function, 6.3 merge'],
  ['6.6', { cpus: true }, 'CPUS{} and FILTER_CPUMASK, 6.6 merge'],
  ['6.12', { stacktraceField: true }, 'trace_define_generic_fields in 6.12.107 (first mainline version not established)'],
  ['6.18', { trailingOperator: 'refuse' }, 'live 6.18: "a == 1 &&" refused; 6.12.107 source accepts'],
];

const versionKey = (v: string): number => {
  const m = /^(\d+)\.(\d+)/.exec(v);
  if (!m) throw new RangeError(`not a kernel version: ${JSON.stringify(v)}`);
  return Number(m[1]) * 1000 + Number(m[2]);
};

/** The rules of kernel `version` ("6.1", "6.12.107", a uname -r release...). */
export function filterRulesFor(version: string): FilterRules {
  const key = versionKey(version);
  let rules: Omit<FilterRules, 'version'> = { functionSuffix: false, cpus: false, stacktraceField: false, trailingOperator: 'accept' };
  for (const [since, change] of CHANGES) if (versionKey(since) <= key) rules = { ...rules, ...change };
  const m = /^(\d+\.\d+)/.exec(version)!;
  return { version: m[1]!, ...rules };
}

/** The rules of the kernel this process runs on (uname -r). */
export const runningKernelRules = (): FilterRules => filterRulesFor(release());
