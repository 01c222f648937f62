// The kernel's rules for one probe argument, checked in the kernel's order and
// reported at the kernel's offset (kernel: kernel/trace/trace_probe.c,
// traceprobe_parse_probe_arg -> traceprobe_parse_probe_arg_body ->
// parse_probe_arg_type / parse_probe_arg / finalize_fetch_insn).
// The kernel decides validity with strchr/strrchr on the raw text, so this
// module does too: that is what makes messages and carets match exactly.
import type { ArgType, BaseType, Bitfield, RegName } from './ast.js';
import type { ErrorCode } from './errors.js';
import { kstrtol, kstrtoul, kstrtouint, simpleStrtoul } from './kstrto.js';
import { isGoodName } from './names.js';

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

/** x86-64 names of regs_query_register_offset (arch/x86/kernel/ptrace.c regoffset_table). */
export const X86_64_REGS: ReadonlySet<string> = new Set<RegName>([
  'r15', 'r14', 'r13', 'r12', 'bp', 'bx', 'r11', 'r10', 'r9', 'r8', 'ax', 'cx', 'dx', 'si', 'di',
  'orig_ax', 'ip', 'cs', 'flags', 'sp', 'ss',
]);

interface FetchType { readonly name: BaseType; readonly size: number; readonly isString: boolean }

/** kernel: probe_fetch_types[] (size in bytes). */
const FETCH_TYPES: ReadonlyMap<string, FetchType> = new Map(
  ([
    ['string', 4, true], ['ustring', 4, true], ['symstr', 4, true],
    ['u8', 1], ['u16', 2], ['u32', 4], ['u64', 8],
    ['s8', 1], ['s16', 2], ['s32', 4], ['s64', 8],
    ['x8', 1], ['x16', 2], ['x32', 4], ['x64', 8],
    ['char', 1], ['symbol', 8],
  ] as const).map(([name, size, isString]) => [name, { name, size, isString: isString === true }]),
);

/** The probe's context for argument parsing (kernel: TPARG_FL_*). */
export interface ArgContext {
  readonly kernel: boolean;   // TPARG_FL_KERNEL (kprobe) — else TPARG_FL_USER (uprobe)
  readonly isReturn: boolean; // TPARG_FL_RETURN
  readonly fentry: boolean;   // TPARG_FL_FENTRY (kprobe on a function entry)
}

/** A refusal at `offset` within the argument's argv word. */
export class ArgError extends Error {
  constructor(readonly code: ErrorCode, readonly offset: number) { super(code); }
}

/** What the rules learned about an accepted argument. */
export interface CheckedArg {
  readonly name: string;
  /** The body as the kernel keeps it (printed back after `name=`). */
  readonly comm: string;
  /** The fetch part of the body (before the first ':') in plain form: what the kernel ignores dropped. */
  readonly fetchText: string;
  readonly type: ArgType;
  /** The text after '@' of a kprobe @SYM[+|-offs] fetch, resolved by the kernel only at registration. */
  readonly symbol?: string;
}

type Op = 'NOP' | 'END' | 'REG' | 'STACK' | 'STACKP' | 'RETVAL' | 'IMM' | 'COMM' | 'ARG' | 'EDATA' | 'FOFFS' | 'DATA'
  | 'DEREF' | 'UDEREF' | 'NOP_SYMBOL' | 'ST_RAW' | 'ST_MEM' | 'ST_UMEM' | 'ST_STRING' | 'ST_USTRING' | 'ST_SYMSTR'
  | 'MOD_BF' | 'LP_ARRAY';

const isFunctionEntry = (c: ArgContext) => c.kernel && c.fentry && !c.isReturn;
const isFunctionReturn = (c: ArgContext) => c.kernel && c.isReturn;
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const isAlpha = (c: string | undefined) => c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));

/** One argument's parse state: the fetch_insn slots and the moving error offset. */
class ArgParse {
  readonly code: Op[] = new Array<Op>(FETCH_INSN_MAX).fill('NOP');
  pc = 0;
  offset: number;
  /** kernel: the FETCH_NOP_SYMBOL insn's data (one per argument at most: a fetch has one leaf). */
  symbol: string | undefined;
  constructor(readonly ctx: ArgContext, bodyOffset: number) {
    this.code[FETCH_INSN_MAX - 1] = 'END';
    this.offset = bodyOffset;
  }

  fail(code: ErrorCode, offset = this.offset): never { throw new ArgError(code, offset); }

  /** kernel: parse_probe_vars; `arg` starts after '$'. Returns the variable's plain spelling. */
  vars(arg: string): string {
    if (arg.startsWith('retval')) { // a prefix match in the kernel: "$retvalx" is $retval
      if (!this.ctx.isReturn) this.fail('RETVAL_ON_PROBE');
      this.code[this.pc] = 'RETVAL';
      return '$retval';
    }
    if (arg.startsWith('stack')) {
      const rest = arg.slice(5);
      if (rest === '') { this.code[this.pc] = 'STACKP'; return '$stack'; }
      if (!isDigit(rest[0])) this.fail('BAD_VAR');
      const n = kstrtoul(rest, 10);
      if (n === undefined) this.fail('BAD_VAR');
      if (this.ctx.kernel && n > PARAM_MAX_STACK) this.fail('BAD_STACK_NUM');
      this.code[this.pc] = 'STACK';
      return `$stack${BigInt.asUintN(32, n)}`; // kernel: code->param = (unsigned int)param
    }
    if (arg === 'comm' || arg === 'COMM') { this.code[this.pc] = 'COMM'; return '$comm'; }
    if (arg.startsWith('arg')) {
      const n = kstrtoul(arg.slice(3), 10);
      if (n === undefined) this.fail('BAD_VAR');
      if (n === 0n || n > PARAM_MAX_STACK) this.fail('BAD_ARG_NUM');
      if (isFunctionEntry(this.ctx)) this.code[this.pc] = 'ARG';
      else if (isFunctionReturn(this.ctx)) this.code[this.pc] = 'EDATA';
      else this.fail('NOFENTRY_ARGS');
      return `$arg${n}`;
    }
    this.fail('BAD_VAR');
  }

  /**
   * kernel: parse_probe_arg (recursive). Returns the argument in plain form
   * for the grammar: what the kernel ignores (text after a dereference's
   * last ')', the tail of "$retval...") is dropped, numbers are spelled out.
   */
  fetch(arg: string): string {
    let plain = arg;
    switch (arg[0]) {
      case '$':
        plain = this.vars(arg.slice(1));
        break;
      case '%':
        if (!X86_64_REGS.has(arg.slice(1))) this.fail('BAD_REG_NAME');
        this.code[this.pc] = 'REG';
        break;
      case '@':
        if (isDigit(arg[1])) {
          const addr = kstrtoul(arg.slice(1));
          if (addr === undefined) this.fail('BAD_MEM_ADDR');
          this.code[this.pc] = 'IMM';
          plain = `@${addr}`;
        } else if (arg[1] === '+') {
          if (this.ctx.kernel) this.fail('FILE_ON_KPROBE');
          const off = kstrtol(arg.slice(2));
          if (off === undefined) this.fail('BAD_FILE_OFFS');
          this.code[this.pc] = 'FOFFS';
          plain = `@+${off}`;
        } else {
          if (!this.ctx.kernel) this.fail('SYM_ON_UPROBE');
          // kprobe-bpf: kallsyms names hold no parentheses; the kernel would fail the lookup later.
          if (/[()]/.test(arg)) this.fail('BAD_FETCH_ARG');
          this.code[this.pc] = 'NOP_SYMBOL';
          this.symbol = arg.slice(1);
          if (++this.pc === FETCH_INSN_MAX - 1) this.fail('TOO_MANY_OPS');
          this.code[this.pc] = 'IMM';
        }
        if (++this.pc === FETCH_INSN_MAX - 1) this.fail('TOO_MANY_OPS');
        this.code[this.pc] = 'DEREF';
        break;
      case '+':
      case '-': {
        let deref: Op = 'DEREF';
        let a = arg;
        if (a[1] === 'u') { deref = 'UDEREF'; a = a[0] + a.slice(2); }
        if (a[0] === '+') a = a.slice(1);
        const open = a.indexOf('(');
        if (open < 0) this.fail('DEREF_NEED_BRACE');
        const offset = kstrtol(a.slice(0, open));
        if (offset === undefined) this.fail('BAD_DEREF_OFFS');
        // kernel: ctx->offset += (tmp + 1 - arg) + (arg[0] != '-' ? 1 : 0) — the 'u' is not counted.
        this.offset += open + 1 + (a[0] !== '-' ? 1 : 0);
        const inner = a.slice(open + 1);
        const close = inner.lastIndexOf(')');
        if (close < 0) this.fail('DEREF_OPEN_BRACE', this.offset + inner.length);
        const innerStart = this.offset;
        const innerPlain = this.fetch(inner.slice(0, close));
        this.offset = innerStart;
        const op = this.code[this.pc];
        if (op === 'COMM' || op === 'DATA') this.fail('COMM_CANT_DEREF');
        if (++this.pc === FETCH_INSN_MAX - 1) this.fail('TOO_MANY_OPS');
        this.code[this.pc] = deref;
        const abs = offset < 0n ? -offset : offset;
        plain = `${offset < 0n ? '-' : '+'}${deref === 'UDEREF' ? 'u' : ''}${abs}(${innerPlain})`;
        break;
      }
      case '\\':
        if (arg[1] === '"') {
          const str = arg.slice(2);
          // kernel: __parse_imm_string — an empty string is not closed either (live 6.18).
          if (str.length === 0 || str[str.length - 1] !== '"') this.fail('IMMSTR_NO_CLOSE', this.offset + 2 + str.length);
          this.code[this.pc] = 'DATA';
        } else {
          const imm = immediate(arg.slice(1));
          if (imm === undefined) this.fail('BAD_IMM', this.offset + 1);
          this.code[this.pc] = 'IMM';
          plain = `\\${imm}`;
        }
        break;
      default:
        // kernel: a bare identifier, or a '(' typecast, is a BTF argument; kprobe-bpf has no BTF
        // argument support, and uprobes never have it (live 6.18: NOSUP_BTFARG for both).
        if (isAlpha(arg[0]) || arg[0] === '_' || arg[0] === '(') this.fail('NOSUP_BTFARG');
    }
    if (this.code[this.pc] === 'NOP') this.fail('BAD_FETCH_ARG');
    return plain;
  }
}

/** kernel: str_to_immediate; the value as the unsigned long it stores. */
function immediate(s: string): bigint | undefined {
  const v = isDigit(s[0]) ? kstrtoul(s) : s[0] === '-' ? kstrtol(s) : s[0] === '+' ? kstrtol(s.slice(1)) : undefined;
  return v === undefined ? undefined : BigInt.asUintN(64, v);
}

/** kernel: find_fetch_type. */
function findFetchType(t: string | undefined, ctx: ArgContext): FetchType | undefined {
  if (t !== undefined && !ctx.kernel && (t === 'symbol' || t === 'symstr')) return undefined;
  const name = t ?? 'x64';
  if (name[0] === 'b') {
    const slash = name.indexOf('/');
    if (slash < 0) return undefined;
    const bits = kstrtoul(name.slice(slash + 1));
    return bits === 8n || bits === 16n || bits === 32n || bits === 64n ? FETCH_TYPES.get(`u${bits}`) : undefined;
  }
  return FETCH_TYPES.get(name);
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

const STRING_OK: ReadonlySet<Op> = new Set(['DEREF', 'UDEREF', 'IMM', 'COMM', 'DATA']);
const SYMSTR_OK: ReadonlySet<Op> = new Set(['REG', 'STACK', 'RETVAL', 'ARG', 'DEREF']);
const ARRAY_OK: ReadonlySet<Op> = new Set(['ST_MEM', 'ST_STRING', 'ST_USTRING']);

/**
 * kernel: traceprobe_parse_probe_arg for argument `index` (0-based) whose
 * argv word is `arg`; `used` holds the names of the arguments before it.
 */
export function checkProbeArg(arg: string, index: number, used: ReadonlySet<string>, ctx: ArgContext): CheckedArg {
  let name: string;
  let bodyOffset = 0;
  const eq = arg.indexOf('=');
  if (eq >= 0) {
    if (eq > MAX_ARG_NAME_LEN) throw new ArgError('ARG_NAME_TOO_LONG', 0);
    if (eq === 0) throw new ArgError('NO_ARG_NAME', 0);
    name = arg.slice(0, eq);
    bodyOffset = eq + 1;
  } else {
    name = `arg${index + 1}`;
  }
  if (!isGoodName(name)) throw new ArgError('BAD_ARG_NAME', 0);
  if (RESERVED_FIELD_NAMES.has(name) || used.has(name)) throw new ArgError('USED_ARG_NAME', 0);

  // kernel: traceprobe_parse_probe_arg_body
  const body = arg.slice(bodyOffset);
  if (body.length > MAX_ARGSTR_LEN) throw new ArgError('ARG_TOO_LONG', bodyOffset);
  if (body.length === 0) throw new ArgError('NO_ARG_BODY', bodyOffset);

  // kernel: parse_probe_arg_type
  const colon = body.indexOf(':');
  let fetchText = body;
  let t: string | undefined;
  let count = 0;
  if (colon >= 0) {
    fetchText = body.slice(0, colon);
    t = body.slice(colon + 1);
    const lb = t.indexOf('[');
    if (lb >= 0) {
      const t2 = colon + 1 + lb + 1; // offset of the count within body
      const countAndRest = t.slice(lb + 1);
      t = t.slice(0, lb);
      const rb = countAndRest.indexOf(']');
      if (rb < 0) throw new ArgError('ARRAY_NO_CLOSE', bodyOffset + t2 + countAndRest.length);
      if (rb + 1 !== countAndRest.length) throw new ArgError('BAD_ARRAY_SUFFIX', bodyOffset + t2 + rb + 1);
      const n = kstrtouint(countAndRest.slice(0, rb));
      if (n === undefined || n === 0n) throw new ArgError('BAD_ARRAY_NUM', bodyOffset + t2);
      if (n > BigInt(MAX_ARRAY_LEN)) throw new ArgError('ARRAY_TOO_BIG', bodyOffset + t2);
      count = Number(n);
    }
  }
  const typeOffset = colon >= 0 ? colon + 1 : 0;
  let type: FetchType | undefined;
  if (fetchText === '$comm' || fetchText === '$COMM' || fetchText.startsWith('\\"')) {
    if (count > 0 || (t !== undefined && t !== 'string')) throw new ArgError('NEED_STRING_TYPE', bodyOffset + typeOffset);
    type = FETCH_TYPES.get('string');
  } else {
    type = findFetchType(t, ctx);
  }
  if (!type) throw new ArgError('BAD_TYPE', bodyOffset + typeOffset);

  const p: ArgParse = new ArgParse(ctx, bodyOffset);
  const plain = p.fetch(fetchText);

  // kernel: finalize_fetch_insn — note ctx->offset may have moved into a dereference.
  const last = p.code[p.pc]!;
  if (type.isString) {
    const ok = type.name === 'symstr' ? SYMSTR_OK : STRING_OK;
    if (!ok.has(last)) p.fail(type.name === 'symstr' ? 'BAD_SYMSTRING' : 'BAD_STRING', p.offset + typeOffset);
    if (type.name === 'symstr' || last === 'IMM' || last === 'COMM' || last === 'DATA' || count > 0) {
      if (p.code[++p.pc] !== 'NOP') p.fail('TOO_MANY_OPS');
    }
    const cur = p.code[p.pc];
    p.code[p.pc] = type.name === 'ustring' || cur === 'UDEREF' ? 'ST_USTRING' : type.name === 'symstr' ? 'ST_SYMSTR' : 'ST_STRING';
  } else if (last === 'DEREF') {
    p.code[p.pc] = 'ST_MEM';
  } else if (last === 'UDEREF') {
    p.code[p.pc] = 'ST_UMEM';
  } else {
    if (p.code[++p.pc] !== 'NOP') p.fail('TOO_MANY_OPS');
    p.code[p.pc] = 'ST_RAW';
  }
  const store = p.code[p.pc]!;
  let bitfield: Bitfield | undefined;
  if (t !== undefined) {
    const bf = parseBitfield(t, type, p);
    if (bf === 'bad') p.fail('BAD_BITFIELD', p.offset + typeOffset);
    bitfield = bf;
  }
  if (count > 0) {
    if (!ARRAY_OK.has(store)) p.fail('BAD_STRING', p.offset + typeOffset);
    if (p.code[++p.pc] !== 'NOP') p.fail('TOO_MANY_OPS');
  }

  const argType: ArgType = {
    base: type.name,
    implicit: t === undefined,
    ...(bitfield ? { bitfield } : {}),
    ...(count > 0 ? { arrayLength: count } : {}),
  };
  return { name, comm: body, fetchText: plain, type: argType, ...(p.symbol !== undefined ? { symbol: p.symbol } : {}) };
}
