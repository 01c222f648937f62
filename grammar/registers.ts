// The x86-64 registers a fetch argument may name (%REG): the one list of
// their names. The grammar checks %REG against it; the compiler's arch file
// (compiler/arch/x86_64.ts) derives the pt_regs offsets from its order.

/**
 * struct pt_regs on x86-64, field by field in declaration order
 * (arch/x86/include/asm/ptrace.h), which is also the order and the naming of
 * regs_query_register_offset's regoffset_table (arch/x86/kernel/ptrace.c).
 * Every field is one unsigned long.
 */
export const X86_64_PT_REGS = [
  'r15', 'r14', 'r13', 'r12', 'bp', 'bx', 'r11', 'r10', 'r9', 'r8',
  'ax', 'cx', 'dx', 'si', 'di', 'orig_ax', 'ip', 'cs', 'flags', 'sp', 'ss',
] as const;

/** x86-64 register names as the kernel's regs_query_register_offset knows them. */
export type RegName = (typeof X86_64_PT_REGS)[number];

const NAMES: ReadonlySet<string> = new Set(X86_64_PT_REGS);

/** kernel: regs_query_register_offset(name) >= 0. */
export const isRegName = (name: string): name is RegName => NAMES.has(name);
