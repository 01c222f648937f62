// Where an `e` line's attached event comes from: the running kernel's
// tracefs. The grammar asks for an event's fields (AttachedEventLookup);
// this answers from events/SYS/EVENT/format as the kernel's own
// find_and_get_event would: no such event, an ftrace-internal event
// (TRACE_EVENT_FL_IGNORE_ENABLE: the `ftrace` system) or a kprobe, uprobe or
// eprobe event (listed in dynamic_events as p, r or e) cannot be attached to.
import { readFileSync } from 'node:fs';
import type { AttachedEventLookup } from '../grammar/eprobe.js';
import { fieldsFromFormat, type EventField } from '../grammar/filter/index.js';

export const TRACEFS = '/sys/kernel/tracing';

const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** GRP/EVENT of every kprobe, uprobe and eprobe event in the kernel's dynamic_events (or the older per-tracer files). */
function probeEvents(root: string): Set<string> {
  const text = read(`${root}/dynamic_events`) ?? `${read(`${root}/kprobe_events`) ?? ''}\n${read(`${root}/uprobe_events`) ?? ''}`;
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^[pre][0-9]*:(\S+)/.exec(line);
    if (m) out.add(m[1]!);
  }
  return out;
}

/** The lookup over a tracefs mounted at `root` (memoized per event for one run). */
export function tracefsAttachedEvents(root = TRACEFS): AttachedEventLookup {
  const seen = new Map<string, readonly EventField[] | undefined>();
  let probes: Set<string> | undefined;
  return (system, event) => {
    const key = `${system}/${event}`;
    if (seen.has(key)) return seen.get(key);
    let fields: readonly EventField[] | undefined;
    if (system !== 'ftrace' && !system.includes('/') && !event.includes('/')) {
      const format = read(`${root}/events/${key}/format`);
      probes ??= probeEvents(root);
      if (format !== undefined && !probes.has(key)) fields = fieldsFromFormat(format);
    }
    seen.set(key, fields);
    return fields;
  };
}
