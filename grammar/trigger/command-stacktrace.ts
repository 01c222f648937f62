// `stacktrace` as a hist key. Kernels with the generic `common_stacktrace`
// field (6.12 in the guests; the same kernels give filters a `stacktrace`
// field, FilterRules.stacktraceField) take both names and print the key as
// `common_stacktrace`; older ones (6.1) know only `stacktrace` and refuse
// `common_stacktrace` as a field they cannot find.
import type { FilterRules } from '../filter/index.js';

export const isStacktraceKey = (text: string, rules: FilterRules): boolean =>
  text === 'stacktrace' || (text === 'common_stacktrace' && rules.stacktraceField);

/** kernel: hist_field_name of the stacktrace key, as `trigger info:` and the table print it. */
export const stacktraceKeyName = (rules: FilterRules): string => (rules.stacktraceField ? 'common_stacktrace' : 'stacktrace');
