// A definition that names an event already defined: the kernel adds it to
// that event as one more probe (Linux 5.5+, one event, several places) when
// it is the same kind of probe with the same arguments by name and type, and
// refuses it otherwise (register_trace_{k,u}probe, append_trace_*probe,
// trace_probe_compare_arg_type; eprobes never share an event).
import type { ProbeCommand, ProbeDefinition, ProbeArg, ProbeRemoval, Tracer } from './ast.js';
import { placeText } from './format.js';
import type { ErrorCode } from './errors.js';
import type { FileIdentity } from '../lib/file-identity.js';

/** The refusal: its code and the argv index the kernel's caret is at (offset 0 in that word). */
export interface AppendRefusal { readonly code: ErrorCode; readonly index: number }

/** Which of the kernel's lists of probe events a tracer's definitions go to (fprobe and tracepoint probes share trace_fprobe's). */
const LIST: Readonly<Record<Tracer, string>> = { kprobe: 'kprobe', uprobe: 'uprobe', fprobe: 'fprobe', tprobe: 'fprobe', eprobe: 'eprobe' };

/**
 * Whether a `-:` line removes `d` (kernel: dyn_event_release through each
 * tracer's match): by group and event (`-:GRP/` every event of the group);
 * with words after the name, only a probe whose place reads back as the first
 * and whose first arguments read back as the rest (`NAME=BODY`), so one probe
 * of an event of several can go.
 */
export function removalMatches(c: ProbeRemoval, d: ProbeDefinition): boolean {
  if (!((c.event === '' || d.event === c.event) && (c.group === undefined || d.group === c.group))) return false;
  const words = c.args ?? [];
  if (words.length === 0) return true;
  if (words[0] !== placeText(d) || words.length - 1 > d.args.length) return false;
  return words.slice(1).every((w, i) => w === `${d.args[i]!.name}=${d.args[i]!.source}`);
}

/** Takes out of `alive` the definitions the `-:` line `c` removes; returns how many. */
export function applyRemoval(alive: ProbeDefinition[], c: ProbeRemoval): number {
  const before = alive.length;
  for (let i = alive.length - 1; i >= 0; i--) if (removalMatches(c, alive[i]!)) alive.splice(i, 1);
  return before - alive.length;
}

/** The definitions an input has made and not removed yet, in order. */
export function aliveDefinitions(commands: readonly ProbeCommand[]): ProbeDefinition[] {
  const alive: ProbeDefinition[] = [];
  for (const c of commands) {
    if (c.op === 'define') alive.push(c);
    else applyRemoval(alive, c);
  }
  return alive;
}

/** kernel: trace_probe_compare_arg_type — 0 when alike, else the first differing argument's number (1-based; count + 1 past the shorter list). */
function compareArgs(a: readonly ProbeArg[], b: readonly ProbeArg[]): number {
  if (a.length !== b.length) return Math.min(a.length, b.length) + 1;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    // the fetch type (a bitfield's is its container's) and the array count, not how the value is read
    if (x.type.base !== y.type.base || (x.type.arrayLength ?? 0) !== (y.type.arrayLength ?? 0) || x.name !== y.name) return i + 1;
  }
  return 0;
}

/**
 * Whether two probes sit on one place: a uprobe's file by identity (a link is
 * the same file; stat'ed only when the offsets agree), any other place as it
 * reads back.
 */
export function samePlace(a: ProbeDefinition, b: ProbeDefinition, identity: FileIdentity): boolean {
  const p = a.point, q = b.point;
  if (p.kind === 'file' || p.kind === 'file-symbol') {
    if (q.kind !== p.kind || p.offset !== q.offset || (p.kind === 'file-symbol' && q.kind === 'file-symbol' && p.symbol !== q.symbol)) return false;
    return identity(p.path) === identity(q.path);
  }
  return q.kind === p.kind && placeText(a) === placeText(b);
}

/** Tracepoint probes and fprobes share a list, not a kind. */
const kindOf = (d: ProbeDefinition): string => `${d.tracer === 'tprobe' ? 't' : 'f'}${d.isReturn ? 'r' : 'p'}`;

/**
 * Why the kernel refuses `def` as one more probe of an event `alive` already
 * has (its first probe with that name), or undefined when it takes it (or
 * no such event exists).
 */
export function appendRefusal(def: ProbeDefinition, alive: readonly ProbeDefinition[], identity: FileIdentity): AppendRefusal | undefined {
  const named = alive.filter((d) => d.group === def.group && d.event === def.event);
  if (named.length === 0) return undefined;
  const probes = named.filter((d) => LIST[d.tracer] === LIST[def.tracer]);
  // another tracer's event of that name (or an eprobe's, which takes no second probe): registering the event fails
  if (probes.length === 0 || def.tracer === 'eprobe') return { code: 'EVENT_EXIST', index: 0 };
  const first = probes[0]!;
  if (kindOf(def) !== kindOf(first)) return { code: 'DIFF_PROBE_TYPE', index: 0 };
  const n = compareArgs(def.args, first.args);
  if (n !== 0) return { code: 'DIFF_ARG_TYPE', index: n + 1 };
  const same = probes.some((p) => samePlace(p, def, identity) && p.args.every((a, i) => a.source === def.args[i]!.source));
  return same ? { code: 'SAME_PROBE', index: 0 } : undefined;
}
