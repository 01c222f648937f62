// The trigger half of the command line: `--trigger GRP/EVENT:TRIGGER`, a
// write of TRIGGER to events/GRP/EVENT/trigger, in the order given. Each is
// parsed against its event's fields with the kernel's rules; a refusal is
// printed as the kernel reports it (its error_log entry, or the write's
// errno when the kernel logs nothing) and the input is refused.
import type { ProbeDefinition } from '../grammar/ast.js';
import type { EventTrigger, HistField, HistTrigger, HistVariable } from '../grammar/trigger/index.js';
import type { HistPlan, HistSums } from '../compiler/hist-layout.js';
import type { CountPlan } from '../compiler/trigger-codegen.js';
import { LINUX_ERRNO } from '../lib/errno.js';

export const TRIGGER_HELP = [
  '  --trigger GRP/EVENT:TRIGGER',
  '               an event trigger as written to events/GRP/EVENT/trigger (repeatable):',
  '               hist:keys=...[:vals=...][:VAR=EXPR,...][:sort=...][:size=N][:name=...][:pause] [if FILTER],',
  '               (keys and vals: fields, constants, a+b a-b a*b a/b -(a), $VAR of a field variable)',
  '               stacktrace[:N] [if FILTER], traceon[:N] [if FILTER], traceoff[:N] [if FILTER]',
].join('\n');

/** One --trigger option: the event it names and the text written to its trigger file. */
export interface TriggerOption {
  readonly group: string;
  readonly event: string;
  readonly text: string;
}

/** An event's trigger as parsed, in the order written. */
export interface EventTriggerEntry extends TriggerOption {
  readonly trigger: EventTrigger;
  /** `name=`: the entry (index in the list) of the first trigger of that name, whose table this one shares. */
  readonly owner?: number;
}

export class TriggerOptionError extends Error {}

export function parseTriggerOption(value: string): TriggerOption {
  const colon = value.indexOf(':');
  const target = colon < 0 ? value : value.slice(0, colon);
  const slash = target.indexOf('/');
  if (colon < 0 || slash <= 0 || slash === target.length - 1) throw new TriggerOptionError(`--trigger ${value}: expected GRP/EVENT:TRIGGER`);
  return { group: target.slice(0, slash), event: target.slice(slash + 1), text: value.slice(colon + 1) };
}

const errnoName = (n: number): string => Object.entries(LINUX_ERRNO).find(([, v]) => v === n)?.[0] ?? `errno ${n}`;

/**
 * kernel: hist_trigger_match for a named trigger against the first of its
 * name (filter ignored): the same number of values, variables and keys, each
 * with the same flags, a compatible event field (name, type, size, sign), the
 * same size, sign and variable name; the same sort keys.
 */
function namedMatch(a: HistTrigger, b: HistTrigger, keySize: (f: HistField) => number): boolean {
  const flags = (f: HistField) => `${f.source}|${f.modifier ?? ''}|${f.buckets ?? ''}|${f.usecs ? 'usecs' : ''}|${f.string}`;
  const field = (f: HistField) => (f.field ? `${f.field.name}|${f.field.type}|${f.field.size}|${f.field.signed}` : '-');
  const sig = (f: HistField, size: number) => `${flags(f)}/${field(f)}/${size}/${f.signed}/${f.varName ?? ''}`;
  const all = (t: HistTrigger) => [...[...t.vals, ...t.vars].map((f) => sig(f, f.size)), ...t.keys.map((f) => sig(f, keySize(f)))];
  const sort = (t: HistTrigger) => t.sort.map((k) => `${k.index}${k.descending}`).join(',');
  return a.vals.length === b.vals.length && a.vars.length === b.vars.length && a.keys.length === b.keys.length
    && all(a).join('\n') === all(b).join('\n') && sort(a) === sort(b);
}

/** kernel: hist_trigger_match — the same keys, values, sort keys and filter (map size and pause aside). */
function sameHist(a: HistTrigger, b: HistTrigger, info: (t: HistTrigger) => string): boolean {
  const shape = (t: HistTrigger) => info({ ...t, pause: false, mapBits: 11 });
  return (a.name ?? '') === (b.name ?? '') && shape(a) === shape(b);
}

/**
 * Applies the --trigger writes in order, as the kernel applies writes to a
 * trigger file: a hist trigger equal to one already there is refused
 * (`Hist trigger already exists`), unless it says pause, cont or clear,
 * which then act on that one; cont or clear naming none is refused.
 */
export async function readTriggers(defs: readonly ProbeDefinition[], values: readonly string[] | undefined, kernel?: string): Promise<EventTriggerEntry[] | undefined> {
  if (!values || values.length === 0) return [];
  const { parseEventTrigger, TriggerError, TriggerUnsupportedError, HIST_ERR, histTriggerInfo, keySizeOf } = await import('../grammar/trigger/index.js');
  const { FilterSyntaxError } = await import('../grammar/filter/index.js');
  const { selectKernel } = await import('../grammar/index.js');
  const { eventFieldsOf } = await import('../compiler/filter-events.js');
  const { layoutEvent } = await import('../compiler/layout.js');
  const rules = selectKernel(kernel).filter;
  const out: EventTriggerEntry[] = [];
  for (const v of values) {
    let o: TriggerOption;
    try { o = parseTriggerOption(v); } catch (e) { process.stderr.write(`kprobe-bpf: ${(e as Error).message}\n`); return undefined; }
    const def = defs.find((d) => d.group === o.group && d.event === o.event);
    if (!def) { process.stderr.write(`kprobe-bpf: --trigger ${o.group}/${o.event}: no such event in the input\n`); return undefined; }
    try {
      // kernel: tr->hist_vars, the variables of the hist triggers registered so far
      const variables: HistVariable[] = out.flatMap((x) => (x.trigger.kind === 'hist' && x.owner === undefined
        ? x.trigger.vars.map((v) => ({ group: x.group, event: x.event, name: v.varName! })) : []));
      const trigger = parseEventTrigger(o.text, { group: o.group, event: o.event, fields: eventFieldsOf(layoutEvent(def)), rules, variables });
      if (trigger.kind !== 'hist') {
        // kernel: register_trigger — one trigger per type and event (traceon and traceoff are one type), EEXIST, nothing logged
        const type = (k: string) => (k === 'stacktrace' ? k : 'traceonoff');
        if (out.some((x) => x.group === o.group && x.event === o.event && x.trigger.kind !== 'hist' && type(x.trigger.kind) === type(trigger.kind))) {
          throw new TriggerError('File exists', LINUX_ERRNO.EEXIST, false);
        }
        out.push({ ...o, trigger });
        continue;
      }
      const at = out.findIndex((x) => x.group === o.group && x.event === o.event && x.trigger.kind === 'hist' && sameHist(x.trigger, trigger, histTriggerInfo));
      const location = `hist:${o.group}:${o.event}`;
      const command = `hist:${o.text.trim().replace(/^hist[: \t]\s*/, '')}`;
      // kernel: find_named_trigger, the first trigger written with this name
      const named = trigger.name === undefined ? -1 : out.findIndex((x) => x.trigger.kind === 'hist' && x.owner === undefined && x.trigger.name === trigger.name);
      if (named >= 0 && !namedMatch(trigger, out[named]!.trigger as HistTrigger, keySizeOf)) {
        throw new TriggerError(HIST_ERR.NAMED_MISMATCH, LINUX_ERRNO.EINVAL, true, location, command, Math.max(0, command.indexOf(trigger.name!)));
      }
      if (at >= 0) {
        const old = out[at]!.trigger as HistTrigger;
        if (!trigger.pause && !trigger.cont && !trigger.clear) throw new TriggerError(HIST_ERR.TRIGGER_EEXIST, LINUX_ERRNO.EEXIST, true, location, command, 0);
        // pause and cont act from the start of the trace here: every write is made before tracing starts
        if (trigger.pause || trigger.cont) out[at] = { ...out[at]!, trigger: { ...old, pause: trigger.pause } };
        continue;
      }
      if (trigger.cont || trigger.clear) throw new TriggerError(HIST_ERR.TRIGGER_ENOENT_CLEAR, LINUX_ERRNO.ENOENT, true, location, command, 0);
      out.push({ ...o, trigger, ...(named >= 0 ? { owner: named } : {}) });
    } catch (e) {
      if (e instanceof TriggerError) {
        process.stderr.write(e.logged ? `${e.toErrorLog()}\n` : `kprobe-bpf: events/${o.group}/${o.event}/trigger: write error: ${e.message} (${errnoName(e.errno)})\n`);
        return undefined;
      }
      if (e instanceof FilterSyntaxError) { process.stderr.write(`${e.toErrorLog()}\n`); return undefined; }
      if (e instanceof TriggerUnsupportedError) {
        process.stderr.write(`kprobe-bpf: --trigger ${o.group}/${o.event}: not supported by kprobe-bpf: ${e.message}\n`);
        return undefined;
      }
      throw e;
    }
  }
  return out;
}

/**
 * How hist entries are summed: atomic adds on one shared value (the
 * default: measured faster, bench/hist.bench.ts), or per-CPU values summed
 * when read; KPROBE_BPF_HIST_SUMS=percpu|atomic picks one (for the bench).
 */
function histSums(): HistSums {
  const v = process.env.KPROBE_BPF_HIST_SUMS;
  return v === 'percpu' ? 'percpu' : 'atomic';
}

/** The triggers as the compiler and the runtime take them: hist tables, and the stacktrace/traceon/traceoff triggers. */
export async function triggerPlans(entries: readonly EventTriggerEntry[]): Promise<{ hists: HistPlan[]; counts: CountPlan[] } | undefined> {
  const { histLayout, HIST_STACK_BUDGET } = await import('../compiler/hist-layout.js');
  const plans: (HistPlan & { entry: number })[] = [];
  const counts: CountPlan[] = [];
  for (const e of entries) {
    if (e.trigger.kind !== 'hist') {
      counts.push({ group: e.group, event: e.event, text: e.text, trigger: e.trigger, index: counts.length });
      continue;
    }
    const t = e.trigger;
    const layout = histLayout(t);
    if (layout.keySize + layout.valueSize > HIST_STACK_BUDGET) {
      process.stderr.write(`kprobe-bpf: --trigger ${e.group}/${e.event}: not supported by kprobe-bpf: a stacktrace key with a string key (the key does not fit the BPF stack)\n`);
      return undefined;
    }
    if (t.keys.some((k) => k.string && k.field?.filterType !== 'dyn_string')) {
      process.stderr.write(`kprobe-bpf: --trigger ${e.group}/${e.event}: not supported by kprobe-bpf: a fixed-size string key\n`);
      return undefined;
    }
    // entries are planned in order and only hist entries reach here, so an owner's plan exists already
    const owner = e.owner === undefined ? undefined : plans.find((p) => p.entry === e.owner);
    plans.push({
      group: e.group, event: e.event, text: e.text, trigger: t, index: plans.length, layout, entry: entries.indexOf(e), sums: histSums(),
      ...(owner ? { owner } : {}),
    });
  }
  return { hists: plans, counts };
}

/**
 * The hist triggers an object was compiled with (`compile --trigger`): its
 * recorded writes read again against its events' definitions, so the plans
 * (map numbers, layouts) are the ones its programs fill; none without.
 */
export async function objectHistPlans(object: Uint8Array, label: string): Promise<HistPlan[] | undefined> {
  const { metadataOfObject } = await import('../compiler/metadata.js');
  const meta = metadataOfObject(object, label);
  if (!meta.triggers || meta.triggers.writes.length === 0) return [];
  const { parseProbeCommands, selectKernel } = await import('../grammar/index.js');
  const rules = selectKernel(meta.triggers.kernel).probe;
  const defs = meta.events.map((e) => parseProbeCommands(e.definition, { rules }).commands[0] as ProbeDefinition);
  const triggers = await readTriggers(defs, meta.triggers.writes, meta.triggers.kernel);
  const plans = triggers && await triggerPlans(triggers);
  return plans?.hists;
}

/** kprobe-bpf parse --trigger: each trigger as its event's trigger file reads it back, after `GRP/EVENT:`; the exit status. */
export async function printTriggers(defs: readonly ProbeDefinition[], values: readonly string[] | undefined, kernel?: string): Promise<number> {
  const triggers = await readTriggers(defs, values, kernel);
  if (!triggers) return 1;
  process.stdout.write(await triggerFileText(triggers));
  return 0;
}

/**
 * Each event's triggers as its trigger file lists them (kernel:
 * register_trigger adds at the list's head, hist_register_trigger at its
 * tail), each line after `GRP/EVENT:`.
 */
export async function triggerFileText(triggers: readonly EventTriggerEntry[]): Promise<string> {
  const { countTriggerInfo, histTriggerInfo } = await import('../grammar/trigger/index.js');
  const events = [...new Set(triggers.map((e) => `${e.group}/${e.event}`))];
  const listed = (ev: string) => triggers.filter((e) => `${e.group}/${e.event}` === ev)
    .reduce<EventTriggerEntry[]>((list, e) => (e.trigger.kind === 'hist' ? [...list, e] : [e, ...list]), []);
  return events.flatMap(listed)
    .map((e) => `${e.group}/${e.event}:${e.trigger.kind === 'hist' ? histTriggerInfo(e.trigger) : countTriggerInfo(e.trigger)}`).join('');
}
