// kprobe-bpf as a library: the package's main export (`import { parse } from
// 'kprobe-bpf'`). A thin facade over the stages, nothing of its own: parse
// (grammar/), compile (compiler/), check (runtime/loader), and a trace
// session whose events arrive through an async iterator.
//
// The trace session runs the CLI's `trace --json --pipe` in a child process:
// the tracer installs signal handlers and writes to fd 1 for the life of a
// trace, which a library must not do to its caller's process; the child's
// cleanup (no probe, perf event or tracefs entry left) is the CLI's own.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseProbeCommands, type ParseOptions, type ProbeDefinition } from '../grammar/index.js';
import { compileDefinitions, type CompiledObject } from '../compiler/object.js';
import { checkObject, type OpenOptions, type ProgramVerdict } from '../runtime/loader.js';
import { applyRemovals } from '../bin/probe-input.js';
import { COMPILE_OPTIONS } from '../bin/compile-options.js';
import { tracefsAttachedEvents } from '../bin/attached-events.js';

export type { ProbeDefinition, ParseOptions, CompiledObject, ProgramVerdict };
export { ProbeSyntaxError, formatErrorLog, formatProbeCommand } from '../grammar/index.js';

/**
 * Parses kprobe_events/uprobe_events lines (one per line, `#` comments) with
 * the kernel's rules and applies `-:` removals. Throws ProbeSyntaxError for
 * the first bad line (`formatErrorLog(e)` renders it as tracing/error_log does).
 */
export function parse(text: string, options: ParseOptions = {}): ProbeDefinition[] {
  // `e` lines attach to the running kernel's trace events unless the caller says where they come from
  return applyRemovals(parseProbeCommands(text, { attachedEvent: tracefsAttachedEvents(), ...options }).commands);
}

export interface CompileOptions {
  /** Sleepable uprobe programs (Linux 6.0+; default true), as `compile --no-sleepable` turns off. */
  readonly sleepable?: boolean;
}

/**
 * Compiles definitions (or lines, parsed first) to one BPF object: `.object`
 * holds the ELF bytes `kprobe-bpf compile -o` writes, `.programs` each
 * program's instructions and event format.
 */
export function compile(input: string | readonly ProbeDefinition[], options: CompileOptions = {}): CompiledObject {
  const defs = typeof input === 'string' ? parse(input) : input;
  return compileDefinitions(defs, { ...COMPILE_OPTIONS, sleepable: options.sleepable ?? true });
}

export interface CheckResult {
  /** Every program passed the verifier. */
  readonly ok: boolean;
  /** One verdict per program: its load statistics, errno name and verifier log on rejection. */
  readonly verdicts: ProgramVerdict[];
  /** A failure before any program reached the verifier (maps, BTF, relocations), or ''. */
  readonly error: string;
}

/**
 * Loads every program of an object (ours or any libbpf object) through the
 * kernel verifier without attaching anything, and unloads it again, as
 * `kprobe-bpf check` does. Needs root (or CAP_BPF and CAP_PERFMON).
 */
export function check(object: Uint8Array, options: Pick<OpenOptions, 'logger' | 'logSize'> = {}): CheckResult {
  const { verdicts, error } = checkObject(object, { name: 'kprobe_bpf', ...options });
  return { ok: error === '' && verdicts.every((v) => v.error === ''), verdicts, error };
}

/** One event as `trace --json` prints it. */
export interface TraceEvent {
  /** seconds.microseconds since boot, as ftrace prints the timestamp */
  readonly time: string;
  readonly comm: string;
  readonly pid: number;
  readonly cpu: number;
  readonly group: string;
  readonly event: string;
  /** The probed address (kprobes: also the function, for return probes). */
  readonly ip?: string;
  readonly func?: string;
  /** Fetch arguments by name, decoded as the kernel prints them. */
  readonly args: Readonly<Record<string, unknown>>;
}

export interface TraceOptions {
  /** Probe definitions, one per line. */
  readonly lines: string;
  /** Start this command held, attach, then let it run; the trace ends when it exits. */
  readonly command?: readonly string[];
  /** Trace only this process. */
  readonly pid?: number;
  readonly durationSeconds?: number;
}

/** A running trace: iterate its events; stop() ends it (the iteration then finishes). */
export interface TraceHandle extends AsyncIterable<TraceEvent> {
  stop(): void;
  /** Resolves once the tracer exited: its exit status and what it said on stderr. */
  readonly done: Promise<{ readonly status: number; readonly stderr: string }>;
}

const CLI = fileURLToPath(new URL('../bin/cli.js', import.meta.url));

/** Splits `-c` for the CLI the way its own splitter reads it back (arguments quoted). */
const quote = (arg: string): string => `'${arg.replace(/'/g, `'\\''`)}'`;

/**
 * Starts a trace session. Events arrive in the order the tracer decodes them;
 * the iteration ends when the trace does (duration, command exit, stop()).
 */
export function trace(options: TraceOptions): TraceHandle {
  const argv = [CLI, 'trace', '--json', '--pipe', '-f', '-'];
  if (options.command) argv.push('-c', options.command.map(quote).join(' '));
  if (options.pid !== undefined) argv.push('-p', String(options.pid));
  if (options.durationSeconds !== undefined) argv.push('--duration', String(options.durationSeconds));
  const child = spawn(process.execPath, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end(options.lines);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<{ status: number; stderr: string }>((resolve) => {
    child.once('close', (code, signal) => resolve({ status: code ?? 128 + (signal === 'SIGKILL' ? 9 : 2), stderr }));
  });
  const lines = createInterface({ input: child.stdout });
  return {
    stop: () => void child.kill('SIGINT'),
    done,
    async *[Symbol.asyncIterator]() {
      for await (const line of lines) if (line.startsWith('{')) yield JSON.parse(line) as TraceEvent;
    },
  };
}
