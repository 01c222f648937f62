// The trace entry's common_flags and common_preempt_count of a kprobe or
// kretprobe record, as the kernel's kprobe tracer stores them: its handler
// (kprobe_dispatcher -> __kprobe_trace_func -> trace_event_buffer_reserve)
// takes tracing_gen_ctx_dec() (kernel/trace/trace.c
// tracing_gen_ctx_irq_test, trace.h):
//   flags  irqs-off | need-resched bits | hardirq | softirq | NMI | BH-off
//   ctx  = flags << 16 | min(preempt_count & 0xff, 15) | min(migrate_disable, 15) << 4
//   minus 1 under CONFIG_PREEMPTION.
// Our program runs from the same hit in the same context: the perf PMU's
// kprobe is a second kprobe on the same address, run by the same int3,
// ftrace or optimized-probe handler (or, for a return, the same rethook
// trampoline) right next to the kernel tracer's, so what that context is
// made of is read here, not assumed per probe kind:
// - the per-CPU preempt count (x86: raw, PREEMPT_NEED_RESCHED inverted in
//   bit 31) at __per_cpu_offset[cpu] + its symbol: NMI and hardirq nesting
//   (an int3 kprobe runs in irqentry_nmi_enter()'s NMI context), softirq,
//   BH-off, the preempt depth, what the probe path itself added (the ftrace
//   handler's recursion lock, optimized_callback's preempt_disable);
//   less what trace_call_bpf adds around a BPF program (rules.bpfPreemptDepth);
// - irqs-off: a handler in NMI or hardirq context has irqs off; otherwise
//   the handler runs with the probed code's interrupt flag, which the ftrace,
//   optimized-probe and rethook trampolines save in pt_regs->flags (pushf);
// - need-resched: the task's TIF_NEED_RESCHED (and _LAZY) as for uprobes.
// migrate-disable is not read (task_struct.migration_disabled has no fixed
// offset; without CO-RE the program cannot find it): it stays 0, which is
// what the kernel shows everywhere outside migrate_disable() sections.
import { R0, R1, R2, R3, R6, R7, R8, R10, sizeFieldFor, type Reg } from '../bpf/insn.js';
import { type AsmItem, Helper, alu64Imm, alu64Reg, call, jmpImm, label, ldKsym, ldx, mov64Imm, mov64Reg, stx } from '../bpf/asm.js';
import { PT_REGS_OFFSET } from './arch/x86_64.js';
import { TRACE_FLAG } from './abi.js';
import type { PerCpuPreemptCount, TraceContextRules } from './codegen-flags-rules.js';


/** include/linux/preempt.h: the preempt count's fields. */
const PREEMPT_MASK = 0xff;
const SOFTIRQ_SHIFT = 8;
const HARDIRQ_SHIFT = 16;
const NMI_SHIFT = 20;
/** arch/x86/include/asm/preempt.h: PREEMPT_NEED_RESCHED, set when no reschedule is needed. */
const PREEMPT_NEED_RESCHED_BIT = 31;
/** arch/x86/include/asm/processor-flags.h: X86_EFLAGS_IF. */
const X86_EFLAGS_IF_BIT = 9;
/** The per-CPU offset table (mm/percpu.c, x86 setup_percpu.c): one unsigned long per CPU. */
export const PER_CPU_OFFSET_SYMBOL = '__per_cpu_offset';
const CTX_FLAGS_SHIFT = 16;
/** The column holds one hex digit: min(count, 15). */
const MAX_DEPTH = 15;

/** dst = `flag` when bits [shift, shift+width) of src hold anything, else 0; branch-free. */
function anyBits(dst: Reg, src: Reg, shift: number, width: number, flag: number): AsmItem[] {
  const mask = (1 << width) - 1;
  // (x + mask) >> width is 1 for 1 <= x <= mask, 0 for x = 0
  return [
    mov64Reg(dst, src), alu64Imm('rsh', dst, shift), alu64Imm('and', dst, mask),
    alu64Imm('add', dst, mask), alu64Imm('rsh', dst, width), alu64Imm('mul', dst, flag),
  ];
}

/** r0 = the raw per-CPU preempt count (0 when a read faults); uses `slot`, clobbers r1-r3. */
function readPreemptCount(at: PerCpuPreemptCount, slot: number): AsmItem[] {
  return [
    call(Helper.get_smp_processor_id),
    alu64Imm('lsh', R0, 3),
    ldKsym(R3, PER_CPU_OFFSET_SYMBOL), alu64Reg('add', R3, R0),
    mov64Reg(R1, R10), alu64Imm('add', R1, slot), mov64Imm(R2, 8),
    call(Helper.probe_read_kernel),
    ldx(sizeFieldFor(8), R3, R10, slot),
    ldKsym(R1, at.symbol), alu64Reg('add', R3, R1),
    ...(at.offset ? [alu64Imm('add', R3, at.offset)] : []),
    mov64Reg(R1, R10), alu64Imm('add', R1, slot), mov64Imm(R2, 4),
    call(Helper.probe_read_kernel),
    ldx(sizeFieldFor(4), R0, R10, slot),
  ];
}

/**
 * common_flags and common_preempt_count of a kprobe entry at r7 + `at.flags`
 * / `at.preemptCount`: the TIF word is read first into r0 by the caller's
 * `readTif` items; r8 accumulates the flags (free until the fetches), r6 is
 * the pt_regs; clobbers r0-r3 and r8.
 */
export function emitKprobeTraceContext(
  rules: TraceContextRules & { readonly preemptCount: PerCpuPreemptCount },
  at: { readonly flags: number; readonly preemptCount: number; readonly slot: number },
  readTif: readonly AsmItem[],
  tifToFlag: (dst: Reg, tif: number, flag: number) => AsmItem[],
  ptRegs: boolean,
): AsmItem[] {
  const lazy = rules.tifNeedReschedLazy;
  const depth = rules.bpfPreemptDepth ?? 0;
  const depthOk = 'trace_ctx_depth_ok';
  return [
    ...readTif,
    ...tifToFlag(R8, rules.tifNeedResched, TRACE_FLAG.NEED_RESCHED),
    ...(lazy === undefined ? [] : [...tifToFlag(R1, lazy, TRACE_FLAG.NEED_RESCHED_LAZY), alu64Reg('or', R8, R1)]),
    ...readPreemptCount(rules.preemptCount, at.slot),
    // PREEMPT_RESCHED: test_preempt_need_resched() is !(raw & PREEMPT_NEED_RESCHED)
    mov64Reg(R1, R0), alu64Imm('rsh', R1, PREEMPT_NEED_RESCHED_BIT), alu64Imm('and', R1, 1), alu64Imm('xor', R1, 1),
    alu64Imm('mul', R1, TRACE_FLAG.PREEMPT_RESCHED), alu64Reg('or', R8, R1),
    ...anyBits(R1, R0, NMI_SHIFT, 4, TRACE_FLAG.NMI), alu64Reg('or', R8, R1),
    ...anyBits(R1, R0, HARDIRQ_SHIFT, 4, TRACE_FLAG.HARDIRQ), alu64Reg('or', R8, R1),
    // in_serving_softirq(): SOFTIRQ_OFFSET; BH-off: softirq_count() >> (SOFTIRQ_SHIFT + 1)
    mov64Reg(R1, R0), alu64Imm('rsh', R1, SOFTIRQ_SHIFT), alu64Imm('and', R1, 1),
    alu64Imm('mul', R1, TRACE_FLAG.SOFTIRQ), alu64Reg('or', R8, R1),
    ...anyBits(R1, R0, SOFTIRQ_SHIFT + 1, 7, TRACE_FLAG.BH_OFF), alu64Reg('or', R8, R1),
    // irqs-off: NMI or hardirq context, else the probed code's IF in pt_regs->flags
    ...anyBits(R2, R0, HARDIRQ_SHIFT, 8, TRACE_FLAG.IRQS_OFF),
    // (a kprobe compiled to fentry/fexit has no pt_regs: irqs-off then only from the context)
    ...(ptRegs ? [
      ldx(sizeFieldFor(8), R1, R6, PT_REGS_OFFSET.flags),
      alu64Imm('rsh', R1, X86_EFLAGS_IF_BIT), alu64Imm('and', R1, 1), alu64Imm('xor', R1, 1),
      alu64Reg('or', R2, R1),
    ] : []),
    alu64Reg('or', R8, R2),
    // the preempt depth the kernel's handler saw: ours less what the BPF run added
    alu64Imm('and', R0, PREEMPT_MASK),
    ...(depth ? [alu64Imm('sub', R0, depth)] : []),
    jmpImm('jle', R0, MAX_DEPTH, depthOk),
    mov64Imm(R0, MAX_DEPTH),
    label(depthOk),
    alu64Imm('lsh', R8, CTX_FLAGS_SHIFT), alu64Reg('or', R8, R0),
    ...(rules.preemption ? [alu64Imm('sub', R8, 1)] : []),
    stx(sizeFieldFor(1), R7, at.preemptCount, R8),
    alu64Imm('rsh', R8, CTX_FLAGS_SHIFT),
    stx(sizeFieldFor(1), R7, at.flags, R8),
  ];
}
