// Kernel tracing state the runtime tests create and remove: uprobe events
// (appended to uprobe_events, removed with -:GRP/EVENT) and a private trace
// instance, so the global buffer other tests use is never touched.
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { TRACEFS } from '../../lib/kernel.js';

export function addUprobeEvent(line: string): void {
  appendFileSync(`${TRACEFS}/uprobe_events`, line + '\n');
}

export function removeUprobeEvent(group: string, event: string): void {
  if (existsSync(`${TRACEFS}/events/${group}/${event}`)) appendFileSync(`${TRACEFS}/uprobe_events`, `-:${group}/${event}\n`);
}

export function eventId(group: string, event: string): number {
  return Number(readFileSync(`${TRACEFS}/events/${group}/${event}/id`, 'utf8'));
}

export function eventFormat(group: string, event: string): string {
  return readFileSync(`${TRACEFS}/events/${group}/${event}/format`, 'utf8');
}

export function uprobeEventsLines(): string[] {
  return readFileSync(`${TRACEFS}/uprobe_events`, 'utf8').split('\n').filter(Boolean);
}

/** A private ftrace instance (instances/NAME): its own buffer and event enables. */
export class TraceInstance {
  readonly dir: string;
  constructor(readonly name: string) {
    this.dir = `${TRACEFS}/instances/${name}`;
    mkdirSync(this.dir);
  }
  enable(group: string, event: string, on = true): void {
    writeFileSync(`${this.dir}/events/${group}/${event}/enable`, on ? '1' : '0');
  }
  trace(): string {
    return readFileSync(`${this.dir}/trace`, 'utf8');
  }
  remove(): void {
    if (existsSync(this.dir)) rmdirSync(this.dir);
  }
}

/** The trace lines (not # comments), each split into context and the event text after "TIMESTAMP: ". */
export function traceBodies(trace: string): { task: string; cpu: number; body: string }[] {
  const out: { task: string; cpu: number; body: string }[] = [];
  for (const line of trace.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^(.{16}-\d+)\s*\[(\d{3})\] (.{5}) +\d+\.\d{6}: (.*)$/.exec(line);
    if (!m) throw new Error(`not a trace line: ${JSON.stringify(line)}`);
    out.push({ task: m[1]!.trim(), cpu: Number(m[2]), body: m[4]! });
  }
  return out;
}
