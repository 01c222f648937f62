// How many u64 context slots a kernel function's arguments take, from the
// kernel's BTF: what an fexit program needs to find the return value (the
// slot after the arguments) and the trampoline's frame. A struct passed by
// value takes one slot per 8 bytes (kernel: x86 __arch_prepare_bpf_trampoline
// counts nr_regs that way). The whole vmlinux BTF is parsed once, and only
// when an exit event asks.
import { Kind, type Btf } from '../bpf/btf.js';
import { kernelBtfFiles } from '../bpf/btf-split.js';
import { CTX_SLOT, type FunctionSlots } from './trampoline.js';

export const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';

/** Slots of one FUNC's parameters, or undefined when BTF has no such function. */
export function argSlotsIn(btf: Btf, symbol: string): number | undefined {
  const fn = btf.find(Kind.FUNC, symbol);
  if (!fn || fn.type === undefined) return undefined;
  const proto = btf.types[fn.type];
  if (!proto || proto.kind !== Kind.FUNC_PROTO) return undefined;
  let slots = 0;
  for (const p of proto.params ?? []) {
    const t = btf.resolve(p.type);
    const byValue = t.kind === Kind.STRUCT || t.kind === Kind.UNION;
    slots += byValue ? Math.max(1, Math.ceil((t.size ?? 0) / CTX_SLOT)) : 1;
  }
  return slots;
}

/**
 * FunctionSlots over a kernel's BTF (default the running kernel's; `--btf`
 * FILE or DIR), read on first use: a module's function in its module's split
 * BTF (bpf/btf-split.ts), `MOD:SYM` in that module's.
 */
export function btfFunctionSlots(path = VMLINUX_BTF): FunctionSlots {
  return {
    argSlots(symbol, module) {
      const btf = kernelBtfFiles(path).withFunc(symbol, module);
      return btf && argSlotsIn(btf, symbol);
    },
  };
}
