// What a trace line's flags column depends on besides the hit itself: facts
// about the kernel the program will run on (its release, CONFIG_PREEMPTION,
// where x86 keeps the per-CPU preempt count and whether kallsyms shows it),
// which the flags code is compiled for since no BPF program can read them.
// runtime/kernel-trace-context.ts reads the running kernel's.

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
  /**
   * Where x86 keeps the per-CPU preempt count, when a BPF program can find
   * it: a per-CPU symbol in kallsyms (CONFIG_KALLSYMS_ALL), read at
   * `__per_cpu_offset[cpu] + symbol + offset`. kprobe lines need it (their
   * context is the probed code's); without it they keep flags 0.
   */
  readonly preemptCount?: PerCpuPreemptCount;
  /**
   * What the BPF program's own context adds to the preempt count on top of
   * the kprobe handler's, which the kernel's tracer does not see:
   * trace_call_bpf() holds rcu_read_lock(), a preempt_disable() without
   * CONFIG_PREEMPT_RCU (counted with CONFIG_PREEMPT_COUNT); the
   * migrate_disable() of bpf_prog_run_array() leaves the count as it was.
   */
  readonly bpfPreemptDepth?: number;
}

/** A per-CPU variable holding x86's preempt count (raw: bit 31 is the inverted PREEMPT_NEED_RESCHED). */
export interface PerCpuPreemptCount {
  readonly symbol: string;
  /** Offset of the count in the variable. */
  readonly offset: number;
}

/** What the running kernel's config says beyond CONFIG_PREEMPTION. */
export interface KernelContextConfig {
  /** CONFIG_KALLSYMS_ALL: per-CPU variables are in kallsyms, so libbpf can resolve them. */
  readonly kallsymsAll: boolean;
  /** CONFIG_PREEMPT_RCU. */
  readonly preemptRcu: boolean;
  /** CONFIG_PREEMPT_COUNT. */
  readonly preemptCount: boolean;
}

/**
 * x86's TIF bits by release: TIF_NEED_RESCHED 3 until 6.17 (bit 4 was
 * TIF_SINGLESTEP, then TIF_NEED_RESCHED_LAZY from 6.13); 6.18 moved x86 to
 * the generic bits (include/asm-generic/thread_info_tif.h: TIF_NEED_RESCHED
 * 4, TIF_NEED_RESCHED_LAZY 5). Measured on 6.18: bit 4 is set exactly on the
 * hits the kernel's own line shows need-resched (test/e2e/flags.test.ts).
 */
const TIF_BITS: readonly { readonly since: readonly [number, number]; readonly bits: Pick<TraceContextRules, 'tifNeedResched' | 'tifNeedReschedLazy'> }[] = [
  { since: [6, 18], bits: { tifNeedResched: 4, tifNeedReschedLazy: 5 } },
  { since: [6, 13], bits: { tifNeedResched: 3, tifNeedReschedLazy: 4 } },
  { since: [0, 0], bits: { tifNeedResched: 3 } },
];

/**
 * x86's preempt count by release (arch/x86/include/asm/preempt.h,
 * current.h): the per-CPU int __preempt_count until 6.1; 6.2 gathered the
 * hot per-CPU variables into struct pcpu_hot (current_task at 0,
 * preempt_count at 8; "x86/percpu: Add pcpu_hot", Brian Gerst); 6.15 took
 * them out again into the cache-hot per-CPU section, __preempt_count a
 * variable of its own ("x86/percpu: Move preempt_count to percpu hot
 * section"). 6.1 and 6.12 are measured in the guests
 * (test/guest/kprobe-diff.test.ts): the program loads and the kernel's own
 * flags come out.
 */
const PREEMPT_COUNT_AT: readonly { readonly since: readonly [number, number]; readonly at: PerCpuPreemptCount }[] = [
  { since: [6, 15], at: { symbol: '__preempt_count', offset: 0 } },
  { since: [6, 2], at: { symbol: 'pcpu_hot', offset: 8 } },
  { since: [0, 0], at: { symbol: '__preempt_count', offset: 0 } },
];

const since = (kernelRelease: string) => {
  const [major = 0, minor = 0] = kernelRelease.split(/[.-]/).map(Number);
  return ({ since: [ma, mi] }: { readonly since: readonly [number, number] }) => major > ma || (major === ma && minor >= mi);
};

/**
 * The rules of a kernel release ("6.1.0-28-amd64") with the given
 * CONFIG_PREEMPTION; with its config, where kprobe programs read the
 * preempt count (nowhere without CONFIG_KALLSYMS_ALL).
 */
export function traceContextRulesFor(kernelRelease: string, preemption: boolean, config?: KernelContextConfig): TraceContextRules {
  const bits = TIF_BITS.find(since(kernelRelease))!.bits;
  if (!config?.kallsymsAll) return { preemption, ...bits };
  const bpfPreemptDepth = !config.preemptRcu && config.preemptCount ? 1 : 0;
  return { preemption, ...bits, preemptCount: PREEMPT_COUNT_AT.find(since(kernelRelease))!.at, bpfPreemptDepth };
}

/**
 * Without a kernel to ask (the compiler reads no files): CONFIG_PREEMPTION, as
 * Debian, Ubuntu and Fedora kernels have it (PREEMPT_DYNAMIC), and the TIF
 * bits of the kernels before 6.13 without the lazy one.
 */
export const DEFAULT_TRACE_CONTEXT_RULES: TraceContextRules = { preemption: true, tifNeedResched: 3 };
