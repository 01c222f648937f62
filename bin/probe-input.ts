// The -e LINE / -f FILE / --legacy input every subcommand shares: the lines
// are read in order, parsed like the kernel parses them (stopping at the first
// bad line), and removals (-:) applied, leaving the definitions to act on.
import { readFileSync } from 'node:fs';
import type { ProbeCommand, ProbeDefinition } from '../grammar/ast.js';
import { KprobeBpfError } from '../lib/errors.js';
import { applyRemoval } from '../grammar/append.js';
import type { CheckedFilter } from '../grammar/filter/index.js';
import type { CompiledObject, ObjectOptions } from '../compiler/object.js';
import { mark } from '../lib/timing.js';
import { TRIGGER_HELP } from './trigger-input.js';
import type { CountPlan } from '../compiler/trigger-codegen.js';
import type { HistPlan } from '../compiler/hist-layout.js';
import type { TriggerWrites } from '../compiler/abi.js';

export const INPUT_OPTIONS = {
  e: { type: 'string', short: 'e', multiple: true },
  f: { type: 'string', short: 'f', multiple: true },
  legacy: { type: 'boolean' },
  kernel: { type: 'string' },
  btf: { type: 'string' },
  filter: { type: 'string', multiple: true },
  trigger: { type: 'string', multiple: true },
} as const;

export const KERNEL_HELP = [
  '  --kernel V   check the lines with the rules of kernel version V (6.1, 6.12, 6.18...)',
  '               as its kprobe_events/uprobe_events would; default: the running kernel\'s',
  '  --btf FILE   the kernel BTF (a copy of its /sys/kernel/btf/vmlinux) that BTF arguments are',
  '               named, checked and typed with; default: the running kernel\'s',
  '  --btf DIR    the same from a copy of its /sys/kernel/btf directory (vmlinux and one file per',
  '               module): a module function\'s arguments are typed from its module\'s file',
].join('\n');

export const INPUT_HELP = [
  '  -e LINE      a probe definition, as written to kprobe_events/uprobe_events (repeatable)',
  '  -f FILE      read definitions from FILE, one per line, # comments (repeatable; - is stdin)',
  '  --legacy     accept the 2009 syntax (aN, sN, rv, ra, unnamed events)',
  KERNEL_HELP,
  '  LINE if FILTER, --filter GRP/EVENT:FILTER, --filter GRP:FILTER',
  '               an event\'s (or a group\'s) filter in the kernel\'s events/.../filter language;',
  '               only records it keeps leave the program (repeatable; a later one replaces)',
  TRIGGER_HELP,
].join('\n');

export interface InputValues {
  e?: string[];
  f?: string[];
  legacy?: boolean;
  kernel?: string;
  btf?: string;
  filter?: string[];
  trigger?: string[];
}

/** The whole input text: -f files then -e lines, in the order given per kind. */
export function inputText(v: InputValues): string {
  const parts: string[] = [];
  for (const f of v.f ?? []) parts.push(readFileSync(f === '-' ? 0 : f, 'utf8'));
  for (const e of v.e ?? []) parts.push(e);
  return parts.join('\n');
}

/** An input the kernel would take line by line but that makes no set of probes (twice defined, removal of nothing). */
export class InputError extends KprobeBpfError {}

const key = (group: string | undefined, event: string) => `${group ?? '*'}/${event}`;

/** Applies `-:[GRP/]EVENT` removals to the definitions that precede them. */
export function applyRemovals(commands: readonly ProbeCommand[]): ProbeDefinition[] {
  const defs: ProbeDefinition[] = [];
  for (const c of commands) {
    // a name defined again is one more probe of that event (the grammar refused what the kernel refuses)
    if (c.op === 'define') {
      defs.push(c);
      continue;
    }
    // kernel: `-:GRP/` (no event) removes every event of the group; words after the name, the probe they name
    if (applyRemoval(defs, c) === 0) throw new InputError(`${c.source}: no such event ${key(c.group, c.event || '*')} in the input`);
  }
  return defs;
}

/**
 * --kernel VERSION: prints the one-line usage error for a version the rules
 * table does not know and gives the exit status (2); undefined when usable.
 */
export async function kernelUsageError(v: { kernel?: string | undefined }, command: string): Promise<number | undefined> {
  if (v.kernel === undefined) return undefined;
  const { unknownKernelReason } = await import('../grammar/index.js');
  const reason = unknownKernelReason(v.kernel);
  if (reason === undefined) return undefined;
  process.stderr.write(`kprobe-bpf ${command}: --kernel: ${reason}\n`);
  return 2;
}

/**
 * Reads and parses the input (with the rules of --kernel, else the running kernel's); on a syntax error prints what the kernel would
 * append to tracing/error_log and resolves to undefined.
 */
export async function readDefinitions(v: InputValues): Promise<ProbeDefinition[] | undefined> {
  const { parseProbeCommands, ProbeSyntaxError, formatErrorLog, selectKernel } = await import('../grammar/index.js');
  mark('module load (grammar)');
  try {
    const rules = selectKernel(v.kernel).probe;
    const { tracefsAttachedEvents } = await import('./attached-events.js');
    const { commands } = parseProbeCommands(inputText(v), {
      legacy: v.legacy ?? false, rules, attachedEvent: tracefsAttachedEvents(), ...(v.btf !== undefined ? { btf: v.btf } : {}),
    });
    mark('grammar');
    return applyRemovals(commands);
  } catch (e) {
    if (e instanceof ProbeSyntaxError) {
      process.stderr.write(formatErrorLog(e) + '\n');
      return undefined;
    }
    throw e;
  }
}

/** Definitions and the filter each event ends up with. */
export interface FilteredDefinitions {
  readonly defs: ProbeDefinition[];
  readonly filters: ReadonlyMap<string, CheckedFilter>;
  /** The events' hist triggers (--trigger). */
  readonly hists?: readonly HistPlan[];
  /** The --trigger writes behind `hists` and the release they were read as (an object records them). */
  readonly triggerWrites?: TriggerWrites;
  /** The events' stacktrace, traceon and traceoff triggers (--trigger). */
  readonly counts?: readonly CountPlan[];
  /** --btf FILE: the kernel BTF the lines were checked against, which compiling them reads too. */
  readonly btf?: string;
}

/**
 * Like readDefinitions, with `if FILTER` on lines and --filter options; a
 * refused filter is printed as the kernel's error_log entry (resolves to undefined).
 */
export async function readFilteredDefinitions(v: InputValues): Promise<FilteredDefinitions | undefined> {
  const { parseProbeCommands, ProbeSyntaxError, formatErrorLog, selectKernel } = await import('../grammar/index.js');
  const { FilterOptionError } = await import('../grammar/filter/index.js');
  const { filterOptions, filtersByCommand, filterWrites, resolveFilters, splitLineFilters } = await import('./filter-input.js');
  mark('module load (grammar)');
  let defs: ProbeDefinition[];
  let writes;
  try {
    const split = splitLineFilters(inputText(v));
    const { tracefsAttachedEvents } = await import('./attached-events.js');
    const { commands } = parseProbeCommands(split.text, {
      legacy: v.legacy ?? false, rules: selectKernel(v.kernel).probe, attachedEvent: tracefsAttachedEvents(), ...(v.btf !== undefined ? { btf: v.btf } : {}),
    });
    defs = applyRemovals(commands);
    writes = filterWrites(filtersByCommand(commands, split.filters), filterOptions(v.filter));
  } catch (e) {
    if (e instanceof ProbeSyntaxError) { process.stderr.write(formatErrorLog(e) + '\n'); return undefined; }
    if (e instanceof FilterOptionError) { process.stderr.write(`kprobe-bpf: ${e.message}\n`); return undefined; }
    throw e;
  }
  const resolved = await resolveFilters(defs, writes, v.kernel);
  if (!resolved) return undefined;
  mark('grammar');
  const btf = v.btf !== undefined ? { btf: v.btf } : {};
  if (!v.trigger?.length) return { defs, filters: resolved.filters, ...btf };
  const { triggerPlans, readTriggers } = await import('./trigger-input.js');
  const triggers = await readTriggers(defs, v.trigger, v.kernel);
  const plans = triggers && await triggerPlans(triggers);
  return plans && {
    defs, filters: resolved.filters, hists: plans.hists, counts: plans.counts,
    triggerWrites: { writes: v.trigger, ...(v.kernel !== undefined ? { kernel: v.kernel } : {}) }, ...btf,
  };
}

/** Compiles the definitions with their filters; a filter BPF cannot express is reported (resolves to undefined). */
export async function compileFiltered(input: FilteredDefinitions, opts: Omit<ObjectOptions, 'filters' | 'hists' | 'counts'>): Promise<CompiledObject | undefined> {
  const { compileDefinitions } = await import('../compiler/object.js');
  const { FilterCodegenError } = await import('../compiler/filter-codegen.js');
  const { btfLowerOptions } = await import('../compiler/lower.js');
  try {
    return compileDefinitions(input.defs, { ...opts, ...btfLowerOptions(input.btf), filters: input.filters, ...(input.hists ? { hists: input.hists } : {}), ...(input.counts ? { counts: input.counts } : {}), ...(input.triggerWrites ? { triggerWrites: input.triggerWrites } : {}) });
  } catch (e) {
    if (!(e instanceof FilterCodegenError)) throw e;
    process.stderr.write(`kprobe-bpf: filter not compiled: ${e.message}\n`);
    return undefined;
  }
}

/**
 * node's parseArgs refuses `-e -:EVENT` (a value that looks like an option);
 * a removal line is exactly that, so such values are attached to their flag.
 */
export function normalizeArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if ((a === '-e' || a === '-f') && next !== undefined && next.startsWith('-') && next !== '--') {
      out.push(`${a}${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}
