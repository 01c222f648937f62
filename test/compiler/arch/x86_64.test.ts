// The pt_regs offsets the compiler reads registers at, derived from the
// grammar's register list, against struct pt_regs as the kernel lays it out
// (arch/x86/include/asm/ptrace.h; offsetof values of x86-64).
import t from 'tap';
import { ARG_REGS, PT_REGS_OFFSET } from '../../../compiler/arch/x86_64.js';
import { isRegName } from '../../../grammar/registers.js';

const KERNEL_PT_REGS: Record<string, number> = {
  r15: 0, r14: 8, r13: 16, r12: 24, bp: 32, bx: 40, r11: 48, r10: 56,
  r9: 64, r8: 72, ax: 80, cx: 88, dx: 96, si: 104, di: 112, orig_ax: 120,
  ip: 128, cs: 136, flags: 144, sp: 152, ss: 160,
};

t.test('every register sits at its struct pt_regs offset', async (t) => {
  t.same(PT_REGS_OFFSET, KERNEL_PT_REGS);
});

t.test('the grammar accepts exactly the registers pt_regs holds', async (t) => {
  for (const name of Object.keys(KERNEL_PT_REGS)) t.ok(isRegName(name), `%${name}`);
  for (const name of ['eax', 'rax', 'r16', 'xmm0', 'fs', 'gs', 'DI', '', 'toString']) t.notOk(isRegName(name), `not %${name}`);
});

t.test('$arg1..$arg6 are the System V argument registers', async (t) => {
  t.same(ARG_REGS, ['di', 'si', 'dx', 'cx', 'r8', 'r9']);
});
