// "FTRACE EVENT FORMATS" and "EVENT FORMATS" (trace-cmd.dat.v6(5)): no
// ftrace-internal events, then per system (our event group) its name, the
// number of events, and each event's `format` file with a u64 size. The
// format files are the ones `compile --format` prints, with ID = the
// common_type our records carry, so the reader decodes the entries with them.
import type { EventFormat } from '../../compiler/format.js';
import { renderFormatFile } from '../../compiler/format.js';
import { cstring, sized, u32 } from './bytes.js';

export interface DatEvent {
  readonly format: EventFormat;
  readonly typeId: number;
}

/** Events grouped by system, in first-seen order. */
function bySystem(events: readonly DatEvent[]): Map<string, DatEvent[]> {
  const systems = new Map<string, DatEvent[]>();
  for (const e of events) {
    const list = systems.get(e.format.group) ?? [];
    list.push(e);
    systems.set(e.format.group, list);
  }
  return systems;
}

export function eventFormats(events: readonly DatEvent[]): Buffer {
  const parts: Buffer[] = [u32(0)]; // ftrace's own events: none
  const systems = bySystem(events);
  parts.push(u32(systems.size));
  for (const [system, list] of systems) {
    parts.push(cstring(system), u32(list.length));
    for (const e of list) parts.push(sized(renderFormatFile(e.format, e.typeId), 8));
  }
  return Buffer.concat(parts);
}
