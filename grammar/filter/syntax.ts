// The filter's places in our command line and files, as pure functions:
// `DEFINITION if FILTER` (the eprobe rule, kernel: trace_eprobe.c
// __trace_eprobe_create / trace_eprobe_parse_filter), `--filter
// GRP[/EVENT]:FILTER`, and what the `filter` file reads back.
import { KprobeBpfError } from '../../lib/errors.js';
import { splitArgv } from '../argv.js';
import { fromBytes, stripBothEnds, stripTrailingSpace, toBytes } from './ctype.js';

/** A definition line's `if` with nothing after it (kernel: NO_EP_FILTER). */
export class FilterOptionError extends KprobeBpfError {}

export interface DefinitionWithFilter {
  /** The words before `if`, joined by single spaces (the kernel's argv). */
  readonly definition: string;
  /** The words after `if`, joined by single spaces (so runs of spaces, even quoted, become one); absent without `if`. */
  readonly filter?: string;
}

/**
 * Splits `p:g/e PLACE ARGS... if FILTER`: the first word from the third on
 * that is exactly `if` starts the filter (the probe word and the place are
 * never taken for it). `if` with nothing after it is refused.
 */
export function splitDefinitionFilter(line: string): DefinitionWithFilter {
  const argv = splitArgv(line);
  const at = argv.indexOf('if', 2);
  if (at < 0) return { definition: argv.join(' ') };
  if (at === argv.length - 1) throw new FilterOptionError("No filter rule after 'if'");
  return { definition: argv.slice(0, at).join(' '), filter: argv.slice(at + 1).join(' ') };
}

export interface FilterOption {
  readonly group: string;
  /** Absent for a group filter (`events/GRP/filter`). */
  readonly event?: string;
  readonly filter: string;
}

/** `--filter GRP/EVENT:FILTER` or `--filter GRP:FILTER`: the target ends at the first ':'. */
export function parseFilterOption(value: string): FilterOption {
  const colon = value.indexOf(':');
  if (colon < 0) throw new FilterOptionError(`--filter ${JSON.stringify(value)}: expected GRP/EVENT:FILTER or GRP:FILTER`);
  const target = value.slice(0, colon);
  const filter = value.slice(colon + 1);
  const slash = target.indexOf('/');
  const group = slash < 0 ? target : target.slice(0, slash);
  const event = slash < 0 ? undefined : target.slice(slash + 1);
  if (!group || event === '' || event?.includes('/')) throw new FilterOptionError(`--filter ${JSON.stringify(value)}: expected GRP/EVENT:FILTER or GRP:FILTER`);
  return { group, ...(event !== undefined ? { event } : {}), filter };
}

/** True when a write clears the filter instead (kernel: !strcmp(strstrip(buf), "0")). */
export const clearsFilter = (written: string): boolean => stripBothEnds(toBytes(written)) === '0';

/**
 * What `cat events/GRP/EVENT/filter` shows (less the final newline) after
 * `written` was accepted: the text with trailing whitespace removed; `none`
 * when no filter is set or `0` cleared it.
 */
export function filterReadback(written: string | undefined): string {
  if (written === undefined || clearsFilter(written)) return 'none';
  return fromBytes(stripTrailingSpace(toBytes(written)));
}
