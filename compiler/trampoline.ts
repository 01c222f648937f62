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
import type { FetchSource } from './ir.js';

/** Bytes per context slot. */
export const CTX_SLOT = 8;

export const isTrampolineTracer = (def: Pick<ProbeDefinition, 'tracer'>): boolean => def.tracer === 'fprobe' || def.tracer === 'tprobe';

/** What compiling an exit needs from the kernel's BTF: how many u64 slots the function's arguments take. */
export interface FunctionSlots {
  /** undefined when the kernel's BTF has no such function. */
  argSlots(symbol: string, module?: string): number | undefined;
}

/**
 * libbpf section names (libbpf section_defs: "fentry+", "fexit+",
 * "tp_btf+"): libbpf looks the target up in the kernel's BTF at load and sets
 * attach_btf_id; "MOD:SYM" finds a module's function in that module's BTF.
 */
export function trampolineSection(def: ProbeDefinition): string {
  const p = def.point;
  if (p.kind === 'tracepoint') return `tp_btf/${p.name}`;
  if (p.kind !== 'function') throw new Error(`${def.group}/${def.event}: not a function or tracepoint place`);
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
