// Public face of the grammar stage: text in, typed commands out, or the
// kernel's own error. Pure apart from the uprobe file check, which is
// injectable (fileKind) and defaults to stat(2), and the kernel version,
// which defaults to the running kernel's (rules).
import type { ProbeCommand, ProbeDefinition, Tracer } from './ast.js';
import { MAX_LINE_LEN, sourceLines, splitArgv } from './argv.js';
import { ProbeSyntaxError } from './errors.js';
import { KprobeBpfError } from '../lib/errors.js';
import { fileKindOncePerPath } from './file-kind.js';
import { refCtrMismatch } from './ref-ctr.js';
import { fileIdentityOncePerPath, type FileIdentity } from '../lib/file-identity.js';
import { runningKernel, type ProbeRules } from './kernel-rules/index.js';
import { translateLegacyArgv } from './legacy.js';
import { Log, parseCommand, tracerOf, type FileKind, type LineOptions } from './probe.js';
import { appendRefusal, applyRemoval } from './append.js';
import type { Building } from '../lib/mutable.js';
import type { AttachedEventLookup } from './eprobe.js';
import { openKernelBtf, runningKernelBtf, type KernelBtf } from '../bpf/btf-kernel.js';

export type { ProbeCommand, ProbeDefinition, ProbeRemoval, Tracer } from './ast.js';
export { ProbeSyntaxError, formatErrorLog, TP_ERR } from './errors.js';
export { formatProbeCommand, type FormatOptions } from './format.js';
export { possibleCpus } from './possible-cpus.js';
export {
  CHECKED_KERNELS, KNOWN_KERNELS, kernelRules, runningKernel, selectKernel, UnknownKernelError, unknownKernelReason,
  type KernelRules, type ProbeRules,
} from './kernel-rules/index.js';
export type { FileKind } from './probe.js';
export type { AttachedEventLookup } from './eprobe.js';

export interface ParseOptions {
  /** kprobe_events or uprobe_events rules; by default chosen per line from the place's form. */
  readonly tracer?: Tracer;
  /** Accept the 2009 fetch args (aN, sN, rv, ra) and translate them (kprobes only). */
  readonly legacy?: boolean;
  /** Accept our PATH:SYMBOL[+offs] uprobe extension (default true). */
  readonly symbolPlaces?: boolean;
  /** How uprobe paths are checked; default stat(2). */
  readonly fileKind?: (path: string) => FileKind;
  /** Which file a uprobe path names, to compare places (default: stat(2)'s device and inode). */
  readonly fileIdentity?: FileIdentity;
  /** Line number of the first line (for errors), default 1. */
  readonly firstLine?: number;
  /** The kernel version's rules (kernelRules(v).probe); default the running kernel's. */
  readonly rules?: ProbeRules;
  /** The fields of the trace events `e` lines attach to (bin/: the running kernel's tracefs); default none. */
  readonly attachedEvent?: AttachedEventLookup;
  /**
   * The kernel BTF that BTF arguments are checked and typed against: a BTF,
   * a file to read one from (--btf), or null for none (a kernel without BTF).
   * Default: the running kernel's /sys/kernel/btf/vmlinux, read on first need.
   */
  readonly btf?: KernelBtf | string | null;
  /** Whether a kprobe on SYMBOL lands past an ENDBR (live kernel state, see LineOptions.endbr); default: never. */
  readonly endbr?: (symbol: string) => boolean;
  /** Whether kallsyms holds MOD:SYM (live kernel state, see LineOptions.moduleSymbol); default: it does. */
  readonly moduleSymbol?: (module: string, symbol: string) => boolean;
}

/** The BTF option as the lazy source the grammar asks only when a line needs it. */
export function btfSource(btf: ParseOptions['btf']): () => KernelBtf | undefined {
  if (btf === null) return () => undefined;
  if (btf === undefined) return runningKernelBtf;
  if (typeof btf !== 'string') return () => btf;
  let opened: KernelBtf | undefined | null = null;
  return () => {
    if (opened === null) {
      opened = openKernelBtf(btf);
      if (!opened) throw new BtfFileError(`--btf ${btf}: no such file (a directory must hold vmlinux, as /sys/kernel/btf does)`);
    }
    return opened;
  };
}

/** A --btf file that cannot be read. */
export class BtfFileError extends KprobeBpfError {}

export interface ParseResult {
  readonly commands: ProbeCommand[];
}

/**
 * Parses every line of `text` like a write to kprobe_events/uprobe_events:
 * '#' starts a comment, blank lines are skipped, and the first failing line
 * throws a ProbeSyntaxError (later lines are not looked at, as in the kernel).
 */
export function parseProbeCommands(text: string, options: ParseOptions = {}): ParseResult {
  const { commands, error } = parseProbeCommandsUntilError(text, options);
  if (error) throw error;
  return { commands };
}

/**
 * Like parseProbeCommands, but returns the commands of the lines before the
 * failing one together with its error (the kernel has applied those lines by then).
 */
export function parseProbeCommandsUntilError(text: string, options: ParseOptions = {}): ParseResult & { error?: ProbeSyntaxError } {
  const commands: ProbeCommand[] = [];
  try {
    parseInto(text, options, commands);
  } catch (e) {
    if (e instanceof ProbeSyntaxError) return { commands, error: e };
    throw e;
  }
  return { commands };
}

function parseInto(text: string, options: ParseOptions, commands: ProbeCommand[]): void {
  const fileKind = options.fileKind ?? fileKindOncePerPath();
  const lineOpts: Building<LineOptions> = {
    tracer: options.tracer, symbolPlaces: options.symbolPlaces, fileKind, rules: options.rules ?? runningKernel().probe, btf: btfSource(options.btf),
  };
  // assigned, not spread in (a conditional spread is a runtime copy; this runs per call, often per line)
  if (options.attachedEvent) lineOpts.attachedEvent = options.attachedEvent;
  if (options.endbr) lineOpts.endbr = options.endbr;
  if (options.moduleSymbol) lineOpts.moduleSymbol = options.moduleSymbol;
  const firstLine = (options.firstLine ?? 1) - 1;
  let identity: FileIdentity | undefined;
  // the definitions not removed yet, kept as the lines come (the rules across lines compare against them)
  const alive: ProbeDefinition[] = [];
  for (const line of sourceLines(text)) {
    let argv = splitArgv(line.text);
    if (argv.length === 0) continue;
    const lineNumber = line.lineNumber + firstLine;
    if (line.text.length > MAX_LINE_LEN) {
      throw new ProbeSyntaxError({
        subsystem: options.tracer === 'uprobe' ? 'trace_uprobe' : 'trace_kprobe', code: 'NOT_A_PROBE',
        message: `Line length is too long: Should be less than ${MAX_LINE_LEN}`, command: argv.join(' '),
        caretColumn: 0, lineNumber, logged: false,
      });
    }
    if (options.legacy) argv = translateLegacyArgv(argv);
    const removalTracer = removalTracerFor(argv, commands, options.tracer);
    const command = parseCommand(argv, line.text.trim(), lineNumber, lineOpts, removalTracer);
    if (command.op === 'define') {
      identity ??= options.fileIdentity ?? fileIdentityOncePerPath();
      if (refCtrMismatch(command, alive, identity)) {
        throw new ProbeSyntaxError({
          subsystem: 'trace_uprobe', code: 'NOT_A_PROBE', message: 'Reference counter offset mismatch.', command: argv.join(' '),
          caretColumn: 0, lineNumber, logged: false,
        });
      }
      const refused = appendRefusal(command, alive, identity);
      if (refused) {
        const log = new Log(argv, command.tracer, lineNumber, lineOpts.rules!);
        log.index = refused.index;
        throw log.error(refused.code, 0);
      }
      alive.push(command);
    } else applyRemoval(alive, command);
    commands.push(command);
  }
}

/** A '-:' line removes from the tracer that defined the event in this input, else the forced or last one. */
function removalTracerFor(argv: readonly string[], earlier: readonly ProbeCommand[], forced?: Tracer): Tracer {
  if (forced) return forced;
  if (argv[0]![0] !== '-') return tracerOf(argv);
  const name = argv[0]!.slice(2);
  const event = name.slice(name.indexOf('/') + 1);
  for (let i = earlier.length - 1; i >= 0; i--) {
    const c = earlier[i]!;
    if (c.op === 'define' && c.event === event) return c.tracer;
  }
  const last = [...earlier].reverse().find((c) => c.op === 'define');
  return last?.tracer ?? 'kprobe';
}
