// A kernel function's trampoline model, from the kernel's BTF: how many u64
// context slots its arguments take (what an fexit program needs to find the
// return value, the slot after the arguments, and the trampoline's frame),
// where each parameter's first slot is, and whether the kernel can build a
// trampoline for it at all. The kernel's rules (kernel/bpf/btf.c
// btf_distill_func_proto, btf_ctx_arg_idx): a pointer takes one slot, any
// other parameter roundup(size, 8) / 8 — a struct or union passed by value
// of 9 to 16 bytes takes two; more than MAX_BPF_FUNC_ARGS parameters, a
// struct by value over 16 bytes, a parameter of no size, a variadic
// function or one returning a struct by value are refused (EINVAL at load).
// The BTF is read lazily (bpf/btf-kernel.ts): only the functions asked about.
import { Kind, KIND_NAMES } from '../bpf/btf.js';
import { kernelBtfAt, VMLINUX_BTF, type KernelBtf } from '../bpf/btf-kernel.js';
import { CTX_SLOT, type FunctionModel, type FunctionSlots } from './trampoline.js';
import type { RethookLayout } from './ir.js';

export { VMLINUX_BTF };

/** kernel: MAX_BPF_FUNC_ARGS. */
const MAX_BPF_FUNC_ARGS = 12;
/** kernel: btf_distill_func_proto refuses a struct argument larger than this. */
const MAX_STRUCT_ARG_SIZE = 16;

/** The trampoline model of one function in `btf`, or undefined when its BTF has no such function. */
export function functionModelIn(btf: KernelBtf, symbol: string): FunctionModel | undefined {
  const proto = btf.funcProto(symbol);
  if (!proto) return undefined;
  const paramSlots: number[] = [];
  let slots = 0;
  let hasStructArg = false;
  let refused: string | undefined;
  const refuse = (why: string) => { refused ??= `the kernel builds no BPF trampoline for ${symbol}: ${why}`; };
  if (proto.params.length > MAX_BPF_FUNC_ARGS) refuse(`${proto.params.length} arguments, more than ${MAX_BPF_FUNC_ARGS}`);
  proto.params.forEach((p, i) => {
    paramSlots.push(slots);
    if (p.type === 0) { refuse('variable arguments'); slots += 1; return; }
    const t = btf.skipModifiers(p.type).type;
    if (t.kind === Kind.PTR) { slots += 1; return; }
    const size = t.size ?? 0;
    const byValue = t.kind === Kind.STRUCT || t.kind === Kind.UNION;
    if (byValue) hasStructArg = true;
    if (!byValue && t.kind !== Kind.INT && t.kind !== Kind.ENUM && t.kind !== Kind.ENUM64) refuse(`arg${i} is a ${KIND_NAMES[t.kind] ?? t.kind}`);
    else if (size === 0) refuse(`arg${i} has no size`);
    else if (byValue && size > MAX_STRUCT_ARG_SIZE) refuse(`arg${i} is a struct of ${size} bytes passed by value (at most ${MAX_STRUCT_ARG_SIZE})`);
    slots += Math.max(1, Math.ceil(size / CTX_SLOT));
  });
  if (proto.returnType !== 0) {
    const r = btf.skipModifiers(proto.returnType).type;
    if (r.kind === Kind.STRUCT || r.kind === Kind.UNION) refuse('it returns a struct by value');
  }
  return { paramSlots, slots, hasStructArg, ...(refused !== undefined ? { refused } : {}) };
}

/** Byte offset of a member of struct `name`, or undefined. */
function memberOffset(btf: KernelBtf, name: string, member: string): number | undefined {
  const id = btf.findNamed(Kind.STRUCT, name);
  const m = id === undefined ? undefined : btf.member(id, member);
  return m === undefined || m === 'not-struct' || m.bitOffset % 8 !== 0 ? undefined : m.bitOffset / 8;
}

/** task_struct.rethooks and rethook_node's members in `btf` (CONFIG_RETHOOK), or undefined. */
function rethookLayoutIn(btf: KernelBtf): RethookLayout | undefined {
  const taskRethooks = memberOffset(btf, 'task_struct', 'rethooks');
  const nodeLlist = memberOffset(btf, 'rethook_node', 'llist');
  const nodeRetAddr = memberOffset(btf, 'rethook_node', 'ret_addr');
  const nodeFrame = memberOffset(btf, 'rethook_node', 'frame');
  if (taskRethooks === undefined || nodeLlist === undefined || nodeRetAddr === undefined || nodeFrame === undefined) return undefined;
  return { taskRethooks, nodeLlist, nodeRetAddr, nodeFrame };
}

/** Slots of one function's parameters, or undefined when BTF has no such function. */
export function argSlotsIn(btf: KernelBtf, symbol: string): number | undefined {
  return functionModelIn(btf, symbol)?.slots;
}

/**
 * FunctionSlots over a kernel's BTF (default the running kernel's; `--btf`
 * FILE or DIR), read on first use. A module's function is counted in the
 * module's split BTF that holds it (bpf/btf-kernel.ts opens it); `MOD:SYM`
 * is looked up as libbpf's btf__find_by_name_kind looks in split BTF, the
 * base's types first. A module function's trampoline model is read from
 * its module's BTF, where libbpf finds an `fentry/SYM` target too.
 */
export function btfFunctionSlots(path = VMLINUX_BTF): FunctionSlots {
  let btf: KernelBtf | undefined | null = null;
  const open = (): KernelBtf | undefined => (btf === null ? (btf = kernelBtfAt(path)) : btf);
  /** The BTF file whose FUNC `symbol` is counted. */
  const holder = (symbol: string, module?: string): KernelBtf | undefined => {
    const b = open();
    if (!b) return undefined;
    if (module === undefined) return b.funcProto(symbol)?.btf;
    const m = b.moduleBtf(module);
    return m && (b.findNamed(Kind.FUNC, symbol) !== undefined ? b : m);
  };
  const model = (symbol: string, module?: string): FunctionModel | undefined => {
    const h = holder(symbol, module);
    return h && functionModelIn(h, symbol);
  };
  let rethook: RethookLayout | undefined | null = null;
  return {
    argSlots: (symbol, module) => model(symbol, module)?.slots,
    model,
    rethook: () => {
      if (rethook === null) { const b = open(); rethook = b && rethookLayoutIn(b); }
      return rethook;
    },
  };
}
