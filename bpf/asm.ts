// A small assembler DSL over bpf/insn.ts: one function per instruction form,
// jumps to named labels resolved by assemble(), and relocation targets for map
// and extern loads. Shaped after cilium/ebpf's `asm` package; knows nothing of
// probes, maps' contents or syscalls.
//
//   const { insns, relocations } = assemble([
//     mov64Reg(R6, R1),
//     ldMapFd(R1, 'events'),
//     jmpImm('jeq', R0, 0, 'out'),
//     call(Helper.perf_event_output),
//     label('out'),
//     mov64Imm(R0, 0),
//     exit(),
//   ]);
//
// Sizes: ldx/stx/st take a `Size` (Size.B/H/W/DW, the encoding's own bits,
// NOT a byte count: Size.H === 8). Use sizeFieldFor(bytes) to convert a width.

import { KprobeBpfError } from '../lib/errors.js';
import {
  AluOp,
  Class,
  Endian,
  type Insn,
  JmpOp,
  LD_IMM64,
  Mode,
  Pseudo,
  PseudoCall,
  type Reg,
  type Relocation,
  type Size,
  Source,
} from './insn.js';

/** An instruction that may jump to a label (resolved by assemble()). */
export interface AsmInsn extends Insn {
  target?: string;
}

/** A label pseudo-entry: names the next instruction. */
export interface Label {
  label: string;
}

export type AsmItem = AsmInsn | Label;

export function isLabel(item: AsmItem): item is Label {
  return (item as Label).label !== undefined;
}

/** Arithmetic operations by name (the mnemonics of RFC 9669 §4.1). */
export const ALU_OPS = {
  add: AluOp.ADD,
  sub: AluOp.SUB,
  mul: AluOp.MUL,
  div: AluOp.DIV,
  or: AluOp.OR,
  and: AluOp.AND,
  lsh: AluOp.LSH,
  rsh: AluOp.RSH,
  neg: AluOp.NEG,
  mod: AluOp.MOD,
  xor: AluOp.XOR,
  mov: AluOp.MOV,
  arsh: AluOp.ARSH,
} as const;
export type AluName = keyof typeof ALU_OPS;

/** Conditional jumps by name (RFC 9669 §4.3); `ja`, `call`, `exit` have their own builders. */
export const JMP_OPS = {
  jeq: JmpOp.JEQ,
  jgt: JmpOp.JGT,
  jge: JmpOp.JGE,
  jset: JmpOp.JSET,
  jne: JmpOp.JNE,
  jsgt: JmpOp.JSGT,
  jsge: JmpOp.JSGE,
  jlt: JmpOp.JLT,
  jle: JmpOp.JLE,
  jslt: JmpOp.JSLT,
  jsle: JmpOp.JSLE,
} as const;
export type JmpName = keyof typeof JMP_OPS;

/**
 * Helper function ids (uapi/linux/bpf.h, __BPF_FUNC_MAPPER order) with the
 * kernel release that introduced each, so callers can say what a program needs.
 */
export const Helper = {
  map_lookup_elem: 1,
  map_update_elem: 2,
  map_delete_elem: 3,
  probe_read: 4,
  ktime_get_ns: 5,
  trace_printk: 6,
  get_prandom_u32: 7,
  get_smp_processor_id: 8,
  tail_call: 12,
  get_current_pid_tgid: 14,
  get_current_uid_gid: 15,
  get_current_comm: 16,
  perf_event_output: 25,
  get_stackid: 27,
  get_current_task: 35,
  probe_write_user: 36,
  probe_read_str: 45,
  get_stack: 67,
  send_signal: 109,
  probe_read_user: 112,
  probe_read_kernel: 113,
  probe_read_user_str: 114,
  probe_read_kernel_str: 115,
  jiffies64: 118,
  get_ns_current_pid_tgid: 120,
  ktime_get_boot_ns: 125,
  ringbuf_output: 130,
  ringbuf_reserve: 131,
  ringbuf_submit: 132,
  ringbuf_discard: 133,
  ringbuf_query: 134,
  get_task_stack: 141,
  copy_from_user: 148,
  snprintf_btf: 149,
  task_storage_get: 156,
  get_current_task_btf: 158,
  ktime_get_coarse_ns: 160,
  snprintf: 165,
  get_func_ip: 173,
  get_attach_cookie: 174,
  find_vma: 180,
  get_func_arg: 183,
  copy_from_user_task: 191,
} as const;
export type HelperName = keyof typeof Helper;

/** First mainline release with each helper (from the helper's commit); unlisted ones predate 4.18. */
export const HELPER_SINCE: Partial<Record<HelperName, string>> = {
  probe_read_str: '4.11',
  get_stack: '4.18',
  send_signal: '5.3',
  probe_read_user: '5.5',
  probe_read_kernel: '5.5',
  probe_read_user_str: '5.5',
  probe_read_kernel_str: '5.5',
  jiffies64: '5.5',
  get_ns_current_pid_tgid: '5.7',
  ktime_get_boot_ns: '5.8',
  ringbuf_output: '5.8',
  ringbuf_reserve: '5.8',
  ringbuf_submit: '5.8',
  ringbuf_discard: '5.8',
  ringbuf_query: '5.8',
  get_task_stack: '5.9',
  copy_from_user: '5.10',
  snprintf_btf: '5.10',
  task_storage_get: '5.11',
  get_current_task_btf: '5.11',
  ktime_get_coarse_ns: '5.11',
  snprintf: '5.13',
  get_func_ip: '5.15',
  get_attach_cookie: '5.15',
  find_vma: '5.17',
  get_func_arg: '5.17',
  copy_from_user_task: '5.18',
};

/** Reverse of Helper, for the disassembler and error messages. */
export const HELPER_NAMES: ReadonlyMap<number, HelperName> = new Map(
  (Object.entries(Helper) as [HelperName, number][]).map(([n, id]) => [id, n]),
);

/**
 * Every instruction object has all the fields, in this order, absent ones
 * undefined: then they all share one hidden class, and the passes over a
 * program's instructions (assembling, encoding, the object writer's) read
 * their fields with monomorphic loads instead of megamorphic lookups, which
 * were most of the object writer's time. (`comment` is filled in later by
 * annotate(): an existing field, so the class stays the same.)
 */
function insn(code: number, dst: Reg, src: number, off: number, imm: number, imm64?: bigint, ref?: Relocation, target?: string): AsmInsn {
  return { code, dst, src, off, imm, imm64, ref, comment: undefined, core: undefined, target };
}

// ---- moves and arithmetic ----

export const mov64Imm = (dst: Reg, imm: number): AsmInsn => insn(Class.ALU64 | AluOp.MOV | Source.K, dst, 0, 0, imm);
export const mov64Reg = (dst: Reg, src: Reg): AsmInsn => insn(Class.ALU64 | AluOp.MOV | Source.X, dst, src, 0, 0);
export const mov32Imm = (dst: Reg, imm: number): AsmInsn => insn(Class.ALU | AluOp.MOV | Source.K, dst, 0, 0, imm);
export const mov32Reg = (dst: Reg, src: Reg): AsmInsn => insn(Class.ALU | AluOp.MOV | Source.X, dst, src, 0, 0);

export const alu64Imm = (op: AluName, dst: Reg, imm: number): AsmInsn =>
  insn(Class.ALU64 | ALU_OPS[op] | Source.K, dst, 0, 0, op === 'neg' ? 0 : imm);
export const alu64Reg = (op: AluName, dst: Reg, src: Reg): AsmInsn =>
  insn(Class.ALU64 | ALU_OPS[op] | Source.X, dst, src, 0, 0);
export const alu32Imm = (op: AluName, dst: Reg, imm: number): AsmInsn =>
  insn(Class.ALU | ALU_OPS[op] | Source.K, dst, 0, 0, op === 'neg' ? 0 : imm);
export const alu32Reg = (op: AluName, dst: Reg, src: Reg): AsmInsn =>
  insn(Class.ALU | ALU_OPS[op] | Source.X, dst, src, 0, 0);

export const neg64 = (dst: Reg): AsmInsn => insn(Class.ALU64 | AluOp.NEG, dst, 0, 0, 0);
export const neg32 = (dst: Reg): AsmInsn => insn(Class.ALU | AluOp.NEG, dst, 0, 0, 0);

/** Byte swap to big-endian (`r1 = be16 r1`): a real swap on x86. */
export const toBe = (dst: Reg, bits: 16 | 32 | 64): AsmInsn => insn(Class.ALU | AluOp.END | Endian.BE, dst, 0, 0, bits);
/** To little-endian (`r1 = le16 r1`): on x86 a zero-extension of the low bits. */
export const toLe = (dst: Reg, bits: 16 | 32 | 64): AsmInsn => insn(Class.ALU | AluOp.END | Endian.LE, dst, 0, 0, bits);

// ---- memory ----

/** dst = *(size *)(src + off) */
export const ldx = (size: Size, dst: Reg, src: Reg, off: number): AsmInsn => insn(Class.LDX | Mode.MEM | size, dst, src, off, 0);
/** *(size *)(dst + off) = src */
export const stx = (size: Size, dst: Reg, off: number, src: Reg): AsmInsn => insn(Class.STX | Mode.MEM | size, dst, src, off, 0);
/** *(size *)(dst + off) = imm */
export const st = (size: Size, dst: Reg, off: number, imm: number): AsmInsn => insn(Class.ST | Mode.MEM | size, dst, 0, off, imm);

/** dst = a 64-bit constant (two slots). */
export function ldImm64(dst: Reg, value: bigint): AsmInsn {
  return insn(LD_IMM64, dst, Pseudo.NONE, 0, 0, BigInt.asUintN(64, value));
}

/** dst = the map named `mapName` (ld_imm64 src=BPF_PSEUDO_MAP_FD, relocated by the loader). */
export function ldMapFd(dst: Reg, mapName: string): AsmInsn {
  return insn(LD_IMM64, dst, Pseudo.MAP_FD, 0, 0, 0n, { kind: 'map', symbol: mapName });
}

/** dst = address of kernel symbol `name` (typeless `__ksym` extern; libbpf patches in the kallsyms address). */
export function ldKsym(dst: Reg, name: string): AsmInsn {
  return insn(LD_IMM64, dst, Pseudo.NONE, 0, 0, 0n, { kind: 'extern', symbol: name });
}

// ---- control flow ----

export const call = (helperId: number): AsmInsn => insn(Class.JMP | JmpOp.CALL, 0, PseudoCall.HELPER, 0, helperId);
/** call by helper name: callHelper('probe_read_kernel'). */
export const callHelper = (name: HelperName): AsmInsn => call(Helper[name]);
export const exit = (): AsmInsn => insn(Class.JMP | JmpOp.EXIT, 0, 0, 0, 0);
export const label = (name: string): Label => ({ label: name });

export function ja(target: string): AsmInsn {
  return insn(Class.JMP | JmpOp.JA, 0, 0, 0, 0, undefined, undefined, target);
}
export function jmpImm(op: JmpName, dst: Reg, imm: number, target: string): AsmInsn {
  return insn(Class.JMP | JMP_OPS[op] | Source.K, dst, 0, 0, imm, undefined, undefined, target);
}
export function jmpReg(op: JmpName, dst: Reg, src: Reg, target: string): AsmInsn {
  return insn(Class.JMP | JMP_OPS[op] | Source.X, dst, src, 0, 0, undefined, undefined, target);
}
export function jmp32Imm(op: JmpName, dst: Reg, imm: number, target: string): AsmInsn {
  return insn(Class.JMP32 | JMP_OPS[op] | Source.K, dst, 0, 0, imm, undefined, undefined, target);
}
export function jmp32Reg(op: JmpName, dst: Reg, src: Reg, target: string): AsmInsn {
  return insn(Class.JMP32 | JMP_OPS[op] | Source.X, dst, src, 0, 0, undefined, undefined, target);
}

/** Puts a source annotation on the first instruction of a run (shown by disassemble(..., {annotate})). */
export function annotate(comment: string, items: AsmItem[]): AsmItem[] {
  annotateFrom(comment, items, 0);
  return items;
}

/** annotate() on the run that starts at items[start] (a run appended to a longer list). */
export function annotateFrom(comment: string, items: AsmItem[], start: number): void {
  for (let k = start; k < items.length; k++) {
    const first = items[k]!;
    if (isLabel(first)) continue;
    first.comment = first.comment ? `${comment}; ${first.comment}` : comment;
    return;
  }
}

// ---- assembly ----

export interface AsmRelocation {
  /** Index into `insns` (not a slot number). */
  insnIndex: number;
  symbol: string;
  kind: 'map' | 'extern';
}

export interface Assembled {
  insns: Insn[];
  relocations: AsmRelocation[];
  /** Label name -> instruction index (handy for tests and disassembly). */
  labels: Map<string, number>;
}

/** A program the assembler cannot lay out (a label unknown or defined twice, a jump out of range). */
export class AsmError extends KprobeBpfError {}

/** Resolves labels into jump offsets (in slots; ld_imm64 counts 2) and collects relocations, in two passes over the items and no other allocation than the output. */
export function assemble(items: readonly AsmItem[]): Assembled {
  const labelSlot = new Map<string, number>();
  const labels = new Map<string, number>();
  let slot = 0;
  let count = 0;
  for (const item of items) {
    if (isLabel(item)) {
      if (labelSlot.has(item.label)) throw new AsmError(`duplicate label '${item.label}'`);
      labelSlot.set(item.label, slot);
      labels.set(item.label, count);
      continue;
    }
    count++;
    slot += item.code === LD_IMM64 ? 2 : 1;
  }
  const insns: Insn[] = new Array<Insn>(count);
  const relocations: AsmRelocation[] = [];
  let index = 0;
  slot = 0;
  for (const item of items) {
    if (isLabel(item)) continue;
    const a = item;
    const at = slot;
    slot += a.code === LD_IMM64 ? 2 : 1;
    const target = a.target;
    if (target === undefined) {
      // nothing to resolve: the item is the instruction (no copy; nothing writes to either afterwards)
      if (a.ref) relocations.push({ insnIndex: index, symbol: a.ref.symbol, kind: a.ref.kind });
      insns[index++] = a;
      continue;
    }
    const to = labelSlot.get(target);
    if (to === undefined) throw new AsmError(`unknown label '${target}'`);
    const off = to - (at + 1);
    // off is a signed 16-bit field (RFC 9669 §4.3).
    if (off < -0x8000 || off > 0x7fff) throw new AsmError(`jump to '${target}' out of range (offset ${off})`);
    // a jump gets its offset on a copy of the same shape as the builders' (see insn())
    const out: AsmInsn = { code: a.code, dst: a.dst, src: a.src, off, imm: a.imm, imm64: a.imm64, ref: a.ref, comment: a.comment, core: a.core, target: undefined };
    if (out.ref) relocations.push({ insnIndex: index, symbol: out.ref.symbol, kind: out.ref.kind });
    insns[index++] = out;
  }
  return { insns, relocations, labels };
}
