// The probe-address fields of fprobe and tprobe events in BPF: __probe_ip
// (or __probe_func) as the kernel's fprobe reports it, and fexit's
// __probe_ret_ip from the trampoline's frame. Register roles as in
// codegen.ts: r6 ctx, r7 record; r1-r5 and r0 are scratch here.
import { R0, R1, R10, R2, R3, R6, R7, sizeFieldFor } from '../bpf/insn.js';
import { type AsmItem, Helper, alu64Imm, call, ja, jmp32Imm, label, ldKsym, ldx, mov64Imm, mov64Reg, stx } from '../bpf/asm.js';
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

/**
 * fexit's __probe_ret_ip at r7 + `at`: the word at ctx + ctxOffset, which the
 * program may not load directly (the verifier allows only the argument and
 * return-value slots), read with bpf_probe_read_kernel; 0 if that faults.
 */
export function emitTrampolineRetIp(src: Extract<ProbeRetIpSource, { op: 'trampoline-frame' }>, at: number, slot: number): AsmItem[] {
  return [
    mov64Reg(R3, R6), alu64Imm('add', R3, src.ctxOffset),
    mov64Reg(R1, R10), alu64Imm('add', R1, slot),
    mov64Imm(R2, 8),
    call(Helper.probe_read_kernel),
    ldx(sizeFieldFor(8), R1, R10, slot),
    stx(sizeFieldFor(8), R7, at, R1),
  ];
}
