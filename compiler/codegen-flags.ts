// The trace entry's common_flags and common_preempt_count, as the kernel's
// uprobe tracer stores them: tracing_gen_ctx_dec() taken in its handler
// (kernel/trace/trace.c tracing_gen_ctx_irq_test, trace_event_buffer_reserve),
//   ctx = flags << 16 | min(preempt_count & 0xff, 15) | min(migrate_disable, 15) << 4
//   minus 1 under CONFIG_PREEMPTION; entry.flags = ctx >> 16, entry.preempt_count = ctx & 0xff.
// A uprobe handler runs in the probed task's context from its return to user
// mode: irqs on, no hard/soft irq or NMI, bottom halves on, preemption and
// migration enabled (the kernel's own lines show preempt 0 and migrate 0
// before the borrow), so those columns are fixed by the tracer, not read.
// What changes per hit is need-resched: the task's TIF_NEED_RESCHED (and
// TIF_NEED_RESCHED_LAZY) in thread_info.flags, which x86 keeps as the first
// word of task_struct (THREAD_INFO_IN_TASK: thread_info must come first), so
// one read at the task's address finds it on every kernel version.
// PREEMPT_RESCHED (x86: the inverted bit 31 of the per-CPU __preempt_count)
// cannot be read without the per-CPU symbol in kallsyms (KALLSYMS_ALL); the
// scheduler folds it in soon after it sets TIF_NEED_RESCHED on a running task
// (resched_curr, scheduler_ipi), so it is taken to follow TIF_NEED_RESCHED:
// a reschedule not folded yet prints 'L' here where the kernel prints 'l'.
// kprobe lines depend on the probed code's context (irqs, preempt depth, irq
// nesting): codegen-flags-kprobe.ts reads it from the per-CPU preempt count
// where kallsyms shows it; elsewhere they keep flags 0.
import { R0, R1, R2, R3, R7, R10, sizeFieldFor, type Reg } from '../bpf/insn.js';
import { type AsmItem, Helper, alu64Imm, alu64Reg, annotate, call, ldx, mov64Imm, mov64Reg, stx } from '../bpf/asm.js';
import { TRACE_FLAG, type EventFormat } from './abi.js';
import type { TraceContextRules } from './codegen-flags-rules.js';
import { emitKprobeTraceContext } from './codegen-flags-kprobe.js';

const CTX_FLAGS_SHIFT = 16;


/** dst = TRACE_FLAG bit `flag` when bit `tif` of r0 (the TIF word) is set, else 0. */
function tifToFlag(dst: Reg, tif: number, flag: number): AsmItem[] {
  return [mov64Reg(dst, R0), alu64Imm('rsh', dst, tif), alu64Imm('and', dst, 1), alu64Imm('mul', dst, flag)];
}

/** r0 = the current task's thread_info.flags (0 when the read faults), through stack slot `slot`. */
function readTif(slot: number): AsmItem[] {
  return [
    call(Helper.get_current_task),
    mov64Reg(R3, R0),
    mov64Reg(R1, R10), alu64Imm('add', R1, slot),
    mov64Imm(R2, 8),
    call(Helper.probe_read_kernel),
    // a failed read zeroes the slot: no need-resched then
    ldx(sizeFieldFor(8), R0, R10, slot),
  ];
}

/**
 * Stores common_flags and common_preempt_count of the entry at r7 + `entry`,
 * using stack slot `slot` (8 bytes); clobbers r0-r3 (and r8 for a kprobe).
 * Nothing for a kprobe where the preempt count cannot be read (its zeros
 * stay), nor for a layout without those fields.
 */
export function emitTraceContext(format: EventFormat, entry: number, slot: number, rules: TraceContextRules, ptRegs = true): AsmItem[] {
  const flagsField = format.commonFields.find((f) => f.name === 'common_flags');
  const preemptField = format.commonFields.find((f) => f.name === 'common_preempt_count');
  if (!flagsField || !preemptField) return [];
  const at = { flags: entry + flagsField.offset, preemptCount: entry + preemptField.offset, slot };
  if (format.tracer === 'kprobe') {
    const { preemptCount } = rules;
    if (!preemptCount) return [];
    return annotate('common_flags, common_preempt_count: tracing_gen_ctx_dec() of a kprobe handler',
      emitKprobeTraceContext({ ...rules, preemptCount }, at, readTif(slot), tifToFlag, ptRegs));
  }
  if (format.tracer !== 'uprobe') return [];
  const lazy = rules.tifNeedReschedLazy;
  return annotate('common_flags, common_preempt_count: tracing_gen_ctx_dec() of a uprobe handler', [
    ...readTif(at.slot),
    ...tifToFlag(R2, rules.tifNeedResched, TRACE_FLAG.NEED_RESCHED | TRACE_FLAG.PREEMPT_RESCHED),
    ...(lazy === undefined ? [] : [...tifToFlag(R1, lazy, TRACE_FLAG.NEED_RESCHED_LAZY), alu64Reg('or', R2, R1)]),
    alu64Imm('lsh', R2, CTX_FLAGS_SHIFT),
    ...(rules.preemption ? [alu64Imm('sub', R2, 1)] : []),
    stx(sizeFieldFor(1), R7, at.preemptCount, R2),
    alu64Imm('rsh', R2, CTX_FLAGS_SHIFT),
    stx(sizeFieldFor(1), R7, at.flags, R2),
  ]);
}
