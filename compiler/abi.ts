// The contract between a compiled object and the runtime that loads it: the
// map names the programs and the tracer share, the record prefix the programs
// write and the readers decode, the kernel's probe field names, and the
// metadata model an object carries about its events. Nothing here depends on
// the syntax tree: an object describes itself in these terms only, so the
// runtime never needs the grammar's types to trace it.

/** PERF_EVENT_ARRAY the atomic programs send their records through (one ring per CPU). */
export const EVENTS_MAP = 'events';
/** PERCPU_ARRAY whose single value is the atomic programs' record buffer. */
export const SCRATCH_MAP = 'scratch';
/** Per-CPU u64 per event id: records the program could not hand to the ring (the profile's misses). */
export const MISSES_MAP = 'misses';
/** Per-CPU u64 per event id: hits the event's filter dropped (the profile counts them as hits, as the kernel does). */
export const FILTERED_MAP = 'filtered';
/** ARRAY of one u32 in programs compiled for -p/-c: the tgid they record (0: every process), written by the runtime before attaching. */
export const SCOPE_MAP = 'scope';
/** HASH of the -c command's descendants (tgid -> 1), filled by SCOPE_FORK_PROGRAM as they fork. */
export const SCOPE_KIDS_MAP = 'scope_kids';
/** How many descendants SCOPE_KIDS_MAP holds; a process forked past that many is not followed (threads count too). */
export const SCOPE_KIDS_MAX = 16384;
/** The program on sched:sched_process_fork that adds a scoped process's children to SCOPE_KIDS_MAP. */
export const SCOPE_FORK_PROGRAM = 'scope_fork';
/** Its libbpf section (a tracepoint program; the runtime attaches it itself). */
export const SCOPE_FORK_SECTION = 'tracepoint/sched/sched_process_fork';
/**
 * TASK_STORAGE whose value is a sleepable program's record buffer: one per
 * traced task, since a per-CPU one could be reused by another task on the CPU
 * while this one sleeps on a page fault.
 */
export const TASK_SCRATCH_MAP = 'task_scratch';
/** BPF_MAP_TYPE_RINGBUF sleepable programs copy their records into, each at its used length (one ring for every CPU). */
export const RINGBUF_MAP = 'records';
/**
 * Its largest size (a power-of-two multiple of the page size, kernel:
 * ringbuf_map_alloc): 4 MiB hold about a thousand records with a full-size
 * string each (records take their used length). An object compiled without
 * knowing the CPUs it runs on has this size.
 */
export const RINGBUF_BYTES = 4 << 20;
/** Its smallest size when sized to the records (ringbufBytes). */
export const RINGBUF_MIN_BYTES = 1 << 20;
/** Records of the largest event (its strings at their expected length: compiler/object.ts) the ring holds per CPU that can produce into it. */
export const RINGBUF_RECORDS_PER_CPU = 2048;

/**
 * The ring for records of at most `recordBytes` made on `cpus` CPUs: room
 * for RINGBUF_RECORDS_PER_CPU of them per CPU, a power of two from
 * RINGBUF_MIN_BYTES to RINGBUF_BYTES. The kernel maps (and so counts in the
 * tracer's RSS) every page of it, so a ring of small records stays small:
 * 1 MiB hold ~14,000 records of one integer argument, ~70 ms of one uprobe
 * at its top rate, where the reader is woken each quarter.
 */
export function ringbufBytes(recordBytes: number, cpus: number): number {
  const want = recordBytes * RINGBUF_RECORDS_PER_CPU * Math.max(1, cpus);
  let bytes = RINGBUF_MIN_BYTES;
  while (bytes < want && bytes < RINGBUF_BYTES) bytes *= 2;
  return bytes;
}

/** enum trace_flag_type (kernel/trace/trace.h): the bits of an entry's common_flags, set by the program, read by the printer. */
export const TRACE_FLAG = {
  IRQS_OFF: 0x01,
  NEED_RESCHED_LAZY: 0x02,
  NEED_RESCHED: 0x04,
  HARDIRQ: 0x08,
  SOFTIRQ: 0x10,
  PREEMPT_RESCHED: 0x20,
  NMI: 0x40,
  BH_OFF: 0x80,
} as const;

/** kernel: TASK_COMM_LEN, the bytes of a task's comm including its NUL. */
export const TASK_COMM_LEN = 16;

/**
 * Every record our programs emit starts with this prefix, then the
 * kernel-identical trace entry. The prefix holds what ftrace keeps outside
 * the entry (timestamp, tgid, comm at the hit) so the runtime can print the
 * same line without asking the kernel later.
 *
 *   off  size  what
 *     0     8  ktime ns at the hit (bpf_ktime_get_ns: CLOCK_MONOTONIC, as ftrace's "perf"/"mono" clock)
 *     8     4  tgid
 *    12     4  cpu (bpf_get_smp_processor_id)
 *    16    16  comm (bpf_get_current_comm, TASK_COMM_LEN)
 */
export const RECORD_PREFIX_SIZE = 32;
export const PREFIX_TS = 0;
export const PREFIX_TGID = 8;
export const PREFIX_CPU = 12;
export const PREFIX_COMM = 16;

/** Field names the kernel gives the probe address fields (kernel: trace_probe.h FIELD_STRING_*). */
export const FIELD_STRING_IP = '__probe_ip';
export const FIELD_STRING_RETIP = '__probe_ret_ip';
export const FIELD_STRING_FUNC = '__probe_func';

/** The section of an object written by `kprobe-bpf compile` that holds its ObjectMetadata. */
export const METADATA_SECTION = '.kprobe_bpf.events';
/** Raised whenever ObjectMetadata changes shape: an object of another version is refused, not misread. */
export const METADATA_VERSION = 3;

/** Which kernel tracer an event belongs to (eprobe: dynamic_events' `e` events; fprobe/tprobe: its `f` and `t` events). */
export type ProbeTracer = 'kprobe' | 'uprobe' | 'eprobe' | 'fprobe' | 'tprobe';

/**
 * How one value of an argument prints (the kernel's fetch type names,
 * trace_probe.c probe_fetch_types[]), and the bytes each element occupies in
 * the entry (strings are a u32 __data_loc).
 */
export const PRINT_KIND_SIZE = {
  u8: 1, u16: 2, u32: 4, u64: 8,
  s8: 1, s16: 2, s32: 4, s64: 8,
  x8: 1, x16: 2, x32: 4, x64: 8,
  char: 1, symbol: 8,
  string: 4, ustring: 4, symstr: 4,
} as const;
export type PrintKind = keyof typeof PRINT_KIND_SIZE;
export const PRINT_KINDS = Object.keys(PRINT_KIND_SIZE) as readonly PrintKind[];

/**
 * The largest per-CPU map value the kernel allows (PCPU_MIN_UNIT_SIZE): a
 * record, prefix included, is built in one, so no record is larger.
 */
export const SCRATCH_VALUE_MAX = 32768;

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
  /** How each element prints. */
  readonly print: PrintKind;
  /** Element count of a TYPE[N] field; absent for a scalar. */
  readonly count?: number;
  /** Kernel print format fragment, e.g. "arg1=0x%Lx", "s=\"%s\"", for the print fmt line. */
  readonly printFragment: string;
}

/** An event's trace entry and `format` file, as the kernel would publish them. */
export interface EventFormat {
  readonly group: string;
  readonly event: string;
  readonly tracer: ProbeTracer;
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
  /** eprobes: the event attached to, printed in each line as `(SYSTEM.EVENT)`. */
  readonly attached?: { readonly system: string; readonly event: string };
}

/** Where a probe sits, as the attach code needs it. */
export type ProbePlace =
  /** kprobe [MOD:]SYM[+offs] */
  | { readonly kind: 'symbol'; readonly module?: string; readonly symbol: string; readonly offset: bigint }
  /** kprobe MEMADDR */
  | { readonly kind: 'address'; readonly address: bigint }
  /** uprobe PATH:OFFSET[(REF_CTR_OFFSET)] */
  | { readonly kind: 'file'; readonly path: string; readonly offset: bigint; readonly refCtrOffset?: bigint }
  /** uprobe PATH:SYMBOL[+offs], resolved to a file offset when attached */
  | { readonly kind: 'file-symbol'; readonly path: string; readonly symbol: string; readonly offset: bigint; readonly refCtrOffset?: bigint }
  /** eprobe: the trace event SYSTEM/EVENT whose tracepoint the program runs on */
  | { readonly kind: 'event'; readonly system: string; readonly event: string }
  /** fprobe [MOD:]SYM: a function's entry or exit, through the BPF trampoline (fentry/fexit) */
  | { readonly kind: 'function'; readonly module?: string; readonly symbol: string }
  /** tprobe TRACEPOINT: the tracepoint's raw arguments (tp_btf) */
  | { readonly kind: 'tracepoint'; readonly name: string };

/** What attaching a probe needs: its tracer, direction, name and place. */
export interface ProbeSite {
  readonly tracer: ProbeTracer;
  readonly isReturn: boolean;
  readonly group: string;
  readonly event: string;
  readonly point: ProbePlace;
  /** Return kprobes only: r<N>; absent means the kernel's default. */
  readonly maxactive?: number;
  /**
   * The program's libbpf section, when the object says: a kprobe may run as
   * an fentry/fexit program and an fprobe as a kprobe/kretprobe one
   * (compiler/lower.ts programKindOf), and the attachment follows the program.
   */
  readonly section?: string;
}

/** One event of an object: its program, how to attach it, how to print its records. */
export interface EventMetadata {
  /** The value the program writes into common_type: the record's event. */
  readonly id: number;
  /** Program (function) name and its section in the object. */
  readonly program: string;
  readonly section: string;
  /** BPF_F_SLEEPABLE: the program sends through RINGBUF_MAP, and a kernel before 6.0 refuses it. */
  readonly sleepable: boolean;
  /** Bytes reserved per string in the record's dynamic area. */
  readonly maxStringSize: number;
  /** The definition as the kernel reads it back (kprobe_events / uprobe_events). */
  readonly definition: string;
  /** Where the probe sits; its tracer, direction and name are the format's. */
  readonly place: ProbePlace;
  /** Return kprobes only: r<N>. */
  readonly maxactive?: number;
  /** Return kprobes with entry arguments: the program attached at the function's entry to save them. */
  readonly entryProgram?: string;
  readonly format: EventFormat;
  /** The event's filter as its `filter` file reads back (version 3); absent when it has none. */
  readonly filter?: string;
}

/**
 * The --trigger writes an object was compiled with, in order (`GRP/EVENT:TRIGGER`),
 * and the kernel release their language was read as: `trace OBJ.o` reads
 * them again against the events' definitions to print the hist tables the
 * programs fill (the numbering of the hist maps follows from the order).
 */
export interface TriggerWrites {
  readonly kernel?: string;
  readonly writes: readonly string[];
}

export interface ObjectMetadata {
  readonly version: number;
  readonly events: readonly EventMetadata[];
  /** Absent without --trigger (an optional addition: objects without it read as before). */
  readonly triggers?: TriggerWrites;
}
