// fprobe (`f`) and tracepoint probe (`t`) events, the dynamic_events lines of
// kernel/trace/trace_fprobe.c (6.5), in 6.12's order of checks
// (__trace_fprobe_create, parse_symbol_and_return):
//   f[MAXACTIVE][:[GRP/][EVENT]] [MOD:]SYM[%return] [FETCHARGS]
//   t[:[GRP/][EVENT]] TRACEPOINT [FETCHARGS]
import type { ProbeDefinition, ProbePoint } from './ast.js';
import { kstrtouint } from './kstrto.js';
import { DEFAULT_GROUP, MAX_EVENT_NAME_LEN } from './names.js';
import type { ArgContext } from './rules.js';
import { BtfLineContext } from './btf-args.js';
import { btfArgWords, checkArgSymbols, eventName, type LineOptions, type Log, parseArgs } from './probe.js';

/** kernel: RETHOOK_MAXACTIVE_MAX. */
const RETHOOK_MAXACTIVE_MAX = 4096n;

const isAlnum = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z0-9]$/.test(c);

/** kernel: sanitize_event_name in 6.12 — ':', '.' and '*' after the first character become '_'. */
const sanitize = (s: string): string => s[0] + s.slice(1).replace(/[:.*]/g, '_');

/** kernel: the MAXACTIVE digits right after `f` (also read, then refused, after `t`). */
function parseMaxactive(log: Log, a0: string, colon: number): number | undefined {
  if (!/^[0-9]/.test(a0.slice(1))) return undefined;
  const text = colon >= 0 ? a0.slice(1, colon) : a0.slice(1);
  if (text.length > MAX_EVENT_NAME_LEN - 1) log.refuse('BAD_MAXACT', 1);
  const n = kstrtouint(text);
  if (n === undefined || n === 0n) log.refuse('BAD_MAXACT', 1);
  if (n! > RETHOOK_MAXACTIVE_MAX) log.refuse('MAXACT_TOO_BIG', 1);
  return Number(n);
}

interface Place {
  readonly symbol: string;
  readonly isReturn: boolean;
}

/** kernel: parse_symbol_and_return — the place's `%return`, a tracepoint's name, and `$retval` making an exit probe. */
function parsePlace(log: Log, argv: readonly string[], tracepoint: boolean): Place {
  log.index = 1;
  const place = argv[1]!;
  const pct = place.indexOf('%');
  if (pct >= 0) {
    if (tracepoint || place.slice(pct) !== '%return') log.refuse('BAD_ADDR_SUFFIX', pct);
    return { symbol: place.slice(0, pct), isReturn: true };
  }
  if (tracepoint) {
    const bad = place.search(/[^A-Za-z0-9_]/);
    if (bad >= 0) log.refuse('BAD_TP_NAME', bad);
  }
  for (let i = 2; i < argv.length; i++) {
    const at = argv[i]!.indexOf('$retval');
    if (at < 0) continue;
    const next = argv[i]![at + 7];
    if (isAlnum(next) || next === '_') continue;
    if (tracepoint) {
      log.index = i;
      log.refuse('RETVAL_ON_PROBE', at);
    }
    return { symbol: place, isReturn: true };
  }
  return { symbol: place, isReturn: false };
}

/** kernel: the event name made when the line gives none ("%s__entry", "%s__exit", a tracepoint's own name). */
export function fprobeEventName(tracepoint: boolean, symbol: string, isReturn: boolean): string {
  const raw = tracepoint ? `${/^[0-9]/.test(symbol) ? '_' : ''}${symbol}` : `${symbol}__${isReturn ? 'exit' : 'entry'}`;
  return sanitize(raw.slice(0, MAX_EVENT_NAME_LEN - 1));
}

/** kernel: __trace_fprobe_create. */
export function parseFprobe(log: Log, argv: readonly string[], source: string, opts: Pick<LineOptions, 'btf'>): ProbeDefinition {
  const a0 = argv[0]!;
  const tracepoint = a0[0] === 't';
  const tracer = tracepoint ? 'tprobe' : 'fprobe';
  const colon = a0.indexOf(':', 1);
  log.index = 0;
  const maxactive = parseMaxactive(log, a0, colon);
  const { symbol, isReturn } = parsePlace(log, argv, tracepoint);
  if (!isReturn && maxactive !== undefined) {
    log.index = 0;
    log.refuse('BAD_MAXACT_TYPE', 1);
  }
  const named = colon >= 0 ? eventName(log, a0, colon + 1) : {};
  const event = named.event ?? fprobeEventName(tracepoint, symbol, isReturn);
  // kernel: TPARG_FL_KERNEL | TPARG_FL_FPROBE, and FENTRY or RETURN (a tprobe: FENTRY | TPOINT), so BTF
  // arguments, $arg*, $argN renaming and %pd/%pD follow the same rules as a kprobe's at a function's
  // entry or exit; ctx.funcname is the symbol as written (MOD: included, found in no BTF then), or
  // the tracepoint's probe stub (btf-args.ts BtfLineContext.query)
  const line = new BtfLineContext({
    funcName: symbol, ...(tracepoint ? { tracepoint: true } : {}), ...(opts.btf ? { btf: opts.btf } : {}),
  });
  const ctx: ArgContext = { kernel: true, isReturn, fentry: !isReturn, fprobe: true, rules: log.rules, line };
  const words = btfArgWords(log, argv.slice(2), ctx);
  const symbols: string[] = [];
  const args = parseArgs(log, words, ctx, symbols);
  // kernel: register_fprobe -> ftrace_set_filter(symbol): a name no function can match (a
  // character outside C names, module names and globs; "vfs_read+4") is -EINVAL, FAIL_REG_PROBE at
  // the place. A number is ftrace's function index, accepted (6.12 guest). Names that do not
  // exist wait for load time. A tracepoint not found is taken as a module's, armed when it loads
  // (CONFIG_MODULES, as Debian builds).
  // `MOD:SYM` reaches ftrace_set_filter as written, which reads "MOD" as the function and "SYM" as a
  // filter command (ftrace_process_regex): no command has a symbol's name, so -EINVAL too (6.12 guest,
  // `f binfmt_misc:load_misc_binary`); a bare module function is found through kallsyms instead.
  if (!tracepoint && /[^A-Za-z0-9_.*?[\]!]/.test(symbol)) {
    log.index = 1;
    log.refuse('FAIL_REG_PROBE', 0);
  }
  checkArgSymbols(log, symbols);
  // (a function's name holds no ':' past the check above: no MOD: part to split off)
  const point: ProbePoint = tracepoint ? { kind: 'tracepoint', name: symbol } : { kind: 'function', symbol };
  return {
    op: 'define', tracer, isReturn, ...(maxactive !== undefined ? { maxactive } : {}),
    group: named.group ?? DEFAULT_GROUP[tracer], event, point, args, source,
  };
}
