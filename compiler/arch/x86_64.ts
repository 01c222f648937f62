// x86-64 in one file: struct pt_regs field offsets (arch/x86/include/asm/ptrace.h)
// and the calling convention's argument registers (System V AMD64 ABI).
import type { RegName } from '../../grammar/ast.js';

export const PT_REGS_OFFSET: Readonly<Record<RegName, number>> = {
  r15: 0, r14: 8, r13: 16, r12: 24, bp: 32, bx: 40, r11: 48, r10: 56,
  r9: 64, r8: 72, ax: 80, cx: 88, dx: 96, si: 104, di: 112, orig_ax: 120,
  ip: 128, cs: 136, flags: 144, sp: 152, ss: 160,
};

/** $arg1..$arg6 (kernel: regs_get_kernel_argument). */
export const ARG_REGS: readonly RegName[] = ['di', 'si', 'dx', 'cx', 'r8', 'r9'];

/** Register holding a function's return value ($retval). */
export const RETVAL_REG: RegName = 'ax';
export const STACK_REG: RegName = 'sp';
export const IP_REG: RegName = 'ip';
export const WORD_SIZE = 8;
