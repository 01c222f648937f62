// Asking the guest kernel's event filter about kprobe events: the events on
// one function, a private tracefs instance (its own filter files and
// error_log), one filter write at a time. The uprobe twin is
// test/lib/filter-kernel.ts (createFilterStand), whose answers these match.
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { fieldsFromFormat, type EventField } from '../../grammar/filter/index.js';
import { askFilterFile, type FilterAnswer } from '../lib/filter-kernel.js';
import { TRACEFS } from '../lib/kernel.js';

export interface KprobeSpec { readonly event: string; readonly args: string }

export interface KprobeFilterStand {
  readonly fields: ReadonlyMap<string, readonly EventField[]>;
  readonly ask: (event: string, filter: string) => FilterAnswer;
  readonly remove: () => void;
}

const KPROBE_EVENTS = `${TRACEFS}/kprobe_events`;

/** Creates the events (under the caller's kernel lock) and the instance named after the group. */
export function createKprobeFilterStand(group: string, func: string, probes: readonly KprobeSpec[]): KprobeFilterStand {
  const instance = `${TRACEFS}/instances/${group}`;
  for (const p of probes) appendFileSync(KPROBE_EVENTS, `p:${group}/${p.event} ${func} ${p.args}\n`);
  if (!existsSync(instance)) mkdirSync(instance);
  const fields = new Map(probes.map((p) => [p.event, fieldsFromFormat(readFileSync(`${TRACEFS}/events/${group}/${p.event}/format`, 'utf8'))]));
  const log = `${instance}/error_log`;
  const ask = (event: string, filter: string): FilterAnswer => askFilterFile(`${instance}/events/${group}/${event}/filter`, log, filter);
  const remove = () => {
    if (existsSync(instance)) rmdirSync(instance);
    for (const p of probes) {
      if (existsSync(`${TRACEFS}/events/${group}/${p.event}`)) appendFileSync(KPROBE_EVENTS, `-:${group}/${p.event}\n`);
    }
  };
  return { fields, ask, remove };
}
