// The kernel's rules for one probe argument, checked in the kernel's order and
// reported at the kernel's offset (kernel: kernel/trace/trace_probe.c,
// traceprobe_parse_probe_arg -> traceprobe_parse_probe_arg_body ->
// parse_probe_arg_type / parse_probe_arg / finalize_fetch_insn).
// The kernel decides validity with strchr/strrchr on the raw text, so this
// module does too: that is what makes messages and carets match exactly. The
// same walk builds the argument's FetchArg tree: one parse, no second lexer.
import type { ArgType, Bitfield, FetchArg } from './ast.js';
import type { ErrorCode, Refuse } from './errors.js';
import { FETCH_TYPES, fetchTypeNamed, type FetchType } from './fetch-types.js';
import { kstrtol, kstrtoul, kstrtouint, simpleStrtoul } from './kstrto.js';
import type { ProbeRules } from './kernel-rules/index.js';
import type { Building } from '../lib/mutable.js';
import { isGoodName } from './names.js';
import { isRegName } from './registers.js';
import { btfStringFetch, fetchTypeFromBtf, parseBtfArg, type BtfArgHost, type BtfLineContext, type LastType } from './btf-args.js';

/** kernel: MAX_ARGSTR_LEN, MAX_ARG_NAME_LEN, MAX_ARRAY_LEN, FETCH_INSN_MAX. */
export const MAX_ARGSTR_LEN = 63;
export const MAX_ARG_NAME_LEN = 32;
export const MAX_ARRAY_LEN = 64;
const FETCH_INSN_MAX = 16;
/** kernel: PARAM_MAX_STACK = THREAD_SIZE / sizeof(long), x86-64 THREAD_SIZE 16 KiB. */
export const PARAM_MAX_STACK = 2048n;

/** kernel: reserved_field_names[]. */
export const RESERVED_FIELD_NAMES: ReadonlySet<string> = new Set([
  'common_type', 'common_flags', 'common_preempt_count', 'common_pid', 'common_tgid',
  '__probe_ip', '__probe_ret_ip', '__probe_func',
]);

/** The probe's context for argument parsing (kernel: TPARG_FL_*). */
export interface ArgContext {
  readonly kernel: boolean;   // TPARG_FL_KERNEL (kprobe) — else TPARG_FL_USER (uprobe)
  readonly isReturn: boolean; // TPARG_FL_RETURN
  readonly fentry: boolean;   // TPARG_FL_FENTRY (kprobe on a function entry)
  /** TPARG_FL_FPROBE: an fprobe or tracepoint probe event, which has no registers. */
  readonly fprobe?: boolean;
  readonly rules: ProbeRules;
  /**
   * TPARG_FL_TEVENT (eprobes): `$NAME` names a field of the attached event
   * (`has` says whether it has one), registers are refused.
   */
  readonly tevent?: { readonly has: (field: string) => boolean };
  /** The line's BTF context (btf-args.ts); absent or without BTF: BTF arguments are "not available". */
  readonly line?: BtfLineContext;
}

/** What the rules learned about an accepted argument. */
export interface CheckedArg {
  readonly name: string;
  /** The body as the kernel keeps it (printed back after `name=`). */
  readonly source: string;
  readonly fetch: FetchArg;
  readonly type: ArgType;
  /** The text after '@' of a kprobe @SYM[+|-offs] fetch, resolved by the kernel only at registration. */
  readonly symbol?: string;
}

type Op = 'NOP' | 'END' | 'TP_ARG' | 'REG' | 'STACK' | 'STACKP' | 'RETVAL' | 'IMM' | 'COMM' | 'ARG' | 'EDATA' | 'FOFFS' | 'DATA'
  | 'DEREF' | 'UDEREF' | 'NOP_SYMBOL' | 'ST_RAW' | 'ST_MEM' | 'ST_UMEM' | 'ST_STRING' | 'ST_USTRING' | 'ST_SYMSTR'
  | 'MOD_BF' | 'LP_ARRAY';

const isFunctionEntry = (c: ArgContext) => c.kernel && c.fentry && !c.isReturn;
const isFunctionReturn = (c: ArgContext) => c.kernel && c.isReturn;
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const isAlpha = (c: string | undefined) => c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));

/** One argument's parse state: the fetch_insn slots and the moving error offset. */
class ArgParse implements BtfArgHost {
  readonly code: Op[] = new Array<Op>(FETCH_INSN_MAX).fill('NOP');
  pc = 0;
  offset: number;
  /** kernel: ctx->last_type (and its bit offset and size), set by a BTF argument, cleared by a dereference around it. */
  last: LastType | undefined;
  /** Where the argument's body starts in the argv word. */
  readonly bodyOffset: number;
  /** kernel: the FETCH_NOP_SYMBOL insn's data (one per argument at most: a fetch has one leaf). */
  symbol: string | undefined;
  constructor(readonly ctx: ArgContext, bodyOffset: number, private readonly refuse: Refuse) {
    this.code[FETCH_INSN_MAX - 1] = 'END';
    this.offset = bodyOffset;
    this.bodyOffset = bodyOffset;
  }

  /** Where a type error is reported: the body's offset, or where a dereference left it (ProbeRules.typeErrorOffset). */
  typeErrorAt(typeOffset: number): number {
    return (this.ctx.rules.typeErrorOffset === 'argument' ? this.bodyOffset : this.offset) + typeOffset;
  }

  fail(code: ErrorCode, offset = this.offset, then?: ErrorCode): never { return this.refuse(code, offset, then); }

  get isReturn(): boolean { return this.ctx.isReturn; }
  get atFunctionEntry(): boolean { return isFunctionEntry(this.ctx); }
  get rules(): ProbeRules { return this.ctx.rules; }
  get line(): BtfLineContext { return this.ctx.line!; }
  setOp(op: 'ARG' | 'EDATA' | 'RETVAL'): void { this.code[this.pc] = op; }
  pushDeref(): void { this.advance(); this.code[this.pc] = 'DEREF'; }

  /** Whether BTF arguments can be parsed here: the kernel has them and a BTF to read. */
  private get btfReady(): boolean { return this.ctx.rules.btfArgs && this.ctx.kernel && this.ctx.line?.available === true; }

  /** Moves to the next insn slot; the last one is the END the kernel keeps free. */
  advance(): void { if (++this.pc === FETCH_INSN_MAX - 1) this.fail('TOO_MANY_OPS'); }

  /** Moves to the next slot only if it is still free (the finalize steps' check). */
  claimNext(): void { if (this.code[++this.pc] !== 'NOP') this.fail('TOO_MANY_OPS'); }

  /** kernel: parse_probe_arg (recursive), dispatching on the first character. */
  fetch(arg: string): FetchArg {
    switch (arg[0]) {
      case '$': return this.vars(arg.slice(1));
      case '%': {
        // kernel: eprobe and fprobe do not handle registers â logged, then the argument is
        // left without a fetch op: BAD_FETCH_ARG at the same place (parse_probe_arg's `break`)
        if (this.ctx.fprobe || this.ctx.tevent) return this.fail('BAD_VAR', this.offset, 'BAD_FETCH_ARG');
        const reg = arg.slice(1);
        if (!isRegName(reg)) return this.fail('BAD_REG_NAME');
        this.code[this.pc] = 'REG';
        return { kind: 'reg', reg };
      }
      case '@': return this.memory(arg);
      case '+':
      case '-': return this.deref(arg);
      case '\\': return this.immediate(arg);
      default:
        // kernel (BTF arguments): a bare identifier is a BTF argument, only on a function entry or
        // (6.9) exit and with BTF; uprobes never have it. A '(' typecast is one from 6.18 (live 6.18
        // uprobes: NOSUP_BTFARG; the 6.12.95 guest: BAD_FETCH_ARG).
        if (this.ctx.rules.btfArgs && (isAlpha(arg[0]) || arg[0] === '_')) {
          const entryOrExit = isFunctionEntry(this.ctx) || (this.ctx.rules.exitArgs && isFunctionReturn(this.ctx));
          if (!entryOrExit || !this.btfReady) this.fail('NOSUP_BTFARG');
          return parseBtfArg(this, arg);
        }
        if (this.ctx.rules.btfArgs && arg[0] === '(' && this.ctx.rules.btfTypecast) this.fail('NOSUP_BTFARG');
        return this.fail('BAD_FETCH_ARG');
    }
  }

  /** kernel: parse_probe_vars; `arg` starts after '$'. */
  private vars(arg: string): FetchArg {
    if (this.ctx.tevent) return this.eventVar(arg);
    // a prefix match since 6.6 ("$retvalx" is $retval, or a BTF name); 6.1 matches it whole
    if (this.ctx.rules.retvalPrefix ? arg.startsWith('retval') : arg === 'retval') {
      if (!this.ctx.isReturn) this.fail('RETVAL_ON_PROBE');
      // kernel (BTF arguments): typed from the function's return type, member chains allowed
      if (this.btfReady) return parseBtfArg(this, `$${arg}`);
      this.code[this.pc] = 'RETVAL';
      return { kind: 'retval' };
    }
    if (arg.startsWith('stack')) {
      const rest = arg.slice(5);
      if (rest === '') { this.code[this.pc] = 'STACKP'; return { kind: 'stackp' }; }
      if (!isDigit(rest[0])) this.fail('BAD_VAR');
      const n = kstrtoul(rest, 10) ?? this.fail('BAD_VAR');
      if (this.ctx.kernel && n > PARAM_MAX_STACK) this.fail('BAD_STACK_NUM');
      this.code[this.pc] = 'STACK';
      return { kind: 'stack', index: Number(BigInt.asUintN(32, n)) }; // kernel: code->param = (unsigned int)param
    }
    if (arg === 'comm' || arg === 'COMM') { this.code[this.pc] = 'COMM'; return { kind: 'comm' }; }
    if (arg.startsWith('arg')) {
      const n = kstrtoul(arg.slice(3), 10) ?? this.fail('BAD_VAR');
      if (n === 0n || n > PARAM_MAX_STACK) this.fail('BAD_ARG_NUM');
      if (isFunctionEntry(this.ctx)) this.code[this.pc] = 'ARG';
      else if (this.ctx.rules.exitArgs && isFunctionReturn(this.ctx)) {
        this.code[this.pc] = 'EDATA';
        return { kind: 'arg', index: Number(n), atEntry: true };
      } else this.fail(this.ctx.rules.btfArgs ? 'NOFENTRY_ARGS' : 'BAD_VAR');
      return { kind: 'arg', index: Number(n) };
    }
    return this.fail('BAD_VAR');
  }

  /**
   * kernel: the TPARG_FL_TEVENT branch of parse_probe_vars. 'parse' rules
   * (parse_trace_event_arg): a field, else $comm/$COMM, else BAD_VAR at the
   * word's start. 'update' rules: every `$NAME` is a field here, looked up
   * once the argument is parsed (grammar/eprobe.ts).
   */
  private eventVar(name: string): FetchArg {
    const tevent = this.ctx.tevent!;
    if (this.ctx.rules.eventFields === 'update' || tevent.has(name)) {
      this.code[this.pc] = 'TP_ARG';
      return { kind: 'eventfield', name };
    }
    if (name === 'comm' || name === 'COMM') { this.code[this.pc] = 'COMM'; return { kind: 'comm' }; }
    return this.fail('BAD_VAR');
  }

  /** '@': @ADDR, @+FILE_OFFS (uprobes) or @SYM[+|-offs] (kprobes), each read through a dereference. */
  private memory(arg: string): FetchArg {
    let leaf: FetchArg;
    if (isDigit(arg[1])) {
      const address = kstrtoul(arg.slice(1)) ?? this.fail('BAD_MEM_ADDR');
      this.code[this.pc] = 'IMM';
      leaf = { kind: 'memaddr', address };
    } else if (arg[1] === '+') {
      if (this.ctx.kernel) this.fail('FILE_ON_KPROBE');
      const offset = kstrtol(arg.slice(2)) ?? this.fail('BAD_FILE_OFFS');
      this.code[this.pc] = 'FOFFS';
      leaf = { kind: 'fileoffs', offset };
    } else {
      if (!this.ctx.kernel) this.fail('SYM_ON_UPROBE');
      // kprobe-bpf: kallsyms names hold no parentheses; the kernel would fail the lookup later.
      if (/[()]/.test(arg)) this.fail('BAD_FETCH_ARG');
      this.code[this.pc] = 'NOP_SYMBOL';
      this.symbol = arg.slice(1);
      this.advance();
      this.code[this.pc] = 'IMM';
      leaf = symbolOf(this.symbol);
    }
    this.advance();
    this.code[this.pc] = 'DEREF';
    return leaf;
  }

  /** +|-[u]OFFS(FETCHARG): the inner argument ends at the last ')' (text after it is ignored, as by the kernel). */
  private deref(arg: string): FetchArg {
    const user = arg[1] === 'u';
    let a = user ? arg[0] + arg.slice(2) : arg;
    if (a[0] === '+') a = a.slice(1);
    const open = a.indexOf('(');
    if (open < 0) this.fail('DEREF_NEED_BRACE');
    const offset = kstrtol(a.slice(0, open)) ?? this.fail('BAD_DEREF_OFFS');
    // kernel: ctx->offset += (tmp + 1 - arg) + (arg[0] != '-' ? 1 : 0) — the 'u' is not counted.
    this.offset += open + 1 + (a[0] !== '-' ? 1 : 0);
    const inner = a.slice(open + 1);
    const close = inner.lastIndexOf(')');
    if (close < 0) this.fail('DEREF_OPEN_BRACE', this.offset + inner.length);
    const innerStart = this.offset;
    const innerFetch = this.fetch(inner.slice(0, close));
    this.offset = innerStart;
    const op = this.code[this.pc];
    if (op === 'COMM' || op === 'DATA') this.fail('COMM_CANT_DEREF');
    this.advance();
    this.code[this.pc] = user ? 'UDEREF' : 'DEREF';
    this.last = undefined; // kernel: a dereference around a BTF argument makes it untyped again
    return { kind: 'deref', offset, user, inner: innerFetch };
  }

  /** '\': \"STRING" or \IMM. */
  private immediate(arg: string): FetchArg {
    if (arg[1] === '"') {
      const str = arg.slice(2);
      // kernel: __parse_imm_string — an empty string is not closed either (live 6.18).
      if (str.length === 0 || str[str.length - 1] !== '"') this.fail('IMMSTR_NO_CLOSE', this.offset + 2 + str.length);
      this.code[this.pc] = 'DATA';
      return { kind: 'immstr', value: str.slice(0, -1) };
    }
    const value = immediateValue(arg.slice(1)) ?? this.fail('BAD_IMM', this.offset + 1);
    this.code[this.pc] = 'IMM';
    return { kind: 'imm', value };
  }
}

/** kernel: str_to_immediate; the value as the unsigned long it stores. */
function immediateValue(s: string): bigint | undefined {
  const v = isDigit(s[0]) ? kstrtoul(s) : s[0] === '-' ? kstrtol(s) : s[0] === '+' ? kstrtol(s.slice(1)) : undefined;
  return v === undefined ? undefined : BigInt.asUintN(64, v);
}

/**
 * SYM[+|-offs] split like traceprobe_split_symbol_offset. An offset kstrtol
 * refuses reads as 0 here: the kernel fails such a symbol at registration,
 * which the grammar leaves to load time (probe.ts checkArgSymbols).
 */
function symbolOf(text: string): FetchArg {
  const at = text.search(/[+-]/);
  if (at < 0) return { kind: 'symbol', symbol: text, offset: 0n };
  return { kind: 'symbol', symbol: text.slice(0, at), offset: kstrtol(text.slice(at)) ?? 0n };
}

/** What parse_probe_arg_type learned from the text after the body's first ':'. */
interface TypeSpec {
  /** The fetch part of the body (before the first ':'). */
  readonly fetchText: string;
  /** The type as written (without its [N]), undefined without a ':'. */
  readonly typeText: string | undefined;
  /** Offset of the type text within the body (0 without one: the kernel reports there). */
  readonly typeOffset: number;
  /** TYPE[N]: N, else 0. */
  readonly count: number;
  readonly type: FetchType;
}

/** kernel: the "[N]" part of parse_probe_arg_type; `rest` follows the '[' at `at` in the argv word. */
function arrayCount(rest: string, at: number, refuse: Refuse): number {
  const rb = rest.indexOf(']');
  if (rb < 0) refuse('ARRAY_NO_CLOSE', at + rest.length);
  if (rb + 1 !== rest.length) refuse('BAD_ARRAY_SUFFIX', at + rb + 1);
  const n = kstrtouint(rest.slice(0, rb));
  if (n === undefined || n === 0n) refuse('BAD_ARRAY_NUM', at);
  if (n > BigInt(MAX_ARRAY_LEN)) refuse('ARRAY_TOO_BIG', at);
  return Number(n);
}

/** kernel: find_fetch_type; a bitfield b<w>@<o>/<c> is stored as u<c>. */
function findFetchType(t: string | undefined, ctx: ArgContext): FetchType | undefined {
  if (t !== undefined && !ctx.kernel && (t === 'symbol' || t === 'symstr')) return undefined;
  if ((t === 'char' && !ctx.rules.charType) || (t === 'symstr' && !ctx.rules.symstrType)) return undefined;
  const name = t ?? 'x64';
  if (name[0] === 'b') {
    const slash = name.indexOf('/');
    if (slash < 0) return undefined;
    const bits = kstrtoul(name.slice(slash + 1));
    return bits === 8n || bits === 16n || bits === 32n || bits === 64n ? fetchTypeNamed(`u${bits}`) : undefined;
  }
  return fetchTypeNamed(name);
}

/** kernel: parse_probe_arg_type, for the body that starts at `bodyOffset` in the argv word. */
function parseArgType(body: string, bodyOffset: number, ctx: ArgContext, refuse: Refuse): TypeSpec {
  const colon = body.indexOf(':');
  let typeText = colon >= 0 ? body.slice(colon + 1) : undefined;
  const fetchText = colon >= 0 ? body.slice(0, colon) : body;
  let count = 0;
  const lb = typeText?.indexOf('[') ?? -1;
  if (typeText !== undefined && lb >= 0) {
    count = arrayCount(typeText.slice(lb + 1), bodyOffset + colon + 1 + lb + 1, refuse);
    typeText = typeText.slice(0, lb);
  }
  const typeOffset = colon >= 0 ? colon + 1 : 0;
  let type: FetchType | undefined;
  // kernel: "But ignore for eprobes": an attached event may have a field named comm (6.1.0-57 and 6.12.95 guests alike).
  const exempt = ctx.tevent !== undefined;
  if (!exempt && (fetchText === '$comm' || fetchText === '$COMM' || fetchText.startsWith('\\"'))) {
    if (count > 0 || (typeText !== undefined && typeText !== 'string')) refuse('NEED_STRING_TYPE', bodyOffset + typeOffset);
    type = FETCH_TYPES.string;
  } else {
    type = findFetchType(typeText, ctx) ?? refuse('BAD_TYPE', bodyOffset + typeOffset);
  }
  return { fetchText, typeText, typeOffset, count, type };
}

/** kernel: __parse_bitfield_probe_arg; undefined when the text is not a bitfield. */
function parseBitfield(t: string, type: FetchType, p: ArgParse): Bitfield | undefined | 'bad' {
  if (t[0] !== 'b') return undefined;
  const w = simpleStrtoul(t, 1);
  if (w.value === 0n || t[w.end] !== '@') return 'bad';
  const o = simpleStrtoul(t, w.end + 1);
  if (o.end === w.end + 1 || t[o.end] !== '/') return 'bad';
  if (p.code[++p.pc] !== 'NOP') return 'bad';
  p.code[p.pc] = 'MOD_BF';
  const container = type.size * 8;
  if (BigInt(container) < w.value + o.value) return 'bad';
  return { width: Number(w.value), offset: Number(o.value), container };
}

const STRING_OK: ReadonlySet<Op> = new Set(['DEREF', 'UDEREF', 'IMM', 'COMM', 'DATA', 'TP_ARG']);
const SYMSTR_OK: ReadonlySet<Op> = new Set(['REG', 'STACK', 'RETVAL', 'ARG', 'DEREF', 'TP_ARG']);
const ARRAY_OK: ReadonlySet<Op> = new Set(['ST_MEM', 'ST_STRING', 'ST_USTRING']);

/** kernel: the store step of finalize_fetch_insn — how the fetched value is stored. */
function finalizeStore(p: ArgParse, spec: TypeSpec): Op {
  const { type, count } = spec;
  const last = p.code[p.pc]!;
  if (type.isString) {
    const symstr = type.name === 'symstr';
    // note: p.offset may have moved into a dereference, as the kernel's ctx->offset has (typeErrorAt).
    if (!(symstr ? SYMSTR_OK : STRING_OK).has(last)) p.fail(symstr ? 'BAD_SYMSTRING' : 'BAD_STRING', p.typeErrorAt(spec.typeOffset));
    if (symstr || last === 'IMM' || last === 'COMM' || last === 'DATA' || last === 'TP_ARG' || count > 0) p.claimNext();
    const cur = p.code[p.pc];
    p.code[p.pc] = type.name === 'ustring' || cur === 'UDEREF' ? 'ST_USTRING' : symstr ? 'ST_SYMSTR' : 'ST_STRING';
  } else if (last === 'DEREF') {
    p.code[p.pc] = 'ST_MEM';
  } else if (last === 'UDEREF') {
    p.code[p.pc] = 'ST_UMEM';
  } else {
    p.claimNext();
    p.code[p.pc] = 'ST_RAW';
  }
  return p.code[p.pc]!;
}

/** kernel: finalize_fetch_insn — the store, then a bitfield modifier, then the array loop. */
function finalizeFetch(p: ArgParse, spec: TypeSpec): Bitfield | undefined {
  const store = finalizeStore(p, spec);
  let bitfield: Bitfield | undefined;
  if (spec.typeText !== undefined) {
    const bf = parseBitfield(spec.typeText, spec.type, p);
    if (bf === 'bad') p.fail('BAD_BITFIELD', p.typeErrorAt(spec.typeOffset));
    bitfield = bf;
  }
  if (spec.count > 0) {
    if (!ARRAY_OK.has(store)) p.fail('BAD_STRING', p.typeErrorAt(spec.typeOffset));
    p.claimNext();
  }
  return bitfield;
}

/**
 * kernel: the NAME= part of traceprobe_parse_probe_arg. An unnamed argument is
 * arg<index+1>, or (kernels with BTF arguments, generate_probe_arg_name) the
 * text before its first ':' when that is a C identifier.
 */
function parseArgName(arg: string, index: number, used: ReadonlySet<string>, ctx: ArgContext, refuse: Refuse): { name: string; bodyOffset: number } {
  const eq = arg.indexOf('=');
  if (eq > MAX_ARG_NAME_LEN) refuse('ARG_NAME_TOO_LONG', 0);
  if (eq === 0) refuse('NO_ARG_NAME', 0);
  let name = eq > 0 ? arg.slice(0, eq) : `arg${index + 1}`;
  if (eq < 0 && ctx.rules.btfArgs) {
    const colon = arg.indexOf(':');
    const head = colon >= 0 ? arg.slice(0, colon) : arg;
    if (isGoodName(head)) name = head;
  }
  if (!isGoodName(name)) refuse('BAD_ARG_NAME', 0);
  if (RESERVED_FIELD_NAMES.has(name) || used.has(name)) refuse('USED_ARG_NAME', 0);
  return { name, bodyOffset: eq + 1 };
}

/**
 * kernel: the BTF step of traceprobe_parse_probe_arg_body — with no :TYPE the
 * BTF type decides the fetch type; `:string`/`:ustring` on a `char *` reads
 * through it. Returns the spec with its type replaced, and the BTF type's name.
 */
function applyBtfType(p: ArgParse, spec: TypeSpec): { spec: TypeSpec; btfTypeName: string } {
  const last = p.last!;
  const btfTypeName = last.btf.typeName(last.declared);
  if (spec.typeText === undefined) {
    return { spec: { ...spec, type: fetchTypeNamed(fetchTypeFromBtf(last) ?? 'x64')! }, btfTypeName };
  }
  if (spec.typeText.includes('string')) {
    const how = btfStringFetch(last);
    if (how === 'bad') p.fail('BAD_TYPE4STR');
    if (how === 'deref') {
      if (p.pc + 1 === FETCH_INSN_MAX - 1) p.fail('TOO_MANY_OPS');
      p.pushDeref();
      if (spec.typeText[0] === 'u') p.code[p.pc] = 'UDEREF';
    }
  }
  return { spec, btfTypeName };
}

/** kernel: parse_btf_bitfield — a BTF bitfield (or odd-width int) read as u64 and shifted into place. */
function btfBitfield(p: ArgParse, spec: TypeSpec): Bitfield | undefined {
  const last = p.last;
  if (!last || spec.typeText !== undefined || (last.bitsize % 8 === 0 && last.bitoffs === 0)) return undefined;
  if (p.code[++p.pc] !== 'NOP') p.fail('TOO_MANY_OPS');
  p.code[p.pc] = 'MOD_BF';
  return { width: last.bitsize, offset: last.bitoffs, container: 64 };
}

/**
 * kernel: traceprobe_parse_probe_arg for argument `index` (0-based) whose
 * argv word is `arg`; `used` holds the names of the arguments before it.
 */
export function checkProbeArg(arg: string, index: number, used: ReadonlySet<string>, ctx: ArgContext, refuse: Refuse): CheckedArg {
  const { name, bodyOffset } = parseArgName(arg, index, used, ctx, refuse);
  // kernel: traceprobe_parse_probe_arg_body
  const body = arg.slice(bodyOffset);
  if (body.length > MAX_ARGSTR_LEN) refuse('ARG_TOO_LONG', bodyOffset);
  if (body.length === 0) refuse('NO_ARG_BODY', bodyOffset);
  let spec = parseArgType(body, bodyOffset, ctx, refuse);
  const p = new ArgParse(ctx, bodyOffset, refuse);
  let fetch = p.fetch(spec.fetchText);
  let btfTypeName: string | undefined;
  if (p.last) {
    const before = p.pc;
    ({ spec, btfTypeName } = applyBtfType(p, spec));
    // the char * a string is read through: one more dereference at offset 0
    if (p.pc !== before) fetch = { kind: 'deref', offset: 0n, user: p.code[p.pc] === 'UDEREF', inner: fetch };
  }
  const bitfield = finalizeFetch(p, spec) ?? btfBitfield(p, spec);
  // optional keys assigned, not spread in (a runtime copy each, for every argument of every line)
  const type: Building<ArgType> = { base: spec.type.name, implicit: spec.typeText === undefined };
  if (bitfield) type.bitfield = bitfield;
  if (spec.count > 0) type.arrayLength = spec.count;
  if (btfTypeName !== undefined) type.btfTypeName = btfTypeName;
  const checked: Building<CheckedArg> = { name, source: body, fetch, type };
  if (p.symbol !== undefined) checked.symbol = p.symbol;
  return checked;
}
