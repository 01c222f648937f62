// AST -> IR: each argument's fetch expression becomes a fetch program in the
// kernel's stages, with the kernel's rewrites applied (the last dereference of
// a memory value becomes the store's own read; strings read at the final
// address; $stackN and stack-passed $argN are reads above the stack pointer).
import type { TraceContextRules } from './codegen-flags-rules.js';
import type { FetchArg, ProbeArg, ProbeDefinition, Tracer } from '../grammar/ast.js';
import { formatProbeCommand } from '../grammar/format.js';
import { RECORD_PREFIX_SIZE, SCRATCH_VALUE_MAX, TASK_COMM_LEN, type ArgField, type ProbePlace } from './abi.js';
import { ARG_REGS, PT_REGS_OFFSET, RETVAL_REG, STACK_REG, WORD_SIZE } from './arch/x86_64.js';
import { fetchTypeOf } from '../grammar/fetch-types.js';
import type { Deref, FetchProgram, FetchSource, MemSpace, ProbeIpSource, ProbeProgram, StoreOp } from './ir.js';
import { layoutEvent } from './layout.js';
import type { Building } from '../lib/mutable.js';
import { KprobeBpfError } from '../lib/errors.js';
import { attachedOf, eventFieldSource } from './eprobe.js';
import type { EventField } from '../grammar/filter/index.js';
import { callerReturnSlot, CTX_SLOT, kprobeStaysKprobe, trampolineSection, trampolineSource, trampolinesWanted, type FunctionSlots } from './trampoline.js';
import { btfFunctionSlots } from './trampoline-btf.js';
import { btfCoreTypes, type CoreTypes } from './core-relo.js';
import { entryArgSlot, entryDataOf, type EntryData } from './entry-data.js';

export interface LowerOptions {
  /** Bytes reserved per string in the dynamic area (kernel: up to MAX_STRING_SIZE). */
  readonly maxStringSize?: number;
  /**
   * File offset of SYMBOL+offs in the ELF at path, for PATH:SYMBOL probes that
   * use @+FILE_OFFS (the address is computed from the probe's own file offset).
   */
  readonly resolveFileSymbol?: (path: string, symbol: string, offset: bigint) => bigint;
  /**
   * Make uprobe programs that read memory sleepable (default true): they then
   * read user memory the way the kernel's uprobe tracer does, faulting pages
   * in. Needs kernel 6.0+ (sleepable uprobe BPF programs); kprobes are never
   * sleepable, nor a uprobe that reads only registers and constants.
   */
  readonly sleepable?: boolean;
  /** The kernel facts the flags column is computed with (compiler/codegen-flags-rules.ts; default DEFAULT_TRACE_CONTEXT_RULES). */
  readonly traceContext?: TraceContextRules;
  /** fexit events: the argument slots of the probed function (default: the running kernel's BTF). */
  readonly functionSlots?: FunctionSlots;
  /** Struct members reached through BTF, as CO-RE accesses (default: the running kernel's BTF). */
  readonly coreTypes?: CoreTypes;
  /**
   * $argN in a return kprobe is the value at entry (6.9+, the kernel's entry
   * data; default true); false reads the register at the return, as 6.1 does.
   */
  readonly entryArgs?: boolean;
  /**
   * Compile fprobe events, and kprobes with BTF arguments at a function's
   * entry or return, to fentry/fexit programs (default true, unless
   * KPROBE_BPF_TRAMPOLINE=0); false: kprobe/kretprobe programs printing the
   * same events (the fallback for a kernel that refuses the trampoline).
   */
  readonly trampolines?: boolean;
  /**
   * Functions ([MOD:]SYM) whose kprobe and fprobe events compile to
   * kprobe/kretprobe programs whatever `trampolines` says: those the kernel
   * refused a trampoline for (the fallback).
   */
  readonly noTrampoline?: ReadonlySet<string>;
}

/**
 * Which program kind an event compiles to: 'trampoline' (fentry, fexit,
 * tp_btf: the context is u64 slots) or 'probe' (kprobe, kretprobe, uprobe,
 * tracepoint: pt_regs or the event's record). A tprobe has no other kind.
 */
function programKindOf(def: ProbeDefinition, opts: Pick<LowerOptions, 'trampolines' | 'noTrampoline' | 'functionSlots'>): 'trampoline' | 'probe' {
  if (def.tracer === 'tprobe') return 'trampoline';
  if (!trampolinesWanted(opts.trampolines)) return 'probe';
  const p = def.point;
  if ((p.kind === 'function' || p.kind === 'symbol') && opts.noTrampoline?.has(`${p.module !== undefined ? `${p.module}:` : ''}${p.symbol}`)) return 'probe';
  if (def.tracer === 'fprobe') return 'trampoline';
  if (def.tracer === 'kprobe') return kprobeStaysKprobe(def, opts.functionSlots ?? defaultFunctionSlots()) === undefined ? 'trampoline' : 'probe';
  return 'probe';
}

let runningFunctionSlots: FunctionSlots | undefined;
/** The running kernel's functions, opened once per process and only when asked. */
const defaultFunctionSlots = (): FunctionSlots => (runningFunctionSlots ??= btfFunctionSlots());

/**
 * What the compiler reads from a kernel BTF other than the running kernel's
 * (--btf FILE, the BTF the lines were checked against): member offsets for
 * CO-RE accesses and fexit's argument slots. Undefined: the running kernel's.
 */
export function btfLowerOptions(btfFile: string | undefined): Pick<LowerOptions, 'coreTypes' | 'functionSlots'> {
  return btfFile === undefined ? {} : { coreTypes: btfCoreTypes(btfFile), functionSlots: btfFunctionSlots(btfFile) };
}

/** kernel: MAX_STRING_SIZE (PATH_MAX), a string's bytes including its NUL. */
export const MAX_STRING_SIZE = 4096;

let runningCoreTypes: CoreTypes | undefined;
/** The running kernel's BTF, read once per process and only when a member access needs it. */
const defaultCoreTypes = (): CoreTypes => (runningCoreTypes ??= btfCoreTypes());

/** Memory an implicit dereference reads: uprobes only see user memory. */
const defaultSpace = (tracer: Tracer): MemSpace => (tracer === 'uprobe' ? 'user' : 'auto');

/** An eprobe's attached event fields (none for other probes). */
const fieldsOf = (def: ProbeDefinition): readonly EventField[] => (def.point.kind === 'event' ? def.point.fields : []);

const reg = (name: keyof typeof PT_REGS_OFFSET): FetchSource =>
  ({ op: 'reg', reg: name, ptRegsOffset: PT_REGS_OFFSET[name] });

interface Chain { source: FetchSource; derefs: Deref[] }

/** fprobe/tprobe events: where arguments and the return value are in the program's context slots. */
type SlotSource = (fetch: Extract<FetchArg, { kind: 'arg' | 'retval' | 'reg' | 'stack' | 'stackp' }>) => FetchSource;

/** Flattens nested dereferences into a source and a list of reads, innermost first. */
function chainOf(fetch: FetchArg, tracer: Tracer, probeFileOffset: bigint, slots?: SlotSource, core?: CoreTypes, fields: readonly EventField[] = []): Chain {
  const space = defaultSpace(tracer);
  if (slots && ['arg', 'retval', 'reg', 'stack', 'stackp'].includes(fetch.kind)) {
    return { source: slots(fetch as Parameters<SlotSource>[0]), derefs: [] };
  }
  switch (fetch.kind) {
    case 'eventfield': return { source: eventFieldSource(fields, fetch.name), derefs: [] };
    case 'reg': return { source: reg(fetch.reg), derefs: [] };
    case 'stackp': return { source: reg(STACK_REG), derefs: [] };
    case 'retval': return { source: reg(RETVAL_REG), derefs: [] };
    // kernel: regs_get_kernel_stack_nth / get_user_stack_nth
    case 'stack': return { source: reg(STACK_REG), derefs: [{ offset: BigInt(fetch.index * WORD_SIZE), space }] };
    case 'arg': {
      const r = ARG_REGS[fetch.index - 1];
      if (r !== undefined) return { source: reg(r), derefs: [] };
      // kernel: beyond the register arguments, stack slot (n - 6 + 1) above the return address
      return { source: reg(STACK_REG), derefs: [{ offset: BigInt((fetch.index - ARG_REGS.length) * WORD_SIZE), space }] };
    }
    case 'imm': return { source: { op: 'imm', value: fetch.value }, derefs: [] };
    case 'immstr': return { source: { op: 'immstr', value: fetch.value }, derefs: [] };
    case 'comm': return { source: { op: 'comm' }, derefs: [] };
    // @ADDR, @SYM and @+FOFFS name memory: the value is read at that address
    case 'memaddr': return { source: { op: 'imm', value: fetch.address }, derefs: [{ offset: 0n, space }] };
    case 'symbol': return { source: { op: 'ksym', symbol: fetch.symbol, offset: fetch.offset }, derefs: [{ offset: 0n, space }] };
    case 'fileoffs': return { source: { op: 'foffs', fileOffset: fetch.offset, probeFileOffset }, derefs: [{ offset: 0n, space: 'user' }] };
    case 'deref': {
      const inner = chainOf(fetch.inner, tracer, probeFileOffset, slots, core, fields);
      const member = fetch.member && { core: (core ?? defaultCoreTypes()).access(fetch.member) };
      return { source: inner.source, derefs: [...inner.derefs, { offset: fetch.offset, space: fetch.user ? 'user' : space, ...member }] };
    }
  }
}

/** Where a uprobe sits in its file, needed only by @+FILE_OFFS. */
function probeFileOffsetOf(def: ProbeDefinition, opts: LowerOptions): bigint {
  const p = def.point;
  if (p.kind === 'file') return p.offset;
  if (p.kind !== 'file-symbol') return 0n;
  if (!opts.resolveFileSymbol) throw new Error(`${p.path}:${p.symbol}: @+FILE_OFFS needs the symbol's file offset, and no ELF resolver was given`);
  return opts.resolveFileSymbol(p.path, p.symbol, p.offset);
}

const usesFileOffset = (f: FetchArg): boolean => f.kind === 'fileoffs' || (f.kind === 'deref' && usesFileOffset(f.inner));

function lowerArg(arg: ProbeArg, field: ArgField, def: ProbeDefinition, opts: LowerOptions, slots?: SlotSource): FetchProgram {
  const probeFileOffset = usesFileOffset(arg.fetch) ? probeFileOffsetOf(def, opts) : 0n;
  const { source, derefs } = chainOf(arg.fetch, def.tracer, probeFileOffset, slots, opts.coreTypes, fieldsOf(def));
  const ft = fetchTypeOf(arg.type);
  const count = arg.type.arrayLength;
  let store: StoreOp;
  let kept = derefs;
  const base = arg.type.base;
  if ((source.op === 'comm' || source.op === 'immstr') && (!ft.isString || count !== undefined)) {
    // kernel (eprobes): $comm and \"str" keep the default type there, so the value is the kernel
    // address of current->comm or of the parsed string (an array reads char * from there): nothing
    // a BPF program can know
    throw new KprobeBpfError(`${def.group}/${def.event}: ${arg.name}=${arg.source}: as a number this is a kernel address only the kernel's own eprobe knows; type it :string`);
  }
  if (source.op === 'comm') store = { op: 'comm' };
  else if (source.op === 'immstr') store = { op: 'immstr', value: source.value, readable: def.tracer !== 'uprobe' };
  else if (base === 'symstr') store = { op: 'symstr' };
  else if (ft.isString) {
    // kernel: a string reads at the last dereference's address; for an array
    // of strings that address holds the char * of each element in turn.
    const last = derefs[derefs.length - 1];
    const space: MemSpace = base === 'ustring' ? 'user' : last?.space ?? defaultSpace(def.tracer);
    kept = last ? derefs.slice(0, -1) : derefs;
    store = last?.core ? { op: 'string', offset: last.offset, space, core: last.core } : { op: 'string', offset: last?.offset ?? 0n, space };
  } else {
    const last = derefs[derefs.length - 1];
    if (last) {
      kept = derefs.slice(0, -1);
      store = last.core ? { op: 'mem', offset: last.offset, size: ft.size, space: last.space, core: last.core } : { op: 'mem', offset: last.offset, size: ft.size, space: last.space };
    } else {
      store = { op: 'raw', size: ft.size };
    }
  }
  // kernel (BTF bitfields): shifted as a u64 over a field of the member's own size; the same bits
  // come out of the field's own width when they fit in it, without touching the record past it
  const declared = arg.type.bitfield;
  const bf = declared && declared.container > ft.size * 8 && declared.width + declared.offset <= ft.size * 8
    ? { ...declared, container: ft.size * 8 } : declared;
  const bitfield = bf && {
    containerSize: bf.container / 8,
    lshift: bf.container - bf.width - bf.offset,
    rshift: bf.container - bf.width,
  };
  // no conditional spreads (a runtime copy each, for every argument): the optional keys are set after
  const out: Building<FetchProgram> = { argName: arg.name, argText: arg.source, source, derefs: kept, store, fieldOffset: field.offset, elemSize: ft.size };
  if (bitfield) out.bitfield = bitfield;
  if (count !== undefined) out.count = count;
  return out;
}

function probeIpOf(def: ProbeDefinition, trampoline: boolean): ProbeIpSource {
  const p = def.point;
  // kernel: a tprobe sits on the tracepoint's __probestub_TP; an fprobe on the function's ftrace site
  if (p.kind === 'tracepoint') return { op: 'ftrace-site', base: 'ksym', symbol: `__probestub_${p.name}` };
  // a kprobe at a function's entry sits where ftrace's site is (kp->addr: +4 past an ENDBR), and
  // an fprobe on the kprobe fallback is the kprobe's own address, as an entry kprobe's
  if (trampoline && !def.isReturn) return { op: 'ftrace-site', base: 'func-ip' };
  if (p.kind === 'function') {
    if (trampoline) return { op: 'ftrace-site', base: 'func-ip' };
    return def.isReturn ? { op: 'ksym', symbol: p.symbol, offset: 0n } : { op: 'kprobe-addr' };
  }
  if (def.tracer === 'uprobe') return def.isReturn ? { op: 'func-ip' } : { op: 'reg-ip' };
  if (def.tracer === 'eprobe') return { op: 'imm', value: 0n }; // no __probe_ip field: not emitted
  if (!def.isReturn) return { op: 'kprobe-addr' };
  // a module symbol is in kallsyms under its own name
  if (p.kind === 'symbol') return { op: 'ksym', symbol: p.symbol, offset: p.offset };
  if (p.kind === 'address') return { op: 'imm', value: p.address };
  return { op: 'reg-ip' };
}

/** Whether a fetch reads memory, where a page may need faulting in ($argN past the six argument registers is on the stack). */
function readsMemory(f: FetchArg): boolean {
  switch (f.kind) {
    case 'deref': case 'stack': case 'memaddr': case 'symbol': case 'fileoffs': return true;
    case 'arg': return f.index > 6;
    default: return false;
  }
}

/** Whether a probe's records go to the BPF ring buffer (ProbeProgram.ringbuf): uprobes, unless sleepable programs are off. */
const sendsToRingbuf = (def: ProbeDefinition, opts: LowerOptions): boolean => def.tracer === 'uprobe' && (opts.sleepable ?? true);

/**
 * Whether a probe's program is sleepable: uprobes only (the kernel refuses a
 * sleepable program on a kprobe), and only those that read memory, the one
 * thing sleeping buys. One that reads registers and constants stays atomic,
 * where it can share a uprobe_multi link with others through a prog array,
 * which the kernel refuses a sleepable program (runtime/attach/uprobe-group.ts).
 */
export const isSleepable = (def: ProbeDefinition, opts: LowerOptions = {}): boolean =>
  sendsToRingbuf(def, opts) && def.args.some((a) => readsMemory(a.fetch));

/**
 * Section name libbpf recognises for the probe's program type; `.s` marks a
 * sleepable one (libbpf section_defs: "uprobe.s+", "uretprobe.s+" set BPF_F_SLEEPABLE).
 */
function sectionOf(def: ProbeDefinition, sleepable: boolean, program: 'trampoline' | 'probe'): string {
  const p = def.point;
  if (p.kind === 'event') return `tracepoint/${p.system}/${p.event}`; // BPF_PROG_TYPE_TRACEPOINT
  if (program === 'trampoline') return trampolineSection(def);
  // an fprobe on the kprobe fallback: a kprobe on the function, no offset
  if (p.kind === 'function') return `${def.isReturn ? 'kretprobe' : 'kprobe'}/${p.module !== undefined ? `${p.module}:` : ''}${p.symbol}`;
  const base = `${def.tracer}${def.isReturn ? 'ret' : ''}`.replace('kprobe' + 'ret', 'kretprobe').replace('uprobe' + 'ret', 'uretprobe');
  const kind = sleepable ? `${base}.s` : base;
  switch (p.kind) {
    case 'symbol': return `${kind}/${p.module ? `${p.module}:` : ''}${p.symbol}${p.offset ? `+${p.offset}` : ''}`;
    case 'address': return `${kind}/0x${p.address.toString(16)}`;
    case 'file': return `${kind}/${p.path}:0x${p.offset.toString(16)}`;
    case 'file-symbol': return `${kind}/${p.path}:${p.symbol}${p.offset ? `+${p.offset}` : ''}`;
    default: throw new Error(`${def.group}/${def.event}: no probe section for a ${p.kind} place`);
  }
}

/** Program (and ELF symbol) name: the group and event, which the kernel keeps unique. */
export function programNameOf(def: ProbeDefinition): string {
  return `${def.group}__${def.event}`.replace(/[^A-Za-z0-9_]/g, '_');
}

/** Dynamic bytes a store needs besides its strings. */
function fixedDynamicSize(store: StoreOp): number {
  switch (store.op) {
    case 'comm': return TASK_COMM_LEN;
    case 'immstr': return store.readable ? Buffer.byteLength(store.value) + 1 : 0;
    case 'symstr': return 8;
    default: return 0;
  }
}

/**
 * Room per string: as much as the kernel allows, shrunk so the whole record
 * still fits one per-CPU scratch value.
 */
function stringRoom(fetches: readonly FetchProgram[], entrySize: number, requested?: number): number {
  const strings = fetches.reduce((n, f) => n + (f.store.op === 'string' ? f.count ?? 1 : 0), 0);
  if (strings === 0) return 0;
  const fixed = fetches.reduce((n, f) => n + fixedDynamicSize(f.store), 0);
  const fit = Math.floor((SCRATCH_VALUE_MAX - RECORD_PREFIX_SIZE - entrySize - fixed) / strings);
  return Math.max(1, Math.min(requested ?? MAX_STRING_SIZE, MAX_STRING_SIZE, fit));
}

/** Bytes of scratch the program's record can occupy at most, prefix included. */
export function recordCapacity(p: Pick<ProbeProgram, 'fetches' | 'format' | 'maxStringSize' | 'attached'>): number {
  const strings = p.fetches.reduce((n, f) => n + (f.store.op === 'string' ? f.count ?? 1 : 0), 0);
  const fixed = p.fetches.reduce((n, f) => n + fixedDynamicSize(f.store), 0);
  const record = RECORD_PREFIX_SIZE + p.format.entrySize + fixed + strings * p.maxStringSize;
  return p.attached ? Math.max(record, p.attached.raw.offset + p.attached.raw.size) : record;
}

/** The probe's place in the contract's terms (the syntax tree's point, field by field). */
function placeOf(def: ProbeDefinition): ProbePlace {
  const p = def.point;
  // the metadata's key order, without conditional spreads (each a runtime copy)
  switch (p.kind) {
    case 'symbol': return p.module !== undefined ? { kind: 'symbol', module: p.module, symbol: p.symbol, offset: p.offset } : { kind: 'symbol', symbol: p.symbol, offset: p.offset };
    case 'address': return { kind: 'address', address: p.address };
    case 'file': return p.refCtrOffset !== undefined ? { kind: 'file', path: p.path, offset: p.offset, refCtrOffset: p.refCtrOffset } : { kind: 'file', path: p.path, offset: p.offset };
    case 'file-symbol': return p.refCtrOffset !== undefined
      ? { kind: 'file-symbol', path: p.path, symbol: p.symbol, offset: p.offset, refCtrOffset: p.refCtrOffset }
      : { kind: 'file-symbol', path: p.path, symbol: p.symbol, offset: p.offset };
    case 'event': return { kind: 'event', system: p.system, event: p.event };
    case 'function': return { kind: 'function', ...(p.module !== undefined ? { module: p.module } : {}), symbol: p.symbol };
    case 'tracepoint': return { kind: 'tracepoint', name: p.name };
  }
}

/**
 * fexit: the probed function's argument slots, from BTF (needed for the
 * return value's slot and the trampoline's frame); asked only when used.
 */
function argSlotsOf(def: ProbeDefinition, opts: LowerOptions): () => number {
  let n: number | undefined;
  return () => {
    if (n !== undefined) return n;
    const p = def.point;
    if (p.kind !== 'function' && p.kind !== 'symbol') throw new Error(`${def.group}/${def.event}: $retval on a tracepoint`);
    const slots = (opts.functionSlots ?? defaultFunctionSlots()).argSlots(p.symbol, p.module);
    if (slots === undefined) {
      throw new Error(`${def.group}/${def.event}: the kernel's BTF has no function ${p.module ? `${p.module}:` : ''}${p.symbol} (an fexit program needs its prototype)`);
    }
    n = slots;
    return n;
  };
}

/** fprobe/tprobe: the context slots, and fexit's __probe_ret_ip from the trampoline's frame. */
function trampolineParts(def: ProbeDefinition, opts: LowerOptions): { slots: SlotSource; retIp?: ProbeIpSourceRet } {
  const argSlots = argSlotsOf(def, opts);
  const slots: SlotSource = (f) => trampolineSource(f, def, argSlots);
  if (!def.isReturn) return { slots };
  const rethook = (opts.functionSlots ?? defaultFunctionSlots()).rethook?.();
  return { slots, retIp: { op: 'trampoline-frame', ctxOffset: callerReturnSlot(argSlots()) * CTX_SLOT, ...(rethook ? { rethook } : {}) } };
}
type ProbeIpSourceRet = NonNullable<ProbeProgram['retIp']>;

/** A return kprobe's $argN from the words its entry program saved. */
function entrySlots(data: EntryData): SlotSource {
  return (f) => {
    if (f.kind === 'arg') return { op: 'entry-word', slot: entryArgSlot(data, f.index) };
    return chainOf(f, 'kprobe', 0n).source;
  };
}

export function lowerProbe(def: ProbeDefinition, opts: LowerOptions = {}): ProbeProgram {
  const format = layoutEvent(def);
  const kind = programKindOf(def, opts);
  const trampoline = kind === 'trampoline' ? trampolineParts(def, opts) : undefined;
  // an fprobe exit on the kretprobe fallback saves its entry arguments as a return kprobe does
  const entryData = opts.entryArgs !== false && !trampoline ? entryDataOf(def.tracer === 'fprobe' ? { ...def, tracer: 'kprobe' } : def) : undefined;
  const slots = trampoline?.slots ?? (entryData ? entrySlots(entryData) : undefined);
  const fetches = def.args.map((a, i) => lowerArg(a, format.argFields[i]!, def, opts, slots));
  const sleepable = isSleepable(def, opts);
  const maxStringSize = stringRoom(fetches, format.entrySize, opts.maxStringSize);
  const attached = def.point.kind === 'event' ? attachedOf(def.point, fetches, recordCapacity({ fetches, format, maxStringSize })) : undefined;
  // the optional keys set after (a conditional spread is a runtime copy; nothing reads the IR's key order)
  const ir: Building<ProbeProgram> = {
    name: programNameOf(def),
    definition: formatProbeCommand(def),
    place: placeOf(def),
    section: sectionOf(def, sleepable, kind),
    format,
    probeIp: probeIpOf(def, trampoline !== undefined),
    context: trampoline ? 'slots' : 'pt_regs',
    fetches,
    maxStringSize,
    sleepable,
    ringbuf: sendsToRingbuf(def, opts),
  };
  if (def.maxactive !== undefined) ir.maxactive = def.maxactive;
  if (trampoline?.retIp) ir.retIp = trampoline.retIp;
  if (entryData) ir.entryData = entryData;
  if (attached) ir.attached = attached;
  return ir;
}
