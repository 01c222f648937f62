// Arguments by name and type from the kernel's BTF (kernel/trace/trace_probe.c
// with CONFIG_PROBE_EVENTS_BTF_ARGS: query_btf_context, parse_btf_arg,
// parse_btf_field, check_prepare_btf_string_fetch, parse_btf_bitfield): a
// bare parameter name, a typed `$retval`, and `->`/`.` member chains, lowered
// to the same fetch ops the kernel lowers them to (ARG/EDATA/RETVAL and DEREFs).
// Like the rest of the grammar it works on the raw text with the kernel's
// offsets, so messages and carets match.
import { Kind, type TypeId } from '../bpf/btf.js';
import type { FuncParam, FuncProto, KernelBtf } from '../bpf/btf-kernel.js';
import type { FetchArg, MemberAccess } from './ast.js';
import type { ErrorCode } from './errors.js';
import type { ProbeRules } from './kernel-rules/index.js';

/**
 * Where a probe sits, for its BTF arguments (kernel: traceprobe_parse_context's
 * funcname and TPARG_FL_TPOINT). Shared by kprobes, fprobes and tprobes.
 */
export interface ProbeSite {
  /**
   * kernel: ctx->funcname — the function whose prototype names the arguments;
   * for a tracepoint probe, the tracepoint's name (see BtfLineContext.query).
   */
  readonly funcName?: string;
  /**
   * TPARG_FL_TPOINT: a tracepoint probe. Its prototype is its probe stub's,
   * whose first parameter (`void *__data`) is hidden.
   */
  readonly tracepoint?: boolean;
  /**
   * The kernel's BTF, opened only when an argument needs it. Absent (or
   * answering undefined): a kernel without BTF arguments (no
   * CONFIG_PROBE_EVENTS_BTF_ARGS), where they are "BTF is not available".
   */
  readonly btf?: () => KernelBtf | undefined;
}

/** The BTF type a fetch left behind (kernel: ctx->last_type, last_bitoffs, last_bitsize). */
export interface LastType {
  readonly btf: KernelBtf;
  /** The type past its modifiers. */
  readonly id: TypeId;
  /** The type as declared (for its C name). */
  readonly declared: TypeId;
  bitoffs: number;
  bitsize: number;
}

/**
 * One line's BTF context (kernel: ctx->btf/proto/params, set by the first
 * successful query_btf_context and kept for the line's later arguments).
 */
export class BtfLineContext {
  private proto: FuncProto | undefined;
  private params: readonly FuncParam[] = [];
  /** The tracepoint's hidden `__data` (what params[-1] reads in the kernel), else undefined. */
  private hidden: FuncParam | undefined;
  private btfFile: KernelBtf | undefined | null = null;

  constructor(readonly site: ProbeSite) {}

  /** Whether this kernel has BTF arguments at all (a BTF to read). */
  get available(): boolean { return this.kernelBtf() !== undefined; }

  private kernelBtf(): KernelBtf | undefined {
    if (this.btfFile === null) this.btfFile = this.site.btf?.();
    return this.btfFile;
  }

  /** kernel: ctx->btf != NULL, i.e. a query found the function. */
  get found(): FuncProto | undefined { return this.proto; }
  get nrParams(): number { return this.params.length; }
  param(i: number): FuncParam | undefined { return this.params[i]; }

  /**
   * Parameter `i` as the kernel's ctx->params[i] reads it, where i may be -1
   * (sprint_nth_btf_arg for `$arg0`): before a tracepoint's visible
   * parameters that is its hidden `__data`; before a function's, the
   * prototype's own header, whose word read as a name offset names nothing.
   */
  paramAt(i: number): FuncParam | undefined { return i >= 0 ? this.params[i] : i === -1 ? this.hidden : undefined; }

  /**
   * kernel: query_btf_context — true when the function's prototype is known
   * (then kept). A tracepoint probe's funcname is its probe stub's kallsyms
   * name, `__probestub_TP` (trace_fprobe.c: find_tracepoint, then
   * kallsyms_lookup of tpoint->probestub); a tracepoint the kernel does not
   * find yet (a module's, armed when it loads) keeps its own name. The
   * stub's FUNC in BTF stands for the tracepoint being there.
   */
  query(): boolean {
    if (this.proto) return true;
    const name = this.site.funcName;
    const btf = this.kernelBtf();
    if (name === undefined || !btf) return false;
    const proto = (this.site.tracepoint ? btf.funcProto(`__probestub_${name}`) : undefined) ?? btf.funcProto(name);
    if (!proto) return false;
    this.proto = proto;
    // kernel: the first parameter hidden only when there is one (btf_get_func_param gives NULL for none)
    if (this.site.tracepoint && proto.params.length > 0) {
      this.hidden = proto.params[0];
      this.params = proto.params.slice(1);
    } else {
      this.params = proto.params;
    }
    return true;
  }

  /** Struct `name`'s member chain byte offset (for %pd/%pD), from the kernel's BTF. */
  offsetOf(struct: string, path: readonly string[]): number | undefined {
    const btf = this.kernelBtf();
    const id = btf?.findNamed(Kind.STRUCT, struct);
    if (!btf || id === undefined) return undefined;
    let type = btf.skipModifiers(id);
    let bits = 0;
    for (const name of path) {
      const m = btf.member(type.id, name);
      if (m === undefined || m === 'not-struct') return undefined;
      bits += m.bitOffset;
      type = btf.skipModifiers(m.type);
    }
    return bits / 8;
  }
}

/** What parse_btf_arg needs from the argument being parsed (rules.ts ArgParse). */
export interface BtfArgHost {
  /** kernel: ctx->offset; NaN once the kernel's own offset is a pointer difference with NULL (see parseBtfField). */
  offset: number;
  readonly isReturn: boolean;
  /** TPARG_FL_FENTRY / function entry: parameters are read as ARG, at exit as EDATA. */
  readonly atFunctionEntry: boolean;
  readonly rules: ProbeRules;
  readonly line: BtfLineContext;
  last: LastType | undefined;
  fail(code: ErrorCode, offset?: number): never;
  /** Puts `op` in the current fetch_insn slot. */
  setOp(op: 'ARG' | 'EDATA' | 'RETVAL'): void;
  /** Moves to the next slot and puts a DEREF there (kernel: ++code == end is TOO_MANY_OPS). */
  pushDeref(): void;
}

/** kernel: split_next_field — the part before the first `.` or `->`, and what follows. */
function splitNextField(host: BtfArgHost, text: string): { head: string; next?: string; nextAt: number; isPtr: boolean } {
  const at = text.search(/[.-]/);
  if (at < 0 || !host.rules.memberAccess) return { head: text, nextAt: 0, isPtr: false };
  if (text[at] === '-') {
    if (text[at + 1] !== '>') host.fail('BAD_HYPHEN', host.offset + at);
    return { head: text.slice(0, at), next: text.slice(at + 2), nextAt: at + 2, isPtr: true };
  }
  return { head: text.slice(0, at), next: text.slice(at + 1), nextAt: at + 1, isPtr: false };
}

/**
 * kernel: parse_btf_arg. `varname` is the argument text (a parameter name, or
 * `$retval`, either followed by a member chain); returns the fetch it lowers to.
 */
export function parseBtfArg(host: BtfArgHost, varname: string): FetchArg {
  const line = host.line;
  const split = splitNextField(host, varname);
  if (!split.isPtr && split.next !== undefined) host.fail('NOSUP_DAT_ARG', host.offset + split.nextAt);
  let leaf: FetchArg;
  let tid: TypeId;
  if (host.isReturn && split.head === '$retval') {
    host.setOp('RETVAL');
    leaf = { kind: 'retval' };
    if (!line.query()) {
      if (split.next !== undefined) host.fail('NO_BTF_ENTRY', host.offset + split.nextAt);
      return leaf; // no BTF for the function: the untyped $retval
    }
    tid = line.found!.returnType;
    if (tid === 0) host.fail('NO_RETVAL');
  } else {
    if (!line.found && (!line.query() || line.nrParams === 0)) host.fail('NO_BTF_ENTRY');
    let index = -1;
    for (let i = 0; i < line.nrParams; i++) {
      if (line.param(i)!.name === split.head) { index = i; break; }
    }
    if (index < 0) host.fail('NO_BTFARG');
    // 1-based like $argN; a tracepoint's counted after its hidden __data, as $argN's are
    // (the kernel's code->param = i + 1 there, and tp_btf's context has no __data: compiler/trampoline.ts)
    const n = index + 1;
    if (host.atFunctionEntry) {
      host.setOp('ARG');
      leaf = { kind: 'arg', index: n };
    } else {
      host.setOp('EDATA');
      leaf = { kind: 'arg', index: n, atEntry: true };
    }
    tid = line.param(index)!.type;
  }
  const btf = line.found!.btf;
  const resolved = btf.skipModifiers(tid);
  host.last = { btf, id: resolved.id, declared: tid, bitoffs: 0, bitsize: 0 };
  if (split.next === undefined) return leaf;
  host.offset += split.nextAt;
  return parseBtfField(host, split.next, leaf);
}

/** kernel: parse_btf_field — each `->` is a DEREF at the summed offsets of its `.`-joined members. */
function parseBtfField(host: BtfArgHost, fieldname: string, inner: FetchArg): FetchArg {
  const btf = host.last!.btf;
  let type = { id: host.last!.id, type: btf.type(host.last!.id) };
  let fetch = inner;
  let rest: string | undefined = fieldname;
  do {
    if (type.type.kind !== Kind.PTR) host.fail('NO_PTR_STRCT');
    type = btf.skipModifiers(type.type.type ?? 0);
    const outer = type;
    const path: string[] = [];
    const indices: number[] = [];
    let bitoffs = 0;
    let bitsize = 0;
    let declared: TypeId = type.id;
    let isPtr = false;
    do {
      const split = splitNextField(host, rest!);
      isPtr = split.isPtr;
      const m = btf.member(type.id, split.head);
      if (m === 'not-struct') host.fail('BAD_BTF_TID');
      if (m === undefined) host.fail('NO_BTF_FIELD');
      bitoffs += m.anonBitOffset;
      // kernel: the bitfield rule of the struct searched, not of an anonymous member that holds the field
      if (type.type.kindFlag) {
        bitoffs += m.offsetWord & 0xffffff;
        bitsize = m.offsetWord >>> 24;
      } else {
        bitoffs += m.offsetWord;
        bitsize = 0;
      }
      path.push(split.head);
      indices.push(...m.accessIndices);
      declared = m.type;
      type = btf.skipModifiers(m.type);
      // kernel (6.12): ctx->offset += next - fieldname, with next NULL after the last field: a
      // pointer difference, so an error reported after the chain has no meaningful caret.
      host.offset = split.next !== undefined ? host.offset + split.nextAt : Number.NaN;
      rest = split.next;
    } while (!isPtr && rest !== undefined);
    host.pushDeref();
    const member: MemberAccess = { root: outer.type.name, path, accessIndices: indices, ...(btf.module !== undefined ? { module: btf.module } : {}) };
    fetch = { kind: 'deref', offset: BigInt(Math.floor(bitoffs / 8)), user: false, inner: fetch, member };
    host.last = { btf, id: type.id, declared, bitoffs: bitoffs % 8, bitsize };
  } while (rest !== undefined);
  return fetch;
}

const BTF_INT_SIGNED = 1;
const intEncoding = (data: number): number => (data >>> 24) & 0x0f;
const intBits = (data: number): number => data & 0xff;
const intOffset = (data: number): number => (data >>> 16) & 0xff;

/**
 * kernel: fetch_type_from_btf_type — the fetch type a BTF type is stored as
 * when the user gives none (undefined: the default x64). An unsigned int of
 * an odd width is a bitfield of u64 (it moves last.bitsize/bitoffs).
 */
export function fetchTypeFromBtf(last: LastType): string | undefined {
  const t = last.btf.type(last.id);
  switch (t.kind) {
    case Kind.ENUM: return 's32';
    case Kind.ENUM64: return 's64';
    case Kind.PTR: return 'x64';
    case Kind.INT: {
      const data = last.btf.intData(last.id);
      const bits = intBits(data);
      if (intEncoding(data) & BTF_INT_SIGNED) return [8, 16, 32, 64].includes(bits) ? `s${bits}` : undefined;
      if ([8, 16, 32, 64].includes(bits)) return `u${bits}`;
      last.bitsize = bits;
      last.bitoffs += intOffset(data);
      return 'u64';
    }
    default: return undefined;
  }
}

/** An 8-bit unsigned INT, as the kernel's btf_type_int test reads any type's word after its header. */
function isUnsignedByte(btf: KernelBtf, id: TypeId): boolean {
  const data = btf.intData(id);
  return !(intEncoding(data) & BTF_INT_SIGNED) && intBits(data) === 8;
}

/**
 * kernel: check_prepare_btf_string_fetch — `:string`/`:ustring` on a BTF value:
 * a char array is read in place, a char pointer gets one more dereference
 * ('deref'), anything else is refused. Like the kernel, a pointer is not
 * checked to be one: the type's size-or-type word is followed as a pointee.
 */
export function btfStringFetch(last: LastType): 'as-is' | 'deref' | 'bad' {
  const { btf } = last;
  const t = btf.type(last.id);
  if (t.kind === Kind.ARRAY && isUnsignedByte(btf, btf.skipModifiers(t.array!.type).id)) return 'as-is';
  const pointee = btf.headWord(last.id);
  if (pointee < btf.typeCount) {
    const real = btf.skipModifiers(pointee);
    if (real.type.kind === Kind.INT && isUnsignedByte(btf, real.id)) return 'deref';
  }
  return 'bad';
}

/** kernel: MAX_BTF_ARGS_LEN, the room for the names $arg* and $argN expand to. */
export const MAX_BTF_ARGS_LEN = 128;

/** What the meta-argument expansion reports through (probe.ts's Log). */
export interface ArgvLog {
  index: number;
  readonly refuse: (code: ErrorCode, offset: number) => never;
  /** Logs an entry and goes on (the kernel's error that is no refusal). */
  readonly note: (code: ErrorCode, offset: number) => void;
}

/**
 * kernel: argv_has_var_arg + traceprobe_expand_meta_args — `$arg*` becomes
 * every parameter's name, and a word that starts with `$argN` becomes the
 * Nth parameter's name (its `:type` kept), when the function has BTF.
 * `entryOrExit`: the probe is on a function entry or (6.9) exit.
 */
export function expandMetaArgs(log: ArgvLog, words: readonly string[], entryOrExit: boolean, line: BtfLineContext): readonly string[] {
  let found = false;
  let star = -1;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (!w.startsWith('$arg')) continue;
    log.index = i + 2;
    if (!entryOrExit) log.refuse('NOFENTRY_ARGS', 0);
    if (/^[0-9]/.test(w.slice(4))) { found = true; continue; }
    if (w[4] !== '*') log.refuse('BAD_VAR', 0);
    if (star >= 0) log.refuse('DOUBLE_ARGS', 0);
    found = true;
    star = i;
  }
  if (!found) return words;
  if (!line.query() || line.nrParams === 0) {
    // kernel (6.12): `$arg*` without BTF logs NOSUP_BTFARG but returns NULL, not an error: the
    // words are parsed as written, and `$arg*` then fails as an unknown $-variable
    if (star >= 0) log.note('NOSUP_BTFARG', 0);
    return words;
  }
  const out: string[] = [];
  let used = 0;
  const sprint = (idx: number, type: string): void => {
    if (idx >= line.nrParams) log.refuse('NO_BTFARG', 0);
    // kernel: params[-1] is the prototype's own header, whose "name" lies past the strings (a
    // tracepoint's hidden __data, which then names no visible parameter: NO_BTFARG when parsed)
    const param = line.paramAt(idx);
    if (param === undefined) log.refuse('NO_BTF_ENTRY', 0);
    const text = `${param.name}${type}`;
    if (Buffer.byteLength(text) >= MAX_BTF_ARGS_LEN - used) log.refuse('ARGS_2LONG', 0);
    out.push(text);
    used += Buffer.byteLength(text) + 1;
  };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    log.index = i + 2;
    if (i === star) {
      for (let n = 0; n < line.nrParams; n++) sprint(n, '');
    } else if (w.startsWith('$arg')) {
      // kernel: simple_strtoul(argv[i] + 4, &type, 10), into an int
      const digits = /^[0-9]*/.exec(w.slice(4))![0];
      const type = w.slice(4 + digits.length);
      if (type !== '' && type[0] !== ':') log.refuse('BAD_VAR', 0);
      const n = Number(BigInt.asIntN(32, BigInt.asUintN(64, BigInt(digits === '' ? '0' : digits))));
      sprint(n - 1, type);
    } else {
      out.push(w);
    }
  }
  return out;
}

/**
 * kernel: traceprobe_expand_dentry_args (6.10) — `[NAME=]ARG:%pd` becomes
 * `[NAME=]+0x0(+0xOFF(ARG)):string`, `%pD` one dereference more (the file's
 * f_path.dentry), with the offsets of the kernel's struct dentry and file.
 * Returns undefined when the BTF to take the offsets from is missing.
 */
export function expandDentryArgs(words: readonly string[], line: BtfLineContext): readonly string[] | undefined {
  if (!words.some((w) => /:%p[dD]$/.test(w))) return words;
  const nameOff = line.offsetOf('dentry', ['d_name', 'name']);
  const dentryOff = line.offsetOf('file', ['f_path', 'dentry']);
  if (nameOff === undefined || dentryOff === undefined) return undefined;
  const hex = (n: number) => `0x${n.toString(16)}`;
  return words.map((w) => {
    if (!/:%p[dD]$/.test(w)) return w;
    const body = w.slice(0, -4);
    const eq = body.indexOf('=');
    const prefix = eq >= 0 ? `${body.slice(0, eq)}=` : '';
    const arg = eq >= 0 ? body.slice(eq + 1) : body;
    const inner = w.endsWith('d') ? arg : `+${hex(dentryOff)}(${arg})`;
    return `${prefix}+0x0(+${hex(nameOff)}(${inner})):string`;
  });
}
