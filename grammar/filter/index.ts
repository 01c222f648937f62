// Public face of the event filter front end: text in, the kernel's checked
// filter (or its exact refusal) out. See parser.ts (syntax), resolve.ts
// (fields and types), evaluate.ts (what the kernel keeps).
export type { FilterAst, FilterExpr, FilterOp, FilterPredicateNode, FilterValue, Span } from './ast.js';
export type { CheckedExpr, CheckedFilter, CheckedPredicate, Compare, PredicateTest, StringSource } from './checked.js';
export { compileFilter, type CompileFilterOptions } from './compile.js';
export { FILTER_ERR, FilterSyntaxError, type FilterErrorCode } from './errors.js';
export { COMMON_FIELDS, fieldsFromFormat, filterTypeOf, findFilterField, type EventField, type FilterField, type FilterType } from './fields.js';
export { applyGroupFilter, GROUP_FILTER_FILE, type GroupFilterResult } from './group.js';
export { kallsymsHost, localFilterHost, type FilterHost } from './host.js';
export { evaluateFilter, type FilterRecord } from './evaluate.js';
export { classifyGlob, globMatch, type MatchKind, type StringMatch } from './regex.js';
export { parseFilter } from './parser.js';
export { resolveFilter } from './resolve.js';
export { clearsFilter, filterReadback, FilterOptionError, parseFilterOption, splitDefinitionFilter, type FilterOption } from './syntax.js';
export { filterRulesFor, runningKernelRules, type FilterRules } from './versions.js';
