// What a uprobe trace line's flags column depends on besides the hit itself:
// facts about the kernel the program will run on (its release and
// CONFIG_PREEMPTION), which the flags code is compiled for since no BPF
// program can read them. runtime/kernel-trace-context.ts reads the running
// kernel's.

export interface TraceContextRules {
  /**
   * CONFIG_PREEMPTION: trace_event_buffer_reserve takes the context with
   * tracing_gen_ctx_dec(), one off the packed value for the tracepoint's own
   * preempt_disable, which a uprobe handler never did: the kernel's uprobe
   * lines carry the borrow (preempt count 0xff, flags one less).
   */
  readonly preemption: boolean;
  /** thread_info.flags bit of TIF_NEED_RESCHED. */
  readonly tifNeedResched: number;
  /** thread_info.flags bit of TIF_NEED_RESCHED_LAZY, on kernels that have it (x86: Linux 6.13+). */
  readonly tifNeedReschedLazy?: number;
}

/**
 * x86's TIF bits by release: TIF_NEED_RESCHED 3 until 6.17 (bit 4 was
 * TIF_SINGLESTEP, then TIF_NEED_RESCHED_LAZY from 6.13); 6.18 moved x86 to
 * the generic bits (include/asm-generic/thread_info_tif.h: TIF_NEED_RESCHED
 * 4, TIF_NEED_RESCHED_LAZY 5). Measured on 6.18: bit 4 is set exactly on the
 * hits the kernel's own line shows need-resched (test/e2e/flags.test.ts).
 */
const TIF_BITS: readonly { readonly since: readonly [number, number]; readonly bits: Omit<TraceContextRules, 'preemption'> }[] = [
  { since: [6, 18], bits: { tifNeedResched: 4, tifNeedReschedLazy: 5 } },
  { since: [6, 13], bits: { tifNeedResched: 3, tifNeedReschedLazy: 4 } },
  { since: [0, 0], bits: { tifNeedResched: 3 } },
];

/** The rules of a kernel release ("6.1.0-28-amd64") with the given CONFIG_PREEMPTION. */
export function traceContextRulesFor(kernelRelease: string, preemption: boolean): TraceContextRules {
  const [major = 0, minor = 0] = kernelRelease.split(/[.-]/).map(Number);
  const row = TIF_BITS.find(({ since: [ma, mi] }) => major > ma || (major === ma && minor >= mi))!;
  return { preemption, ...row.bits };
}

/**
 * Without a kernel to ask (the compiler reads no files): CONFIG_PREEMPTION, as
 * Debian, Ubuntu and Fedora kernels have it (PREEMPT_DYNAMIC), and the TIF
 * bits of the kernels before 6.13 without the lazy one.
 */
export const DEFAULT_TRACE_CONTEXT_RULES: TraceContextRules = { preemption: true, tifNeedResched: 3 };
