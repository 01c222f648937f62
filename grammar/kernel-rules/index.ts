// The rules of one kernel version for both grammars: the probe lines
// (kprobe_events/uprobe_events) and the event filters. One table (table.ts)
// keyed by version; --kernel and the running kernel's release pick a row.
import { FILTER_BASE, type FilterRules } from './filter.js';
import { PROBE_BASE, type ProbeRules } from './probe.js';
import { CHANGES } from './table.js';
import { majorMinor, runningRelease, UnknownKernelError, versionKey } from './version.js';

export type { FilterRules } from './filter.js';
export type { ProbeRules } from './probe.js';
export { CHANGES, type Change, type Row } from './table.js';
export { majorMinor, runningRelease, UnknownKernelError, versionKey } from './version.js';

export interface KernelRules {
  /** "MAJOR.MINOR" */
  readonly version: string;
  readonly probe: ProbeRules;
  readonly filter: FilterRules;
}

/** The versions the table has a row for, oldest first. */
export const KNOWN_KERNELS: readonly string[] = CHANGES.map((r) => r.version);
/** The kernels whose rules were checked against their own tracers (the differential tests). */
export const CHECKED_KERNELS: readonly string[] = ['6.1', '6.12', '6.18'];

const OLDEST = KNOWN_KERNELS[0]!;
const NEWEST = KNOWN_KERNELS[KNOWN_KERNELS.length - 1]!;

/** rulesAt's answers by "MAJOR.MINOR" (all it depends on): every parse asks for the running kernel's. */
const rulesCache = new Map<string, KernelRules>();

/** The rows at or below `version`, applied in order; no range check (the filter API's lookup). */
export function rulesAt(version: string): KernelRules {
  const v = majorMinor(version);
  let rules = rulesCache.get(v);
  if (rules === undefined) rulesCache.set(v, (rules = buildRules(version, v)));
  return rules;
}

function buildRules(version: string, v: string): KernelRules {
  const key = versionKey(version);
  let probe = PROBE_BASE;
  let filter = FILTER_BASE;
  for (const { version: since, change } of CHANGES) {
    if (versionKey(since) > key) break;
    probe = { ...probe, ...change.probe };
    filter = { ...filter, ...change.filter };
  }
  // frozen: one object now serves every caller
  return Object.freeze({ version: v, probe: Object.freeze({ version: v, ...probe }), filter: Object.freeze({ version: v, ...filter }) });
}

/** Why `version` cannot be used, in one line; undefined when the table describes it. */
export function unknownKernelReason(version: string): string | undefined {
  const known = `known: ${OLDEST} to ${NEWEST} (rows ${KNOWN_KERNELS.join(', ')}; checked on ${CHECKED_KERNELS.join(', ')})`;
  if (!/^\d+\.\d+(?:[.-]\S*)?$/.test(version)) return `'${version}' is not a kernel version; ${known}`;
  const key = versionKey(version);
  if (key < versionKey(OLDEST) || key > versionKey(NEWEST)) return `unknown kernel version '${version}'; ${known}`;
  return undefined;
}

/**
 * The rules of kernel `version` ("6.1", "6.12.107", "6.1.0-57-amd64"): every
 * version from the oldest row to the newest is described by the rows below
 * it. Anything else throws UnknownKernelError, saying which are known.
 */
export function kernelRules(version: string): KernelRules {
  const reason = unknownKernelReason(version);
  if (reason) throw new UnknownKernelError(reason);
  return rulesAt(version);
}

/** The running kernel's rules, picked on first use. */
let hostRules: KernelRules | undefined;

/**
 * The rules of the kernel this process runs on. A kernel older than the
 * table gets the oldest row, a newer one the newest: the closest rules known.
 */
export function runningKernel(release?: string): KernelRules {
  // the host's rules are asked for every parse: picked once (uname cannot change while the process runs)
  if (release === undefined) return (hostRules ??= runningKernel(runningRelease()));
  // (versionKey and rulesAt both read only MAJOR.MINOR, and rulesAt remembers its answer)
  const key = versionKey(release);
  if (key < versionKey(OLDEST)) return rulesAt(OLDEST);
  if (key > versionKey(NEWEST)) return rulesAt(NEWEST);
  return rulesAt(release);
}

/** --kernel VERSION if given, else the running kernel's. */
export const selectKernel = (version: string | undefined): KernelRules =>
  (version === undefined ? runningKernel() : kernelRules(version));
