// One write to an event's `filter` file: the text in, the checked filter
// or the kernel's refusal out.
import type { CheckedFilter } from './checked.js';
import { toBytes } from './ctype.js';
import { EINVAL, FilterSyntaxError } from './errors.js';
import type { EventField } from './fields.js';
import { localFilterHost, type FilterHost } from './host.js';
import { parseFilter } from './parser.js';
import { resolveFilter } from './resolve.js';
import { runningKernelRules, type FilterRules } from './versions.js';

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
  if (toBytes(written).length >= PAGE_SIZE) throw new FilterSyntaxError(written, { code: 'ERRNO', pos: 0, errno: EINVAL }, false);
  return resolveFilter(parseFilter(written, rules), fields, rules, options.host ?? localFilterHost());
}
