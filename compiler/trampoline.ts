// fprobe (`f`) and tracepoint probe (`t`) events compiled to the program
// kinds made for them: fentry/fexit (the function's BPF trampoline calls the
// program, no breakpoint) and tp_btf (the tracepoint calls it with its raw
// arguments). Their context is not pt_regs but the trampoline's array of
// u64 slots: argument i at ctx[i], and in fexit the return value right after
// the arguments (kernel: arch/x86/net/bpf_jit_comp.c
// __arch_prepare_bpf_trampoline saves the argument registers at
// [rbp - regs_off], the return value at [rbp - 8]; btf_ctx_access lets the
// program read slot nr_args as the return value). tp_btf's array holds the
// tracepoint's arguments without the hidden `void *__data` the kernel's own
// tprobe skips (`code->param++`), so $argN is ctx[N-1] in both.
import type { FetchArg, ProbeDefinition } from '../grammar/ast.js';
import type { FetchSource, RethookLayout } from './ir.js';

/** Bytes per context slot. */
export const CTX_SLOT = 8;

/** A libbpf section of an fentry/fexit program (the kinds that fall back to kprobe/kretprobe programs). */
export const isFunctionTrampolineSection = (section: string): boolean => /^f(entry|exit)\//.test(section);

/** The function ([MOD:]SYM) of an fentry/fexit section, or undefined. */
export const trampolineFunctionOf = (section: string): string | undefined => /^f(?:entry|exit)\/(.+)$/.exec(section)?.[1];

/** Whether a fetch (or what it dereferences) reads something only pt_regs has. */
const needsPtRegs = (f: FetchArg): boolean => {
  switch (f.kind) {
    case 'arg': case 'retval': case 'imm': case 'immstr': case 'comm': return false;
    case 'deref': return needsPtRegs(f.inner);
    // registers, the stack, and (kept on the kprobe as the grammar's pt_regs-era fetches) @ADDR/@SYM
    default: return true;
  }
};
const argIndices = (f: FetchArg, out: number[]): number[] => {
  if (f.kind === 'arg') out.push(f.index);
  else if (f.kind === 'deref') argIndices(f.inner, out);
  return out;
};
// a BTF argument: its type taken from BTF (not written), or a member chain
const usesBtf = (def: ProbeDefinition): boolean => def.args.some((a) => (a.type.implicit && a.type.btfTypeName !== undefined) || hasMember(a.fetch));
const hasMember = (f: FetchArg): boolean => f.kind === 'deref' && (f.member !== undefined || hasMember(f.inner));

/**
 * Why a kprobe event stays a kprobe/kretprobe program, or undefined when it
 * compiles to fentry/fexit. Only a probe at a function's entry (`p SYM`, no
 * offset) or return (`r SYM`) with BTF arguments moves, and only when every
 * fetch is on the trampoline's context: a kprobe's $argN is register N-1
 * (stack words from the 7th), which is slot N-1 when no struct passed by
 * value can have moved a later argument onto the stack (the function takes
 * at most 6 slots, or none of its parameters is a struct).
 */
export function kprobeStaysKprobe(def: ProbeDefinition, functions: FunctionSlots): string | undefined {
  const p = def.point;
  if (def.tracer !== 'kprobe') return 'not a kprobe';
  if (p.kind !== 'symbol' || p.offset !== 0n) return 'not at a function\'s entry or return';
  if (def.maxactive !== undefined) return 'MAXACTIVE is a kretprobe\'s';
  if (!usesBtf(def)) return 'no BTF arguments';
  if (def.args.some((a) => needsPtRegs(a.fetch))) return 'a fetch needs pt_regs';
  const model = functions.model?.(p.symbol, p.module);
  if (!model) return 'no trampoline model of the function';
  if (model.refused !== undefined) return model.refused;
  if (model.hasStructArg && model.slots > 6) return 'a struct by value may have moved arguments to the stack';
  const indices = def.args.flatMap((a) => argIndices(a.fetch, []));
  if (indices.some((i) => i > model.slots)) return 'an argument past the function\'s slots';
  return undefined;
}

/** A function as the kernel's trampoline sees it (compiler/trampoline-btf.ts functionModelIn). */
export interface FunctionModel {
  /** Each parameter's first context slot. */
  readonly paramSlots: readonly number[];
  /** Slots all the parameters take (fexit's return value is the next one). */
  readonly slots: number;
  /** A parameter is a struct or union passed by value. */
  readonly hasStructArg: boolean;
  /** Why the kernel builds no trampoline for the function (it refuses an fentry/fexit program on it), or undefined. */
  readonly refused?: string;
}

/** What compiling an exit needs from the kernel's BTF: how many u64 slots the function's arguments take. */
export interface FunctionSlots {
  /** undefined when the kernel's BTF has no such function. */
  argSlots(symbol: string, module?: string): number | undefined;
  /** The whole model (a kprobe is put on the trampoline only with it); absent: kprobes stay kprobes. */
  model?(symbol: string, module?: string): FunctionModel | undefined;
  /** Where the kernel's return hooks keep replaced return addresses; absent or undefined: not looked for. */
  rethook?(): RethookLayout | undefined;
}

/**
 * Whether fentry/fexit programs are wanted at all: KPROBE_BPF_TRAMPOLINE=0
 * compiles every kprobe and fprobe event to kprobe/kretprobe programs (the
 * bench's peer, and what the fallback does when the kernel refuses).
 */
export const trampolinesWanted = (asked: boolean | undefined): boolean => asked ?? process.env.KPROBE_BPF_TRAMPOLINE !== '0';

/**
 * libbpf section names (libbpf section_defs: "fentry+", "fexit+",
 * "tp_btf+"): libbpf looks the target up in the kernel's BTF at load and sets
 * attach_btf_id; "MOD:SYM" finds a module's function in that module's BTF.
 */
export function trampolineSection(def: ProbeDefinition): string {
  const p = def.point;
  if (p.kind === 'tracepoint') return `tp_btf/${p.name}`;
  if (p.kind !== 'function' && !(p.kind === 'symbol' && def.tracer === 'kprobe')) throw new Error(`${def.group}/${def.event}: not a function or tracepoint place`);
  return `${def.isReturn ? 'fexit' : 'fentry'}/${p.module !== undefined ? `${p.module}:` : ''}${p.symbol}`;
}

/** The trampoline's frame, in slots from ctx: [rbp] is ctx + (nregs + 1) slots, the function's caller's return address 2 slots above. */
export const callerReturnSlot = (argSlots: number): number => argSlots + 3;

/** A context slot as a fetch source. */
const slot = (i: number): FetchSource => ({ op: 'ctx', offset: i * CTX_SLOT });

/**
 * Stage 1 of a fetch on a trampoline or raw tracepoint: arguments and the
 * return value are context slots; registers and the stack are not there.
 */
export function trampolineSource(fetch: Extract<FetchArg, { kind: 'arg' | 'retval' | 'reg' | 'stack' | 'stackp' }>, def: ProbeDefinition, argSlots: () => number): FetchSource {
  switch (fetch.kind) {
    case 'arg': return slot(fetch.index - 1);
    case 'retval': return slot(argSlots());
    default:
      throw new Error(`${def.group}/${def.event}: ${fetch.kind === 'reg' ? 'a register' : '$stack'} is not available to a ${trampolineSection(def).split('/')[0]} program (its context holds the arguments only)`);
  }
}
