// x86-64 in one file: struct pt_regs field offsets and the calling
// convention's argument registers (System V AMD64 ABI). The register names
// themselves are the grammar's (grammar/registers.ts), in pt_regs order.
import { X86_64_PT_REGS, type RegName } from '../../grammar/registers.js';

export const WORD_SIZE = 8;

/** Byte offset of each register in struct pt_regs: one unsigned long per field, in declaration order. */
export const PT_REGS_OFFSET: Readonly<Record<RegName, number>> = Object.fromEntries(
  X86_64_PT_REGS.map((name, i) => [name, i * WORD_SIZE]),
) as Record<RegName, number>;

/** $arg1..$arg6 (kernel: regs_get_kernel_argument). */
export const ARG_REGS: readonly RegName[] = ['di', 'si', 'dx', 'cx', 'r8', 'r9'];

/** Register holding a function's return value ($retval). */
export const RETVAL_REG: RegName = 'ax';
export const STACK_REG: RegName = 'sp';
export const IP_REG: RegName = 'ip';
/**
 * A kprobe handler sees ip = kp->addr + sizeof(kprobe_opcode_t), the int3
 * (arch/x86 kprobes: the breakpoint hit, kprobe_ftrace_handler and the
 * optimized probe's callback all set it so).
 */
export const KPROBE_OPCODE_SIZE = 1;
