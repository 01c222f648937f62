// The filter language's view of the rules table (grammar/kernel-rules/), which
// holds the probe and filter rows of every kernel version in one place.
import { rulesAt, runningKernel, type FilterRules } from '../kernel-rules/index.js';

export type { FilterRules } from '../kernel-rules/index.js';

/** The rules of kernel `version` ("6.1", "6.12.107", a uname -r release...). */
export const filterRulesFor = (version: string): FilterRules => rulesAt(version).filter;

/** The rules of the kernel this process runs on (uname -r). */
export const runningKernelRules = (): FilterRules => runningKernel().filter;
