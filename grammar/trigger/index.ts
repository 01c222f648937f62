// Public face of the event trigger language (events/GRP/EVENT/trigger):
// `hist:` histograms, `stacktrace`, `traceon`, `traceoff`.
export type { CountTrigger, EventTrigger, HistField, HistModifier, HistOperator, HistSortKey, HistTrigger } from './ast.js';
export { applyOperator, divideByConstant, HIST_DIV_SHIFT, type HistVariable } from './hist-field.js';
export { HIST_KEY_SIZE_MAX, HIST_STACKTRACE_DEPTH, MAX_FILTER_STR_VAL, TRACING_MAP } from './ast.js';
export { parseEventTrigger, type TriggerParseOptions } from './command.js';
export { HIST_ERR, TriggerError, type HistErrorCode } from './errors.js';
export { keySizeOf, parseHistTrigger } from './hist.js';
export { countTriggerInfo, histFieldText, histTriggerInfo } from './readback.js';
export { TriggerUnsupportedError } from './unsupported.js';
