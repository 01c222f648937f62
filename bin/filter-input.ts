// The filter half of the command line: `DEFINITION if FILTER` on -e/-f lines
// and `--filter GRP[/EVENT]:FILTER` options. The `if` part is cut off each
// line before the definition is parsed (kernel rule for eprobes: everything
// after a word that is exactly `if`), keeping the line structure so errors
// still name the right line.
import type { ProbeCommand, ProbeDefinition } from '../grammar/ast.js';
import { sourceLines, splitArgv } from '../grammar/argv.js';
import { FilterOptionError, FilterSyntaxError, parseFilterOption, splitDefinitionFilter, type FilterOption } from '../grammar/filter/index.js';
import type { EventFilters, FilterWrites } from '../compiler/filter-events.js';

/** The text with every `if FILTER` cut off, and the filters of its non-blank lines in order. */
export interface SplitInput {
  readonly text: string;
  readonly filters: readonly (string | undefined)[];
}

export function splitLineFilters(text: string): SplitInput {
  const filters: (string | undefined)[] = [];
  const lines = sourceLines(text).map((line) => {
    const argv = splitArgv(line.text);
    if (argv.length === 0) return line.text;
    // an eprobe's `if FILTER` is its own: the attached event's filter, parsed with the line (grammar/eprobe.ts)
    if (argv[0]![0] === 'e') { filters.push(undefined); return line.text; }
    const split = splitDefinitionFilter(line.text);
    filters.push(split.filter);
    return split.filter === undefined ? line.text : split.definition;
  });
  return { text: lines.join('\n'), filters };
}

/** Pairs each parsed command with its line's filter (one command per non-blank line). */
export function filtersByCommand(commands: readonly ProbeCommand[], filters: readonly (string | undefined)[]): Map<ProbeDefinition, string> {
  const out = new Map<ProbeDefinition, string>();
  commands.forEach((c, i) => {
    const f = filters[i];
    if (c.op === 'define' && f !== undefined) out.set(c, f);
  });
  return out;
}

export function filterOptions(values: readonly string[] | undefined): FilterOption[] {
  return (values ?? []).map(parseFilterOption);
}

/** The writes of an input: its lines' filters and the --filter options. */
export const filterWrites = (byDefinition: ReadonlyMap<ProbeDefinition, string>, options: readonly FilterOption[]): FilterWrites => ({ byDefinition, options });

/**
 * Checks every event's filter; prints a refusal as the kernel's error_log
 * entry (or a usage error) and resolves to undefined. Group misses are
 * printed as the kernel logs them and leave the event unfiltered.
 */
export async function resolveFilters(defs: readonly ProbeDefinition[], writes: FilterWrites, kernel?: string): Promise<EventFilters | undefined> {
  const { resolveEventFilters } = await import('../compiler/filter-events.js');
  const { selectKernel } = await import('../grammar/index.js');
  try {
    const resolved = resolveEventFilters(defs, writes, { rules: selectKernel(kernel).filter });
    for (const m of resolved.groupMisses) process.stderr.write(`${m.event}: ${m.error.toErrorLog()}\n`);
    return resolved;
  } catch (e) {
    if (e instanceof FilterSyntaxError) { process.stderr.write(`${e.toErrorLog()}\n`); return undefined; }
    if (e instanceof FilterOptionError) { process.stderr.write(`kprobe-bpf: ${e.message}\n`); return undefined; }
    throw e;
  }
}
