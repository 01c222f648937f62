// Public face of the event filter front end: text in, the kernel's checked
// filter (or its exact refusal) out. See parser.ts (syntax), resolve.ts
// (fields and types), evaluate.ts (what the kernel keeps).
import type { CheckedFilter } from './checked.js';
import { toBytes } from './ctype.js';
import { EINVAL, FilterSyntaxError } from './errors.js';
import type { EventField } from './fields.js';
import { localFilterHost, type FilterHost } from './host.js';
import { parseFilter } from './parser.js';
import { resolveFilter } from './resolve.js';
import { runningKernelRules, type FilterRules } from './versions.js';

export type { FilterAst, FilterExpr, FilterOp, FilterPredicateNode, FilterValue, Span } from './ast.js';
export type { CheckedExpr, CheckedFilter, CheckedPredicate, Compare, PredicateTest, StringSource } from './checked.js';
export { FILTER_ERR, FilterSyntaxError, type FilterErrorCode } from './errors.js';
export { COMMON_FIELDS, fieldsFromFormat, filterTypeOf, findFilterField, type EventField, type FilterField, type FilterType } from './fields.js';
export { kallsymsHost, localFilterHost, type FilterHost } from './host.js';
export { evaluateFilter, type FilterRecord } from './evaluate.js';
export { classifyGlob, globMatch, type MatchKind, type StringMatch } from './regex.js';
export { parseFilter } from './parser.js';
export { resolveFilter } from './resolve.js';
export { clearsFilter, filterReadback, FilterOptionError, parseFilterOption, splitDefinitionFilter, type FilterOption } from './syntax.js';
export { filterRulesFor, runningKernelRules, type FilterRules } from './versions.js';

/** kernel: event_filter_write refuses a write of PAGE_SIZE bytes or more before parsing. */
const PAGE_SIZE = 4096;

export interface CompileFilterOptions {
  /** Default: the running kernel's rules. */
  readonly rules?: FilterRules;
  /** Default: this machine's nr_cpu_ids, no kallsyms. */
  readonly host?: FilterHost;
}

/**
 * What writing `written` to an event's `filter` file does: the checked
 * filter, or the FilterSyntaxError the kernel would log (a `0`, which clears
 * the filter, is the caller's to recognise: see clearsFilter).
 */
export function compileFilter(written: string, fields: readonly EventField[], options: CompileFilterOptions = {}): CheckedFilter {
  const rules = options.rules ?? runningKernelRules();
  if (toBytes(written).length >= PAGE_SIZE) throw new FilterSyntaxError(written, { code: 'ERRNO', pos: 0, errno: EINVAL });
  return resolveFilter(parseFilter(written, rules), fields, rules, options.host ?? localFilterHost());
}
