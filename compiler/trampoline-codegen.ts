// The probe-address fields of fprobe and tprobe events in BPF: __probe_ip
// (or __probe_func) as the kernel's fprobe reports it, and fexit's
// __probe_ret_ip from the trampoline's frame. Register roles as in
// codegen.ts: r6 ctx, r7 record; r1-r5 and r0 are scratch here.
import { R0, R1, R10, R2, R3, R6, R7, R8, R9, sizeFieldFor } from '../bpf/insn.js';
import { type AsmItem, Helper, alu64Imm, call, ja, jmp32Imm, jmpImm, jmpReg, label, ldKsym, ldx, mov64Imm, mov64Reg, stx } from '../bpf/asm.js';
import type { ProbeIpSource, ProbeRetIpSource } from './ir.js';

/**
 * What the kernel takes for an ENDBR at a function's start, as little-endian
 * u32s (kernel: arch/x86/include/asm/ibt.h is_endbr): ENDBR64 (f3 0f 1e fa),
 * ENDBR32, and the NOP an IBT kernel seals an ENDBR of a function nobody
 * calls indirectly with at boot (apply_seal_endbr) — osp nopl (%rax) up to
 * 6.12, nopl -42(%rax) later. The fentry call still sits 4 bytes in then.
 */
export const ENDBR_WORDS: readonly number[] = [0xfa1e0ff3, 0xfb1e0ff3, 0x001f0f66, 0xd6401f0f];
/** kernel: ENDBR_INSN_SIZE. */
export const ENDBR_INSN_SIZE = 4;

/**
 * Stores the ftrace site of a function at r7 + `at`: its address (from
 * bpf_get_func_ip, or a kernel symbol), plus 4 when it starts with an ENDBR
 * or its sealed NOP, as an IBT kernel puts the fentry call after it
 * (kernel: ftrace_location).
 * `slot` is a stack slot the 4 bytes are read into; `fresh` makes a label.
 */
export function emitFtraceSite(ip: Extract<ProbeIpSource, { op: 'ftrace-site' }>, at: number, slot: number, fresh: (p: string) => string): AsmItem[] {
  const plain = fresh('no_endbr');
  const endbr = fresh('endbr');
  const base: AsmItem[] = ip.base === 'func-ip'
    ? [mov64Reg(R1, R6), call(Helper.get_func_ip), stx(sizeFieldFor(8), R7, at, R0), mov64Reg(R3, R0)]
    : [ldKsym(R3, ip.symbol), stx(sizeFieldFor(8), R7, at, R3)];
  return [
    ...base,
    mov64Reg(R1, R10), alu64Imm('add', R1, slot),
    mov64Imm(R2, 4),
    call(Helper.probe_read_kernel),
    ldx(sizeFieldFor(4), R1, R10, slot),
    ...ENDBR_WORDS.map((w) => jmp32Imm('jeq', R1, w | 0, endbr)),
    ja(plain),
    label(endbr),
    ldx(sizeFieldFor(8), R1, R7, at),
    alu64Imm('add', R1, ENDBR_INSN_SIZE),
    stx(sizeFieldFor(8), R7, at, R1),
    label(plain),
  ];
}

/** Return hooks on one call looked through at most (a kretprobe and an fprobe exit of the kernel's, and more). */
const RETHOOK_DEPTH = 4;

/**
 * fexit's __probe_ret_ip at r7 + `at`: the word at ctx + ctxOffset, which the
 * program may not load directly (the verifier allows only the argument and
 * return-value slots), read with bpf_probe_read_kernel; 0 if that faults.
 * A kretprobe or fprobe exit of the kernel's on the same function has put
 * its rethook trampoline there at the entry (arch_rethook_prepare saved the
 * real address in a rethook_node on current->rethooks, with `frame` the
 * address of that stack word); with `rethook` the nodes of this frame are
 * followed to the first one pushed, which holds the caller's address, as the
 * kernel's own return probes print it. r8 and r9 are scratch (the record's
 * dynamic offset and entry base are set after the probe address).
 */
export function emitTrampolineRetIp(src: Extract<ProbeRetIpSource, { op: 'trampoline-frame' }>, at: number, slot: number, fresh: (p: string) => string): AsmItem[] {
  const read: AsmItem[] = [
    mov64Reg(R3, R6), alu64Imm('add', R3, src.ctxOffset),
    mov64Reg(R1, R10), alu64Imm('add', R1, slot),
    mov64Imm(R2, 8),
    call(Helper.probe_read_kernel),
    ldx(sizeFieldFor(8), R1, R10, slot),
  ];
  const h = src.rethook;
  if (!h) return [...read, stx(sizeFieldFor(8), R7, at, R1)];
  const done = fresh('rethook_done');
  // *(slot) = *(r3 + off), r3 preserved in r9
  const load = (off: number): AsmItem[] => [
    mov64Reg(R3, R9), alu64Imm('add', R3, off),
    mov64Reg(R1, R10), alu64Imm('add', R1, slot), mov64Imm(R2, 8),
    call(Helper.probe_read_kernel),
    jmpImm('jne', R0, 0, done),
    ldx(sizeFieldFor(8), R1, R10, slot),
  ];
  const walk: AsmItem[] = [];
  for (let i = 0; i < RETHOOK_DEPTH; i++) {
    walk.push(
      jmpImm('jeq', R9, 0, done),
      // a node of another frame (an outer call's): stop
      ...load(h.nodeFrame - h.nodeLlist),
      mov64Reg(R2, R6), alu64Imm('add', R2, src.ctxOffset),
      jmpReg('jne', R1, R2, done),
      ...load(h.nodeRetAddr - h.nodeLlist),
      mov64Reg(R8, R1),
      // llist_node.next at 0
      ...load(0),
      mov64Reg(R9, R1),
    );
  }
  return [
    ...read,
    mov64Reg(R8, R1),
    call(Helper.get_current_task),
    mov64Reg(R3, R0), alu64Imm('add', R3, h.taskRethooks),
    mov64Reg(R1, R10), alu64Imm('add', R1, slot), mov64Imm(R2, 8),
    call(Helper.probe_read_kernel),
    mov64Imm(R9, 0),
    jmpImm('jne', R0, 0, done),
    ldx(sizeFieldFor(8), R9, R10, slot),
    ...walk,
    label(done),
    stx(sizeFieldFor(8), R7, at, R8),
  ];
}
