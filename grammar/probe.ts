// One command line -> ProbeCommand, following the kernel's own order of checks
// (kernel: trace_kprobe.c __trace_kprobe_create, trace_uprobe.c
// __trace_uprobe_create, trace_dynevent.c dyn_event_release).
import type { ProbeArg, ProbeCommand, ProbeDefinition, ProbePoint, ProbeRemoval, Tracer } from './ast.js';
import { caretColumn } from './argv.js';
import { ProbeSyntaxError, TP_ERR, type EarlierEntry, type ErrorCode, type Subsystem } from './errors.js';
import { kstrtol, kstrtoul, kstrtouint } from './kstrto.js';
import {
  DEFAULT_GROUP, MAX_EVENT_NAME_LEN, kprobeEventName, type KprobePoint, parseEventName, uprobeEventName, uprobeSymbolEventName,
} from './names.js';
import type { ProbeRules } from './kernel-rules/index.js';
import type { Building } from '../lib/mutable.js';
import { checkProbeArg, type ArgContext } from './rules.js';
import { parseEprobe, type AttachedEventLookup } from './eprobe.js';
import { parseFprobe } from './fprobe.js';
import { BtfLineContext, expandDentryArgs, expandMetaArgs, type ProbeSite } from './btf-args.js';
import type { KernelBtf } from '../bpf/btf-kernel.js';

/** kernel: MAX_TRACE_ARGS, KRETPROBE_MAXACTIVE_MAX. */
export const MAX_TRACE_ARGS = 128;
export const KRETPROBE_MAXACTIVE_MAX = 4096n;
const UINT_MAX = (1n << 32n) - 1n;

/** What kern_path() + d_is_reg() would say about a uprobe's file. */
export type FileKind = 'regular' | 'other' | 'missing';

export interface LineOptions {
  /** Force the tracer; by default a place with '/' and ':' is a uprobe, anything else a kprobe. */
  readonly tracer?: Tracer;
  /** Accept our PATH:SYMBOL[+offs] uprobe places (default true). */
  readonly symbolPlaces?: boolean;
  /** Looks a uprobe path up; the kernel resolves it relative to the writer's cwd, following links. */
  readonly fileKind: (path: string) => FileKind;
  /** The rules of the kernel version the line is checked for. */
  readonly rules: ProbeRules;
  /** The fields of a trace event an `e` line may attach to (undefined: no such event, or not attachable). */
  readonly attachedEvent?: AttachedEventLookup;
  /** The kernel's BTF for BTF arguments, opened on first need; absent: none (a kernel without BTF). */
  readonly btf?: () => KernelBtf | undefined;
  /**
   * Whether kprobes put a probe on SYMBOL 4 bytes in, past an ENDBR (live
   * kernel state: an IBT kernel, a function that starts with ENDBR); then
   * SYMBOL+1..+4 is still its entry. Absent: only +0 is.
   */
  readonly endbr?: (symbol: string) => boolean;
  /**
   * Whether kallsyms holds MOD:SYM now (live kernel state: the module is
   * loaded). A kprobe on a module not loaded yet is accepted and armed when it
   * loads, but is no function entry (kprobe_on_func_entry: -ENOENT), so
   * `$argN` and BTF names are refused there (6.12 guest). Absent: it does.
   */
  readonly moduleSymbol?: (module: string, symbol: string) => boolean;
}

const SUBSYSTEM: Record<Tracer, Subsystem> = { kprobe: 'trace_kprobe', uprobe: 'trace_uprobe', eprobe: 'event_probe', fprobe: 'trace_fprobe', tprobe: 'trace_fprobe' };

/** Carries the words and the current argv index the way trace_probe_log does. */
export class Log {
  index = 0;
  /** Entries the kernel logged for this write before the error that ends it (see note). */
  private readonly earlier: EarlierEntry[] = [];
  constructor(
    readonly argv: readonly string[], readonly tracer: Tracer, readonly lineNumber: number, readonly rules: ProbeRules,
  ) {}

  /**
   * Logs an entry without refusing: the kernel does so where it logs an error
   * and then goes on parsing (6.12's traceprobe_expand_meta_args for `$arg*`
   * without BTF returns NULL, not an error); the refusal that follows carries it.
   */
  readonly note = (code: ErrorCode, offset: number): void => {
    const e = this.error(code, offset);
    if (e.logged) this.earlier.push({ message: e.message, caretColumn: e.caretColumn });
  };

  /** Refuses with the kernel's entry for the current word (kernel: trace_probe_log_err). */
  readonly refuse = (code: ErrorCode, offset: number, then?: ErrorCode): never => {
    if (then === undefined) throw this.error(code, offset);
    const first = this.error(code, offset);
    throw this.error(then, offset, [{ message: first.message, caretColumn: first.caretColumn }]);
  };

  /**
   * The kernel's entry in this version's words; a refusal it does not log yet is a bare error.
   * A NaN offset is one the kernel computes from a pointer difference (btf-args.ts): the caret
   * goes to the word's end and is marked as not the kernel's.
   */
  error(code: ErrorCode, offset: number, earlier: readonly EarlierEntry[] = []): ProbeSyntaxError {
    const unknown = Number.isNaN(offset);
    const before = [...this.earlier, ...earlier];
    return new ProbeSyntaxError({
      subsystem: SUBSYSTEM[this.tracer], code, message: this.rules.errorTexts[code] ?? TP_ERR[code], command: this.argv.join(' '),
      caretColumn: caretColumn(this.argv, this.index, unknown ? (this.argv[this.index]?.length ?? 0) : offset), lineNumber: this.lineNumber,
      logged: !this.rules.unloggedErrors.includes(code),
      ...(unknown ? { caretUnknown: true } : {}),
      ...(before.length ? { earlier: before } : {}),
    });
  }

  /** The kernel refuses with a bare -EINVAL and logs nothing. */
  silent(message: string): ProbeSyntaxError {
    return new ProbeSyntaxError({
      subsystem: SUBSYSTEM[this.tracer], code: 'NOT_A_PROBE', message, command: this.argv.join(' '),
      caretColumn: 0, lineNumber: this.lineNumber, logged: false,
    });
  }
}

/** A definition's arguments (kernel: the traceprobe_parse_probe_arg loop). */
export function parseArgs(log: Log, words: readonly string[], ctx: ArgContext, symbols: string[] = []): ProbeArg[] {
  const args: ProbeArg[] = [];
  const used = new Set<string>();
  for (let i = 0; i < words.length; i++) {
    log.index = i + 2;
    const c = checkProbeArg(words[i]!, i, used, ctx, log.refuse);
    used.add(c.name);
    if (c.symbol !== undefined) symbols.push(c.symbol);
    // the argument without `symbol`, as a literal (a rest pattern is a runtime copy, per argument)
    args.push({ name: c.name, source: c.source, fetch: c.fetch, type: c.type });
  }
  return args;
}

export function eventName(log: Log, argv0: string, at: number): { group?: string; event?: string } {
  log.index = 0;
  return parseEventName(argv0.slice(at), at, log.refuse);
}

/** kernel: __trace_uprobe_create. */
function parseUprobe(log: Log, argv: readonly string[], source: string, opts: LineOptions): ProbeDefinition {
  const a0 = argv[0]!;
  let isReturn = a0[0] === 'r';
  const words = argsWithin(log, argv.slice(2));
  const eventText = a0[1] === ':' ? 2 : -1;
  const place = argv[1]!;
  if (!place.includes('/')) throw log.silent("uprobe place must be PATH:OFFSET with a '/' in PATH");
  const colon = place.lastIndexOf(':');
  const symbolForm = colon >= 0 && opts.symbolPlaces !== false && /^[A-Za-z_.]/.test(place.slice(colon + 1));
  if (colon < 0 || (!/^[0-9]/.test(place.slice(colon + 1)) && !symbolForm)) {
    throw log.silent('uprobe place must be PATH:OFFSET (offset starting with a digit)');
  }
  log.index = 1;
  const path = place.slice(0, colon);
  const kind = opts.fileKind(path);
  if (kind === 'missing') throw log.error('FILE_NOT_FOUND', 0);
  if (kind !== 'regular') throw log.error('NO_REGULAR_FILE', 0);

  // Reference counter "(OFFS)" (kernel offsets are from the start of the filename).
  let rest = place.slice(colon + 1);
  const restAt = colon + 1;
  let refCtrOffset: bigint | undefined;
  const lp = rest.indexOf('(');
  if (lp >= 0) {
    const rp = rest.indexOf(')', lp);
    if (rp < 0) throw log.error('REFCNT_OPEN_BRACE', restAt + rest.length);
    if (rp + 1 !== rest.length) throw log.error('BAD_REFCNT_SUFFIX', restAt + rp + 1);
    refCtrOffset = kstrtoul(rest.slice(lp + 1, rp));
    if (refCtrOffset === undefined) throw log.error('BAD_REFCNT', restAt + lp + 1);
    rest = rest.slice(0, lp);
  }
  const pct = rest.indexOf('%');
  if (pct >= 0) {
    if (rest.slice(pct) !== '%return') throw log.error('BAD_ADDR_SUFFIX', restAt + pct);
    isReturn = true;
    rest = rest.slice(0, pct);
  }
  let point: ProbePoint;
  if (symbolForm) {
    // Our extension: SYMBOL[+|-offs], resolved later from the ELF symbol table.
    const sign = rest.search(/[+-]/);
    const symbol = sign >= 0 ? rest.slice(0, sign) : rest;
    const offset = sign >= 0 ? kstrtol(rest.slice(sign)) : 0n;
    if (offset === undefined || offset < 0n || symbol.length === 0) throw log.error('BAD_UPROBE_OFFS', restAt);
    point = refCtrOffset !== undefined ? { kind: 'file-symbol', path, symbol, offset, refCtrOffset } : { kind: 'file-symbol', path, symbol, offset };
  } else {
    const offset = kstrtoul(rest);
    if (offset === undefined) throw log.error('BAD_UPROBE_OFFS', restAt);
    point = refCtrOffset !== undefined ? { kind: 'file', path, offset, refCtrOffset } : { kind: 'file', path, offset };
  }

  const named = eventText >= 0 ? eventName(log, a0, eventText) : {};
  const event = named.event
    ?? (point.kind === 'file' ? uprobeEventName(path, point.offset) : uprobeSymbolEventName(path, point.symbol, point.offset));
  const args = parseArgs(log, words, { kernel: false, isReturn, fentry: false, rules: opts.rules });
  return { op: 'define', tracer: 'uprobe', isReturn, group: named.group ?? DEFAULT_GROUP.uprobe, event, point, args, source };
}

/**
 * kernel: more than MAX_TRACE_ARGS arguments. Refused (E2BIG) where the rules
 * say so, else the kernel parses the first MAX_TRACE_ARGS and drops the rest.
 */
export function argsWithin(log: Log, words: readonly string[]): readonly string[] {
  if (words.length <= MAX_TRACE_ARGS) return words;
  if (log.rules.extraArgs === 'ignore') return words.slice(0, MAX_TRACE_ARGS);
  log.index = 2;
  throw log.error('TOO_MANY_ARGS', 0);
}

/**
 * The words a kprobe, fprobe or tprobe definition parses as its arguments, in
 * the kernel's order (__trace_kprobe_create, __trace_fprobe_create):
 * traceprobe_expand_meta_args on kernels with BTF arguments (`$arg*` and bare
 * `$argN` words become the function's parameter names; errors of the
 * expanded words are reported at the original word of the same index, as the
 * kernel's log, which keeps the original argv, does), then MAX_TRACE_ARGS,
 * then traceprobe_expand_dentry_args (6.10: `:%pd`/`:%pD`).
 */
export function btfArgWords(log: Log, words: readonly string[], ctx: ArgContext): readonly string[] {
  let out = words;
  if (ctx.rules.btfArgs) {
    const entryOrExit = ctx.kernel && ((ctx.rules.exitArgs && ctx.isReturn) || ctx.fentry);
    out = expandMetaArgs(log, out, entryOrExit, ctx.line!);
  }
  out = argsWithin(log, out);
  if (ctx.rules.dentryArgs) {
    const expanded = expandDentryArgs(out, ctx.line!);
    if (!expanded) throw log.silent("%pd/%pD need the kernel's BTF (struct dentry and struct file offsets), and none was found");
    out = expanded;
  }
  return out;
}

/** Neither kallsyms nor a module holds a name that is empty or starts with a digit. */
const neverASymbol = (name: string): boolean => name === '' || /^[0-9]/.test(name);

/**
 * kernel: __register_trace_kprobe -> traceprobe_update_arg, run after every
 * argument parsed: each @SYM[+|-offs] is split (traceprobe_split_symbol_offset)
 * and looked up; a name kallsyms_lookup_name cannot find is -ENOENT, which
 * __trace_kprobe_create logs as BAD_PROBE_ADDR at the place (argv[1], offset 0).
 * Only names that can never resolve are refused here; the rest wait for load time.
 */
export function checkArgSymbols(log: Log, symbols: readonly string[]): void {
  for (const text of symbols) {
    const sign = text.search(/[+-]/);
    log.index = 1;
    // An offset traceprobe_split_symbol_offset cannot read is -EINVAL there, whatever the symbol
    // table holds: "Failed to register probe event" at the place. The names before it are taken
    // to resolve (a name that does not is -ENOENT first: a load-time check, as for the place).
    if (sign >= 0 && kstrtol(text.slice(sign)) === undefined) throw log.error('FAIL_REG_PROBE', 0);
    if (neverASymbol(sign >= 0 ? text.slice(0, sign) : text)) throw log.error('BAD_PROBE_ADDR', 0);
  }
}

/** kernel: the r<N> of __trace_kprobe_create; `colon` is where argv[0]'s event part starts, or -1. */
function parseMaxactive(log: Log, a0: string, colon: number): number | undefined {
  if (!/^[0-9]/.test(a0.slice(1))) return undefined;
  if (a0[0] !== 'r') throw log.error('BAD_MAXACT_TYPE', 1);
  const text = colon >= 0 ? a0.slice(1, colon) : a0.slice(1);
  if (text.length > MAX_EVENT_NAME_LEN - 1) throw log.error('BAD_MAXACT', 1);
  const n = kstrtouint(text);
  if (n === undefined || n === 0n) throw log.error('BAD_MAXACT', 1);
  if (n > KRETPROBE_MAXACTIVE_MAX) throw log.error('MAXACT_TOO_BIG', 1);
  return Number(n);
}

interface KprobePlace {
  readonly point: KprobePoint;
  /** `r`, or SYM%return. */
  readonly isReturn: boolean;
  /** TPARG_FL_FENTRY: on a function entry (SYM or SYM+0, not a return probe). */
  readonly fentry: boolean;
}

/** kernel: the [MOD:]SYM[+offs][%return] | MEMADDR place of __trace_kprobe_create (argv[1]). */
function parseKprobePlace(log: Log, place: string, isReturn: boolean, opts: Pick<LineOptions, 'endbr' | 'moduleSymbol'>): KprobePlace {
  const { endbr } = opts;
  const address = kstrtoul(place);
  if (address !== undefined) return { point: { kind: 'address', address }, isReturn, fentry: false };
  log.index = 1;
  if (place.includes('/') && place.includes(':')) throw log.silent('a uprobe place written to kprobe_events');
  let symbol = place;
  const pct = symbol.indexOf('%');
  if (pct >= 0) {
    if (symbol.slice(pct) !== '%return') throw log.error('BAD_ADDR_SUFFIX', pct);
    isReturn = true;
    symbol = symbol.slice(0, pct);
  }
  let offset = 0n;
  const sign = symbol.search(/[+-]/);
  if (sign >= 0) {
    const off = kstrtol(symbol.slice(sign));
    if (off === undefined || off < 0n || off > UINT_MAX) throw log.error('BAD_PROBE_ADDR', 0);
    offset = off;
    symbol = symbol.slice(0, sign);
  }
  // kernel: the place failed kstrtoul, so it is a symbol; one kallsyms never holds ("0x",
  // "12345zz", "%return" alone) counts 0 in number_of_same_symbols -> BAD_PROBE_ADDR at the
  // place (6.1 finds the same at register time: -ENOENT, same message and caret).
  // MOD:SYM names wait for the module, as in the kernel.
  if (!symbol.includes(':') && neverASymbol(symbol)) throw log.error('BAD_PROBE_ADDR', 0);
  // kernel: kprobe_on_func_entry() — needs kallsyms; offset 0 is the entry (up to 4, past ENDBR, on an IBT kernel).
  // kernel: arch_kprobe_on_func_entry — past an ENDBR the first 4 bytes are still the entry
  const entry = offset === 0n || (offset <= BigInt(log.rules.funcEntryMaxOffset) && endbr?.(symbol) === true);
  if (isReturn && !entry) throw log.error('BAD_RETPROBE', 0);
  const modColon = symbol.indexOf(':');
  const point: KprobePoint = modColon >= 0
    ? { kind: 'symbol', module: symbol.slice(0, modColon), symbol: symbol.slice(modColon + 1), offset }
    : { kind: 'symbol', symbol, offset };
  // kernel: a missing symbol is -ENOENT there, not -EINVAL: no BAD_RETPROBE, only no TPARG_FL_FENTRY
  const found = point.module === undefined || opts.moduleSymbol?.(point.module, point.symbol) !== false;
  return { point, isReturn, fentry: !isReturn && entry && found };
}

/** kernel: __trace_kprobe_create. */
function parseKprobe(log: Log, argv: readonly string[], source: string, opts: LineOptions): ProbeDefinition {
  const rules = opts.rules;
  const a0 = argv[0]!;
  const colon = a0.indexOf(':', 1);
  const maxactive = parseMaxactive(log, a0, colon);
  const { point, isReturn, fentry } = parseKprobePlace(log, argv[1]!, a0[0] === 'r', opts);
  const named = colon >= 0 ? eventName(log, a0, colon + 1) : {};
  const event = named.event ?? kprobeEventName(isReturn, point);
  // (assigned, not spread in: a conditional spread is a runtime copy, per line)
  const site: Building<ProbeSite> = {};
  // kernel: ctx.funcname is the place's symbol text, MOD: included (found in no BTF then)
  if (point.kind === 'symbol') site.funcName = point.module !== undefined ? `${point.module}:${point.symbol}` : point.symbol;
  if (opts.btf) site.btf = opts.btf;
  const line = new BtfLineContext(site);
  const ctx: ArgContext = { kernel: true, isReturn, fentry, rules, line };
  const words = btfArgWords(log, argv.slice(2), ctx);
  const symbols: string[] = [];
  const args = parseArgs(log, words, ctx, symbols);
  checkArgSymbols(log, symbols);
  const group = named.group ?? DEFAULT_GROUP.kprobe;
  return maxactive !== undefined
    ? { op: 'define', tracer: 'kprobe', isReturn, maxactive, group, event, point, args, source }
    : { op: 'define', tracer: 'kprobe', isReturn, group, event, point, args, source };
}

/** kernel: dyn_event_release — "-:[GRP/]EVENT [ARGS]". */
function parseRemoval(log: Log, argv: readonly string[], source: string, tracer: Tracer): ProbeRemoval {
  const a0 = argv[0]!;
  if (a0[1] !== ':') throw log.silent("a removal is written '-:[GRP/]EVENT'");
  let event = a0.slice(2);
  let group: string | undefined;
  const slash = event.indexOf('/');
  if (slash >= 0) { group = event.slice(0, slash); event = event.slice(slash + 1); }
  if (group === undefined && event === '') throw log.silent('a removal needs an event or a group');
  const args = argv.slice(1);
  return { op: 'remove', tracer, ...(group !== undefined ? { group } : {}), event, ...(args.length ? { args } : {}), source };
}

/** Which tracer a definition's words belong to, as the kernel tells them apart. */
export function tracerOf(argv: readonly string[], forced?: Tracer): Tracer {
  if (forced) return forced;
  // dynamic_events: event probes (e), fprobe (f) and tracepoint probe (t) events
  const c = argv[0]?.[0];
  if (c === 'e') return 'eprobe';
  if (c === 'f') return 'fprobe';
  if (c === 't') return 'tprobe';
  const place = argv[1] ?? '';
  return place.includes('/') && place.includes(':') ? 'uprobe' : 'kprobe';
}

/** Parses one non-empty line's words. `removalTracer` says whose events a '-:' line removes. */
export function parseCommand(
  argv: readonly string[], source: string, lineNumber: number, opts: LineOptions, removalTracer: Tracer,
): ProbeCommand {
  if (argv[0]![0] === '-') return parseRemoval(new Log(argv, removalTracer, lineNumber, opts.rules), argv, source, removalTracer);
  if (argv[0]![0] === 'e' && opts.tracer === undefined) return parseEprobe(new Log(argv, 'eprobe', lineNumber, opts.rules), argv, source, opts);
  const tracer = tracerOf(argv, opts.tracer);
  const log = new Log(argv, tracer, lineNumber, opts.rules);
  const c = argv[0]![0];
  if (tracer === 'fprobe' || tracer === 'tprobe') {
    // kernel: dyn_event ops that know no 'f'/'t' all cancel, a bare -EINVAL (6.1)
    if (!opts.rules.fprobeEvents || (c !== 'f' && c !== 't')) throw log.silent(`unknown command '${argv[0]}': a definition starts with p, r or -`);
    return parseFprobe(log, argv, source, opts);
  }
  if (c !== 'p' && c !== 'r') throw log.silent(`unknown command '${argv[0]}': a definition starts with p, r or -`);
  if (argv.length < 2) throw log.silent('a definition needs a probe place');
  return tracer === 'uprobe' ? parseUprobe(log, argv, source, opts) : parseKprobe(log, argv, source, opts);
}
