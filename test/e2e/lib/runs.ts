// The two sides of a differential run: the kernel's own uprobe tracer
// (uprobe_events, a private trace instance, the trace file, format files,
// uprobe_profile) and `kprobe-bpf trace` run as a user runs it, a subprocess.
//
// Both run the target under `setarch -R` (ADDR_NO_RANDOMIZE, inherited
// across fork and exec) and through `env -i`, so the binary, its libraries,
// heap and stack sit at the same addresses with the same contents in both
// runs: probe addresses, pointers, $stack and the registers compare as they are.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TRACEFS } from '../../lib/kernel.js';
import { TraceInstance, removeUprobeEvent } from '../../runtime/lib/tracefs.js';
import { stampedLines } from './stamped-lines.js';

/** The CLI as installed in a checkout (bin/kprobe-bpf runs dist/bin/cli.js). */
export const CLI = fileURLToPath(new URL('../../../../bin/kprobe-bpf', import.meta.url));

/** One trace line: what compares between two runs (pid, CPU, flags and timestamp set aside). */
export interface TraceLine {
  readonly comm: string;
  /** "EVENT: (ip) name=value ..." */
  readonly body: string;
}

/** The trace lines of a trace file or pipe output (header and the workload's own output left out). */
export function traceLines(trace: string): TraceLine[] {
  return stampedLines(trace).map(({ comm, body }) => ({ comm, body }));
}

export const headerOf = (trace: string): string => trace.split('\n').filter((l) => l.startsWith('#')).join('\n');

/** What the kernel's last error_log entry says (to explain a refused line). */
function lastError(): string {
  try {
    return readFileSync(`${TRACEFS}/error_log`, 'utf8').trim().split('\n').slice(-3).join('\n');
  } catch {
    return '';
  }
}

export function setarchArgv(argv: readonly string[]): string[] {
  return ['-R', ...argv];
}

export interface KernelRun {
  readonly trace: string;
  readonly formats: ReadonlyMap<string, string>;
  readonly profile: ReadonlyMap<string, number>;
}

/**
 * Defines the events, enables them in a private instance, runs the command
 * (under setarch -R), and reads back trace, format files and uprobe_profile.
 * Removes everything it created, whatever happens.
 */
export function kernelRun(group: string, defs: readonly [string, string][], command: readonly string[], filters: ReadonlyMap<string, string> = new Map()): KernelRun {
  // uprobe_profile names the file, not the group: keep the rows of the files our lines probe
  const probedPaths = new Set(defs.map(([, line]) => line.split(' ')[1]!.replace(/:[^:]*$/, '')));
  const inst = new TraceInstance(`${group}i`);
  const added: string[] = [];
  try {
    for (const [ev, line] of defs) {
      try {
        appendFileSync(`${TRACEFS}/uprobe_events`, line + '\n');
      } catch (e) {
        throw new Error(`the kernel refused ${ev}: ${(e as Error).message}\n${lastError()}`);
      }
      added.push(ev);
    }
    // a filter belongs to the instance's event file (instances/NAME/events/GRP/EVENT/filter)
    for (const [ev, filter] of filters) writeFileSync(`${inst.dir}/events/${group}/${ev}/filter`, filter);
    for (const [ev] of defs) inst.enable(group, ev);
    try {
      execFileSync('setarch', setarchArgv(command), { stdio: 'pipe' });
    } finally {
      for (const [ev] of defs) inst.enable(group, ev, false);
    }
    const trace = readFileSync(`${inst.dir}/trace`, 'latin1');
    const formats = new Map(defs.map(([ev]) => [ev, readFileSync(`${TRACEFS}/events/${group}/${ev}/format`, 'latin1')]));
    const profile = new Map<string, number>();
    // uprobe_profile: "  %s %-44s %15lu" file, event, hits (trace_uprobe.c probes_profile_seq_show); the group is not shown
    for (const line of readFileSync(`${TRACEFS}/uprobe_profile`, 'utf8').split('\n')) {
      const m = /^ {2}(\S+) (\S+)\s+(\d+)$/.exec(line);
      if (m && probedPaths.has(m[1]!) && defs.some(([ev]) => ev === m[2])) profile.set(m[2]!, Number(m[3]));
    }
    return { trace, formats, profile };
  } finally {
    inst.remove();
    for (const ev of added) removeUprobeEvent(group, ev);
  }
}

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `kprobe-bpf ARGS` (optionally under setarch -R) to completion; stdout and stderr as latin1 (byte-exact). */
export function runCli(args: readonly string[], opts: { setarch?: boolean; timeoutMs?: number } = {}): Promise<CliRun> {
  const [file, argv] = opts.setarch ? ['setarch', setarchArgv([CLI, ...args])] : [CLI, [...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('latin1'), stderr: Buffer.concat(err).toString('latin1') });
    });
  });
}

/** Starts the CLI with `env` added to ours (its pid is the node process: bin/kprobe-bpf execs node). */
export function startCli(args: readonly string[], env: Readonly<Record<string, string>> = {}): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawn(CLI, [...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => err.push(d));
  const done = new Promise<CliRun>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out).toString('latin1'), stderr: Buffer.concat(err).toString('latin1') }));
  });
  return { child, done };
}

/** Our --profile table on stderr: "  EVENT  HITS  MISSES" (kprobe_profile's format). */
export function ourProfile(stderr: string): Map<string, { hits: number; misses: number }> {
  const rows = new Map<string, { hits: number; misses: number }>();
  for (const line of stderr.split('\n')) {
    const m = /^ {2}(\S+)\s+(\d+)\s+(\d+)$/.exec(line);
    if (m) rows.set(m[1]!, { hits: Number(m[2]), misses: Number(m[3]) });
  }
  return rows;
}

/** Splits concatenated format files (each starts with "name: "). */
export function splitFormats(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(/(?=^name: )/m)) {
    const name = /^name: (.*)$/m.exec(part)?.[1];
    if (name) out.set(name, part);
  }
  return out;
}

/** The ID line differs by design (kernel event id vs our common_type); everything else must not. */
export const withoutId = (fmt: string): string => fmt.replace(/^ID: \d+$/m, 'ID: -');

export const setarchWorks = (): string | undefined => {
  if (!existsSync('/usr/bin/setarch') && !existsSync('/bin/setarch')) return 'setarch (util-linux) is not installed';
  try {
    execFileSync('setarch', ['-R', 'true'], { stdio: 'pipe' });
    return undefined;
  } catch (e) {
    return `setarch -R fails here: ${(e as Error).message.split('\n')[0]}`;
  }
};
