// Asking the kernel's own event filter: uprobe events with every argument
// type on a small gcc-built target, a private tracefs instance (its own
// filters and error_log, so other tests writing error_log at the same time
// cannot interleave), and one filter write at a time.
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errnoName } from '../../lib/errno.js';
import { applyGroupFilter, compileFilter, FilterSyntaxError, filterReadback, GROUP_FILTER_FILE, fieldsFromFormat, type EventField, type FilterHost, type FilterRules } from '../../grammar/filter/index.js';
import { TRACEFS } from './kernel.js';

export interface FilterAnswer {
  readonly accepted: boolean;
  /** errno name of the refused write. */
  readonly errno?: string;
  /** The event's `filter` file after the write. */
  readonly readback: string;
  /** error_log entries (less the timestamp). */
  readonly log: readonly string[];
}

/** One probe event the test defines: its name and its fetch arguments. */
export interface ProbeSpec { readonly event: string; readonly args: string }

export interface FilterStand {
  readonly group: string;
  readonly instance: string;
  /** Each event's fields, read from its format file. */
  readonly fields: ReadonlyMap<string, readonly EventField[]>;
  readonly ask: (event: string, filter: string) => FilterAnswer;
  /** The same write to the group's filter file: `readback` is the group file then every event's file. */
  readonly askGroup: (filter: string) => FilterAnswer;
  readonly remove: () => void;
}

const UPROBE_EVENTS = `${TRACEFS}/uprobe_events`;

const DEFAULT_TARGET = 'int __attribute__((noinline)) f(int a, const char *s) { return a + s[0]; }\nint main(int c, char **v) { return f(c, v[0]); }\n';

/** A gcc-built target (`source` must define a function `f`); returns its path and f's file offset. */
export function buildFilterTarget(dir: string, source = DEFAULT_TARGET, prefix = 'kbft'): { binary: string; offset: string } {
  const src = join(dir, `${prefix}.c`);
  writeFileSync(src, source);
  const binary = join(dir, `${prefix}${process.pid}`);
  execFileSync('gcc', ['-O1', '-o', binary, src]);
  const m = /^([0-9a-f]+) T f$/m.exec(execFileSync('nm', [binary], { encoding: 'utf8' }));
  if (!m) throw new Error(`nm: no f in ${binary}`);
  return { binary, offset: `0x${BigInt(`0x${m[1]}`).toString(16)}` };
}

/** error_log entries less their timestamps: the message line, the command, the caret. */
export function readLog(path: string): string[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^\[\s*[0-9.]+\] (.*)$/.exec(lines[i]!);
    if (m) out.push(`${m[1]}\n${lines[i + 1] ?? ''}\n${lines[i + 2] ?? ''}`);
  }
  return out;
}

/** One write of `filter` to a tracefs filter file: refused or not (errno), the file read back, the error_log's new entries. */
export function askFilterFile(file: string, log: string, filter: string): FilterAnswer {
  writeFileSync(log, '');
  let errno: string | undefined;
  try { writeFileSync(file, filter); } catch (e) { errno = (e as NodeJS.ErrnoException).code; }
  return { accepted: errno === undefined, ...(errno ? { errno } : {}), readback: readFileSync(file, 'utf8'), log: readLog(log) };
}

/** Creates the events (under the caller's kernel lock) and the private instance. */
export function createFilterStand(target: { binary: string; offset: string }, probes: readonly ProbeSpec[]): FilterStand {
  const group = `kbf${process.pid}`;
  const instance = `${TRACEFS}/instances/${group}`;
  for (const p of probes) appendFileSync(UPROBE_EVENTS, `p:${group}/${p.event} ${target.binary}:${target.offset} ${p.args}\n`);
  if (!existsSync(instance)) mkdirSync(instance);
  const fields = new Map(probes.map((p) => [p.event, fieldsFromFormat(readFileSync(`${TRACEFS}/events/${group}/${p.event}/format`, 'utf8'))]));
  const log = `${instance}/error_log`;
  const ask = (event: string, filter: string): FilterAnswer => askFilterFile(`${instance}/events/${group}/${event}/filter`, log, filter);
  const askGroup = (filter: string): FilterAnswer => {
    const file = `${instance}/events/${group}/filter`;
    const answer = askFilterFile(file, log, filter);
    const files = [file, ...probes.map((p) => `${instance}/events/${group}/${p.event}/filter`)];
    return { ...answer, readback: files.map((f) => readFileSync(f, 'utf8')).join('--\n'), log: [...answer.log].sort() };
  };
  const remove = () => {
    for (const p of probes) {
      const enable = `${instance}/events/${group}/${p.event}/enable`;
      if (existsSync(enable)) writeFileSync(enable, '0'); // a test that stopped half-way may have left it on
    }
    if (existsSync(instance)) rmdirSync(instance);
    for (const p of probes) {
      if (existsSync(`${TRACEFS}/events/${group}/${p.event}`)) appendFileSync(UPROBE_EVENTS, `-:${group}/${p.event}\n`);
    }
  };
  return { group, instance, fields, ask, askGroup, remove };
}

/** Our answer to the same write. */
export function askOurs(filter: string, fields: readonly EventField[], rules: FilterRules, host: FilterHost): FilterAnswer {
  try {
    compileFilter(filter, fields, { rules, host });
    return { accepted: true, readback: `${filterReadback(filter)}\n`, log: [] };
  } catch (e) {
    if (!(e instanceof FilterSyntaxError)) return { accepted: false, readback: '', log: [`(not a kernel error) ${(e as Error).stack ?? e}`] };
    return { accepted: false, errno: errnoName(e.errno), readback: `${e.toFilterFile()}\n`, log: [e.toErrorLog()] };
  }
}

/** Our answer to a group write over `events` (in the stand's order). */
export function askOursGroup(filter: string, events: ReadonlyMap<string, readonly EventField[]>, rules: FilterRules, host: FilterHost): FilterAnswer {
  const { events: results } = applyGroupFilter(filter, events, { rules, host });
  const files = [`${GROUP_FILTER_FILE}\n`];
  const log: string[] = [];
  for (const r of results.values()) {
    if (r instanceof FilterSyntaxError) { files.push(`${r.toFilterFile()}\n`); log.push(r.toErrorLog()); }
    else files.push(`${filterReadback(filter)}\n`);
  }
  return { accepted: true, readback: files.join('--\n'), log: log.sort() };
}

export const sameFilterAnswer = (a: FilterAnswer, b: FilterAnswer): boolean =>
  a.accepted === b.accepted && a.errno === b.errno && a.readback === b.readback && JSON.stringify(a.log) === JSON.stringify(b.log);
