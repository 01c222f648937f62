// Asking the kernel and our parser the same question: one definition line
// written to kprobe_events or uprobe_events (then removed at once) against
// parseProbeCommands. Used by the host's uprobe differential test and the
// guest's kprobe one.
import type { Test } from 'tap';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { formatProbeCommand, parseProbeCommands, possibleCpus, ProbeSyntaxError, type ParseOptions } from '../../grammar/index.js';
import { TRACEFS } from './kernel.js';

const ERROR_LOG = `${TRACEFS}/error_log`;

export interface Answer {
  readonly accepted: boolean;
  /** errno of the refused write (kernel side only). */
  readonly errno?: string;
  readonly readback: string[];
  /** error_log entries: message, Command: line, caret line. */
  readonly log: string[];
}

export interface LogEntry { readonly stamp: number; readonly text: string }

export function readErrorLog(): LogEntry[] {
  const lines = readFileSync(ERROR_LOG, 'utf8').split('\n');
  const out: LogEntry[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^\[\s*([0-9.]+)\] (.*)$/.exec(lines[i]!);
    if (m) out.push({ stamp: Number(m[1]), text: `${m[2]}\n${lines[i + 1] ?? ''}\n${lines[i + 2] ?? ''}` });
  }
  return out;
}

export const readEvents = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);

export function removeEventLine(file: string, line: string): void {
  const m = /^[prft][0-9]*:(\S+)/.exec(line);
  if (m) appendFileSync(file, `-:${m[1]}\n`);
}

/**
 * Writes the line to `events` (kprobe_events or uprobe_events) and removes
 * whatever it created. The line's error_log entry is picked by timestamp, or,
 * with clearLog (a throwaway guest, where timestamps proved unreliable), by
 * emptying error_log first.
 */
export function askKernel(events: string, line: string, clearLog = false): Answer {
  const before = new Set(readEvents(events));
  if (clearLog) writeFileSync(ERROR_LOG, '');
  const log = clearLog ? [] : readErrorLog();
  const lastStamp = log.length ? log[log.length - 1]!.stamp : -1;
  let accepted = true;
  let errno: string | undefined;
  try {
    appendFileSync(events, `${line}\n`);
  } catch (e) {
    accepted = false;
    errno = (e as NodeJS.ErrnoException).code;
  }
  const readback = readEvents(events).filter((l) => !before.has(l));
  for (const l of readback) removeEventLine(events, l);
  const entries = readErrorLog().filter((e) => e.stamp > lastStamp).map((e) => e.text);
  return { accepted, ...(errno ? { errno } : {}), readback, log: entries };
}

/** What the kernel made of an input written line by line, as a file is: up to the first refused line. */
export interface InputAnswer {
  /** 1-based line the kernel refused, if any, and its errno. */
  readonly refused?: number;
  readonly errno?: string;
  /** error_log entries the input added. */
  readonly log: string[];
  /** The probe lines it held after the input (read back), before they were removed again. */
  readonly created: string[];
}

/** Writes `lines` to `events` one by one until one is refused, reads what happened, and removes what they made. */
export function askKernelInput(events: string, lines: readonly string[]): InputAnswer {
  const before = new Set(readEvents(events));
  const stamp = readErrorLog().at(-1)?.stamp ?? -1;
  let refused: number | undefined;
  let errno: string | undefined;
  for (let i = 0; i < lines.length && refused === undefined; i++) {
    try {
      appendFileSync(events, `${lines[i]}\n`);
    } catch (e) {
      refused = i + 1;
      errno = (e as NodeJS.ErrnoException).code;
    }
  }
  const log = readErrorLog().filter((e) => e.stamp > stamp).map((e) => e.text);
  const created = readEvents(events).filter((x) => !before.has(x));
  // (an event of several probes reads back a line per probe: removed once)
  for (const l of new Map(created.map((x) => [x.split(' ')[0], x])).values()) removeEventLine(events, l);
  return { ...(refused !== undefined ? { refused, errno: errno ?? '' } : {}), log, created };
}

/**
 * Our parser's answer, read back as this machine's kernel would (a return
 * kprobe shows the maxactive it registers with for this machine's CPUs);
 * anything but a kernel-style error (an internal crash) is recorded as a disagreement.
 */
export function askUs(line: string, opts: ParseOptions): Answer {
  try {
    const { commands } = parseProbeCommands(line, opts);
    const cpus = possibleCpus();
    return { accepted: true, readback: commands.filter((c) => c.op === 'define').map((c) => formatProbeCommand(c, { possibleCpus: cpus })), log: [] };
  } catch (e) {
    if (!(e instanceof ProbeSyntaxError)) return { accepted: false, readback: [], log: [`(not a kernel error) ${(e as Error).message}`] };
    return { accepted: false, readback: [], log: e.errorLogEntries() };
  }
}

export const sameAnswer = (kernel: Answer, ours: Answer): boolean =>
  kernel.accepted === ours.accepted
  && JSON.stringify(kernel.readback) === JSON.stringify(ours.readback)
  && JSON.stringify(kernel.log) === JSON.stringify(ours.log);

/** One line on which the kernel and we answered differently. */
export interface Disagreement { readonly line: string; readonly kernel: Answer; readonly ours: Answer }

export interface DiffOptions {
  /** Our parser's options for this events file (tracer, symbolPlaces). */
  readonly parse: ParseOptions;
  /** Pick error_log entries by emptying the log first (see askKernel). */
  readonly clearLog?: boolean;
  /** Events-file lines of ours to remove afterwards, even after an exception. */
  readonly ours: (eventsLine: string) => boolean;
}

export interface DiffRun {
  readonly disagreements: Disagreement[];
  /** Lines the kernel accepted. */
  readonly accepted: number;
}

/** Asks the kernel (through `events`) and our parser every line in turn; the kernel's answer is the expected one. */
export function diffLines(events: string, lines: readonly string[], opts: DiffOptions): DiffRun {
  const disagreements: Disagreement[] = [];
  let accepted = 0;
  try {
    for (const line of lines) {
      const kernel = askKernel(events, line, opts.clearLog);
      const ours = askUs(line, opts.parse);
      if (kernel.accepted) accepted++;
      if (!sameAnswer(kernel, ours)) disagreements.push({ line, kernel, ours });
    }
  } finally {
    for (const l of readEvents(events)) if (opts.ours(l)) removeEventLine(events, l);
  }
  return { disagreements, accepted };
}

const verdict = (a: Answer): string => (a.accepted ? 'accepted' : `refused${a.errno ? ` (${a.errno})` : ''}`);

/** Both answers, for a failing assert's diagnostics. */
export function describeDisagreement(d: Disagreement): string {
  return [
    `line: ${JSON.stringify(d.line)}`,
    `  kernel: ${verdict(d.kernel)} ${JSON.stringify(d.kernel.readback)}\n${d.kernel.log.join('\n')}`,
    `  ours:   ${verdict(d.ours)} ${JSON.stringify(d.ours.readback)}\n${d.ours.log.join('\n')}`,
  ].join('\n');
}

/** The two error_log entries agree but for the caret line. */
export const sameButCaret = (d: Disagreement): boolean =>
  !d.kernel.accepted && !d.ours.accepted && d.kernel.log.length === 1 && d.ours.log.length === 1
  && d.kernel.log[0]!.split('\n').slice(0, 2).join('\n') === d.ours.log[0]!.split('\n').slice(0, 2).join('\n');

/**
 * Our error for the line when `parse` marks its caret as not the kernel's: 6.12
 * reports an error after a member chain's last field at a pointer difference
 * with NULL (trace_probe.c parse_btf_field), so its caret is no position.
 */
export function caretUnknownError(line: string, opts: ParseOptions): ProbeSyntaxError | undefined {
  try {
    parseProbeCommands(line, opts);
  } catch (e) {
    if (e instanceof ProbeSyntaxError && e.caretUnknown) return e;
  }
  return undefined;
}

/**
 * Fails every disagreement except an error after a member chain whose message
 * and command agree (its kernel caret is no position, see caretUnknownError);
 * returns how many of those there were.
 */
export function judgeDisagreements(t: Test, run: DiffRun, parse: ParseOptions): number {
  let unknownCarets = 0;
  for (const d of run.disagreements) {
    if (sameButCaret(d) && caretUnknownError(d.line, parse)) {
      unknownCarets++;
      t.pass(`the kernel's caret after a member chain is a pointer difference, message and command agree: ${d.line}`);
      continue;
    }
    t.fail(`disagreement: ${d.line}`, { diagnostic: true, found: describeDisagreement(d) });
  }
  return unknownCarets;
}

/** Disagreements understood and recorded, each with both answers exactly as seen. */
export interface KnownDisagreements { readonly why: string; readonly cases: readonly Disagreement[] }

export interface SortedDisagreements {
  /** Found exactly as recorded: the line and both answers. */
  readonly known: { readonly found: Disagreement; readonly why: string }[];
  /** Found, but recorded nowhere (or recorded with other answers). */
  readonly unexplained: Disagreement[];
  /** Recorded, but not found as recorded: fixed, or changed. */
  readonly unseen: { readonly line: string; readonly why: string }[];
}

const canonical = (d: Disagreement): string =>
  JSON.stringify([d.line, ...[d.kernel, d.ours].map((a) => [a.accepted, a.errno ?? null, a.readback, a.log])]);

/** Matches what a run found against the record, line and answers to the letter. */
export function sortDisagreements(found: readonly Disagreement[], record: readonly KnownDisagreements[]): SortedDisagreements {
  const pending = new Map<string, { line: string; why: string }>();
  for (const k of record) for (const c of k.cases) pending.set(canonical(c), { line: c.line, why: k.why });
  const known: SortedDisagreements['known'] = [];
  const unexplained: Disagreement[] = [];
  for (const d of found) {
    const key = canonical(d);
    const entry = pending.get(key);
    if (entry) { known.push({ found: d, why: entry.why }); pending.delete(key); } else unexplained.push(d);
  }
  return { known, unexplained, unseen: [...pending.values()] };
}
