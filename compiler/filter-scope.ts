// `-p PID` and the `-c` command's process inside the program: the runtime
// writes the tgid to trace into SCOPE_MAP[0] (0: every process) before it
// attaches, and the program returns at once for any other process, before
// it reserves or builds a record, so other processes' records never reach
// the ring. The probes can then be attached for every task, which also
// takes in every thread of the process.
import { R0, R1, R10, R2, R6, R7, sizeFieldFor } from '../bpf/insn.js';
import { type AsmItem, Helper, alu64Imm, annotate, call, jmpImm, jmpReg, label, ldMapFd, ldx, mov64Reg, st } from '../bpf/asm.js';
import { SCOPE_MAP } from './abi.js';

/** codegen.ts's map key slot. */
const KEY_SLOT = -4;

/** The program's first instructions when scoped: r1 (ctx) is kept in r6 and given back. */
export function emitScopeCheck(exit: string, fresh: (prefix: string) => string): AsmItem[] {
  const any = fresh('scope_any');
  return annotate('scope[0] == 0 || scope[0] == current tgid, else return', [
    mov64Reg(R6, R1),
    st(sizeFieldFor(4), R10, KEY_SLOT, 0),
    mov64Reg(R2, R10), alu64Imm('add', R2, KEY_SLOT),
    ldMapFd(R1, SCOPE_MAP),
    call(Helper.map_lookup_elem),
    jmpImm('jeq', R0, 0, any),
    ldx(sizeFieldFor(4), R7, R0, 0),
    jmpImm('jeq', R7, 0, any),
    call(Helper.get_current_pid_tgid),
    alu64Imm('rsh', R0, 32),
    jmpReg('jne', R0, R7, exit),
    label(any),
    mov64Reg(R1, R6),
  ]);
}
