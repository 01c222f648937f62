// `e` event probes, as dynamic_events parses them (kernel:
// trace_eprobe.c __trace_eprobe_create, trace_eprobe_parse_filter,
// trace_eprobe_tp_update_arg):
//   e[:[GRP/][EVENT]] SYSTEM.EVENT [FETCHARGS] [if FILTER]
// The attached event's fields come from the caller (AttachedEventLookup:
// bin/ reads the running kernel's format files); the grammar reads nothing.
import type { AttachedEvent, FetchArg, ProbeArg, ProbeDefinition } from './ast.js';
import { caretColumn } from './argv.js';
import { ProbeSyntaxError } from './errors.js';
import { compileFilter, FilterSyntaxError, type EventField } from './filter/index.js';
import { rulesAt } from './kernel-rules/index.js';
import { MAX_EVENT_NAME_LEN, parseEventName } from './names.js';
import { argsWithin, type LineOptions, type Log } from './probe.js';
import { checkProbeArg, type ArgContext } from './rules.js';
import { kstrtol } from './kstrto.js';

/** kernel: EPROBE_EVENT_SYSTEM. */
export const EPROBE_GROUP = 'eprobes';

/**
 * The own fields of trace event SYSTEM/EVENT (its format file less the
 * common ones), or undefined when there is no such event or an eprobe may not
 * attach to it (kernel: find_and_get_event skips kprobe, uprobe and eprobe
 * events and those flagged TRACE_EVENT_FL_IGNORE_ENABLE).
 */
export type AttachedEventLookup = (system: string, event: string) => readonly EventField[] | undefined;

/** kernel: traceprobe_parse_event_name on argv[1], then NO_EVENT_INFO if either part is missing. */
function attachedName(log: Log): { system: string; event: string } {
  log.index = 1;
  let named: { group?: string; event?: string };
  try {
    named = parseEventName(log.argv[1]!, 0, log.refuse);
  } catch (e) {
    // the name parser logged its own entry first, then the eprobe's
    if (e instanceof ProbeSyntaxError) throw log.error('NO_EVENT_INFO', 0, [e.toErrorLog()]);
    throw e;
  }
  if (named.group === undefined || named.event === undefined) throw log.error('NO_EVENT_INFO', 0);
  return { system: named.group, event: named.event };
}

/** kernel: trace_eprobe_parse_filter — the words rejoined, checked as a filter of the attached event. */
function attachedFilter(log: Log, at: number, fields: readonly EventField[], opts: LineOptions): AttachedEvent['filter'] {
  log.index = at;
  const words = log.argv.slice(at);
  if (words.length === 0) throw log.error('NO_EP_FILTER', 0);
  const text = words.join(' ');
  try {
    return { text, checked: compileFilter(text, fields, { rules: rulesAt(opts.rules.version).filter }) };
  } catch (e) {
    if (!(e instanceof FilterSyntaxError)) throw e;
    throw new ProbeSyntaxError({
      subsystem: 'event filter parse error', code: 'NOT_A_PROBE', message: e.message, command: text,
      caretColumn: e.pos, lineNumber: log.lineNumber, logged: e.logged,
    });
  }
}

/**
 * 6.1 (rules.eventFields 'update'): trace_eprobe_tp_arg_update, after the
 * argument parsed — a `$NAME` the event lacks is $comm for comm/COMM, else
 * "Attached event does not have this field" at the word's start.
 */
function resolveFields(log: Log, fetch: FetchArg, fields: readonly EventField[]): FetchArg {
  switch (fetch.kind) {
    case 'deref': return { ...fetch, inner: resolveFields(log, fetch.inner, fields) };
    case 'eventfield':
      if (fields.some((f) => f.name === fetch.name)) return fetch;
      if (fetch.name === 'comm' || fetch.name === 'COMM') return { kind: 'comm' };
      throw log.error('BAD_ATTACH_ARG', 0);
    default: return fetch;
  }
}

/** kernel: the argument loop of __trace_eprobe_create (TPARG_FL_KERNEL | TPARG_FL_TEVENT). */
function eprobeArgs(log: Log, words: readonly string[], fields: readonly EventField[], opts: LineOptions): ProbeArg[] {
  const ctx: ArgContext = {
    kernel: true, isReturn: false, fentry: false, rules: opts.rules, tevent: { has: (n) => fields.some((f) => f.name === n) },
  };
  const args: ProbeArg[] = [];
  const used = new Set<string>();
  for (let i = 0; i < words.length; i++) {
    log.index = i + 2;
    let checked;
    try {
      checked = checkProbeArg(words[i]!, i, used, ctx, log.refuse);
    } catch (e) {
      // "eprobe and fprobe do not handle registers": BAD_VAR, then BAD_FETCH_ARG at the same place
      if (e instanceof ProbeSyntaxError && e.code === 'BAD_FETCH_ARG' && e.command[e.caretColumn] === '%') {
        const offset = e.caretColumn - caretColumn(log.argv, log.index, 0);
        throw log.error('BAD_FETCH_ARG', offset, [log.error('BAD_VAR', offset).toErrorLog()]);
      }
      throw e;
    }
    const { symbol, ...arg } = checked;
    // kernel: traceprobe_update_arg — a symbol that cannot split or resolve is -EINVAL/-ENOENT, logged by
    // nobody; only names kallsyms never holds are known here (the rest resolve at load time)
    if (symbol !== undefined) {
      const sign = symbol.search(/[+-]/);
      const name = sign >= 0 ? symbol.slice(0, sign) : symbol;
      if ((sign >= 0 && kstrtol(symbol.slice(sign)) === undefined) || name === '' || /^[0-9]/.test(name)) {
        throw log.silent(`@${symbol}: no such kernel symbol (the kernel refuses the line without an error_log entry)`);
      }
    }
    const fetch = opts.rules.eventFields === 'update' ? resolveFields(log, arg.fetch, fields) : arg.fetch;
    used.add(arg.name);
    args.push({ ...arg, fetch });
  }
  return args;
}

/** kernel: __trace_eprobe_create. */
export function parseEprobe(log: Log, argv: readonly string[], source: string, opts: LineOptions): ProbeDefinition {
  if (argv.length < 2) throw log.silent('an event probe needs the event it attaches to: e[:[GRP/][EVENT]] SYSTEM.EVENT');
  const a0 = argv[0]!;
  const colon = a0.indexOf(':', 1);
  log.index = 0;
  const named = colon >= 0 ? parseEventName(a0.slice(colon + 1), colon + 1, log.refuse) : {};
  const attached = attachedName(log);
  const event = named.event ?? attached.event.slice(0, MAX_EVENT_NAME_LEN - 1);
  const ifAt = argv.indexOf('if', 2);
  const words = ifAt >= 0 ? argv.slice(2, ifAt) : argv.slice(2);
  const fields = opts.attachedEvent?.(attached.system, attached.event);
  if (fields === undefined) {
    log.index = 1;
    throw log.error('BAD_ATTACH_EVENT', 0);
  }
  const filter = ifAt >= 0 ? attachedFilter(log, ifAt + 1, fields, opts) : undefined;
  const args = eprobeArgs(log, argsWithin(log, words), fields, opts);
  return {
    op: 'define', tracer: 'eprobe', isReturn: false, group: named.group ?? EPROBE_GROUP, event,
    point: { kind: 'event', system: attached.system, event: attached.event, fields, ...(filter ? { filter } : {}) },
    args, source,
  };
}
