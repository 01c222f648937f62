// The record a probe emits and the `format` the kernel would publish for the
// same event. Compiler computes these (layout.ts); the .o carries them in its
// metadata section; the runtime decodes and prints with them.
import type { ArgType, FetchArg, ProbeDefinition } from '../grammar/ast.js';

/**
 * Every perf sample our programs emit starts with this prefix, then the
 * kernel-identical trace entry. The prefix holds what ftrace keeps outside
 * the entry (timestamp, tgid, comm at the hit) so the runtime can print the
 * same line without asking the kernel later.
 *
 *   off  size  what
 *     0     8  ktime ns at the hit (bpf_ktime_get_ns: CLOCK_MONOTONIC, as ftrace's "perf"/"mono" clock)
 *     8     4  tgid
 *    12     4  cpu (bpf_get_smp_processor_id)
 *    16    16  comm (bpf_get_current_comm)
 */
export const RECORD_PREFIX_SIZE = 32;
export const PREFIX_TS = 0;
export const PREFIX_TGID = 8;
export const PREFIX_CPU = 12;
export const PREFIX_COMM = 16;

/** One `field:` line of a format file, offsets relative to the trace entry (not the prefix). */
export interface FieldFormat {
  /** As the format file prints it: "unsigned short", "unsigned long", "u32", "__data_loc char[]", "u8[4]" ... */
  readonly ctype: string;
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly signed: boolean;
}

/** A probe argument's field plus what the printer needs to render it. */
export interface ArgField extends FieldFormat {
  readonly type: ArgType;
  readonly fetch: FetchArg;
  /** Kernel print format fragment, e.g. "arg1=0x%Lx", "s=\"%s\"", for the print fmt line. */
  readonly printFragment: string;
}

export interface EventFormat {
  readonly group: string;
  readonly event: string;
  readonly isReturn: boolean;
  /** common_type, common_flags, common_preempt_count, common_pid. */
  readonly commonFields: readonly FieldFormat[];
  /** __probe_ip, or __probe_func and __probe_ret_ip for return probes. */
  readonly probeFields: readonly FieldFormat[];
  readonly argFields: readonly ArgField[];
  /** Size of the fixed part of the trace entry; dynamic (__data_loc) data follows it. */
  readonly entrySize: number;
  /** The `print fmt:` line, exactly as the kernel writes it. */
  readonly printFmt: string;
  readonly definition: ProbeDefinition;
}
