// `-p PID` and the `-c` command's process inside the program: the runtime
// writes the tgid to trace into SCOPE_MAP[0] (0: every process) before it
// attaches, and the program returns at once for any other process, before
// it reserves or builds a record, so other processes' records never reach
// the ring. The probes can then be attached for every task, which also
// takes in every thread of the process.
import { R0, R1, R10, R2, R3, R4, R6, R7, sizeFieldFor } from '../bpf/insn.js';
import { type AsmItem, Helper, alu64Imm, annotate, call, exit, jmpImm, jmpReg, label, ldMapFd, ldx, mov64Imm, mov64Reg, st, stx } from '../bpf/asm.js';
import { SCOPE_KIDS_MAP, SCOPE_MAP } from './abi.js';

/** codegen.ts's map key slot. */
const KEY_SLOT = -4;
/** The fork program's map value (its own stack). */
const VALUE_SLOT = -8;
/** map_update_elem flags: create or replace. */
const BPF_ANY = 0;

/**
 * The program's first instructions when scoped: r1 (ctx) is kept in r6 and
 * given back. With `children`, a process SCOPE_KIDS_MAP holds (a descendant
 * of the -c command, added as it forked) is in scope too.
 */
export function emitScopeCheck(exit: string, fresh: (prefix: string) => string, children = false): AsmItem[] {
  const any = fresh('scope_any');
  const tail = children
    ? [
      jmpReg('jeq', R0, R7, any),
      // a descendant: scope_kids[tgid] exists
      stx(sizeFieldFor(4), R10, KEY_SLOT, R0),
      mov64Reg(R2, R10), alu64Imm('add', R2, KEY_SLOT),
      ldMapFd(R1, SCOPE_KIDS_MAP),
      call(Helper.map_lookup_elem),
      jmpImm('jeq', R0, 0, exit),
    ]
    : [jmpReg('jne', R0, R7, exit)];
  return annotate(children ? 'scope[0] == 0 || scope[0] == current tgid || scope_kids[current tgid], else return' : 'scope[0] == 0 || scope[0] == current tgid, else return', [
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
    ...tail,
    label(any),
    mov64Reg(R1, R6),
  ]);
}

/**
 * SCOPE_FORK_PROGRAM, on the sched:sched_process_fork tracepoint (run in the
 * parent): when the parent is in scope (the -c command or a descendant), its
 * child's pid goes into SCOPE_KIDS_MAP, so what the command starts is traced
 * as `perf record -- CMD` follows it. `childPidOffset` is child_pid's offset
 * in the tracepoint's record, from its format file (6.1: 44; 6.18, whose
 * comms are __data_loc: 20).
 */
export function emitScopeForkProgram(childPidOffset: number): AsmItem[] {
  const out = 'fork_out', add = 'fork_add';
  const lookup = (map: string): AsmItem[] => [mov64Reg(R2, R10), alu64Imm('add', R2, KEY_SLOT), ldMapFd(R1, map), call(Helper.map_lookup_elem)];
  return [
    ...annotate('child = ctx->child_pid', [ldx(sizeFieldFor(4), R6, R1, childPidOffset)]),
    ...annotate('parent in scope: scope[0] == current tgid || scope_kids[current tgid]', [
      st(sizeFieldFor(4), R10, KEY_SLOT, 0),
      ...lookup(SCOPE_MAP),
      jmpImm('jeq', R0, 0, out),
      ldx(sizeFieldFor(4), R7, R0, 0),
      jmpImm('jeq', R7, 0, out),
      call(Helper.get_current_pid_tgid),
      alu64Imm('rsh', R0, 32),
      jmpReg('jeq', R0, R7, add),
      stx(sizeFieldFor(4), R10, KEY_SLOT, R0),
      ...lookup(SCOPE_KIDS_MAP),
      jmpImm('jeq', R0, 0, out),
    ]),
    label(add),
    ...annotate('scope_kids[child] = 1', [
      stx(sizeFieldFor(4), R10, KEY_SLOT, R6),
      st(sizeFieldFor(4), R10, VALUE_SLOT, 1),
      mov64Reg(R2, R10), alu64Imm('add', R2, KEY_SLOT),
      mov64Reg(R3, R10), alu64Imm('add', R3, VALUE_SLOT),
      mov64Imm(R4, BPF_ANY),
      ldMapFd(R1, SCOPE_KIDS_MAP),
      call(Helper.map_update_elem),
    ]),
    label(out),
    mov64Imm(R0, 0),
    exit(),
  ];
}
