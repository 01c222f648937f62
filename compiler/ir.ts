// The IR: one fetch program per argument, in the kernel's own stages
// (kernel/trace/trace_probe.h: enum fetch_op): load a value, dereference it
// zero or more times, store it into the record, adjust a bitfield, repeat for
// arrays. Codegen turns each into BPF; nothing here knows about BPF.
import type { RegName } from '../grammar/ast.js';
import type { EventFormat, ProbePlace } from './abi.js';
import type { CheckedFilter } from '../grammar/filter/index.js';
import type { CoreAccess } from '../bpf/btf-core.js';
import type { EntryData } from './entry-data.js';

/** Which helper family a memory access goes through. */
export type MemSpace =
  /** kprobe default: the kernel picks user or kernel by address (probe_mem_read on x86). */
  | 'auto'
  | 'kernel'
  | 'user';

/** Stage 1: where the first value comes from. */
export type FetchSource =
  | { readonly op: 'reg'; readonly reg: RegName; readonly ptRegsOffset: number }
  | { readonly op: 'imm'; readonly value: bigint }
  /** Address of a kernel symbol, resolved at load time through a __ksym extern. */
  | { readonly op: 'ksym'; readonly symbol: string; readonly offset: bigint }
  /** @+FILE_OFFS: the address in the probed process that the file offset maps to. */
  | { readonly op: 'foffs'; readonly fileOffset: bigint; readonly probeFileOffset: bigint }
  | { readonly op: 'comm' }
  | { readonly op: 'immstr'; readonly value: string }
  /** eprobe $FIELD: a field of the attached event's raw record (compiler/eprobe.ts). */
  | EventFieldSource
  /** fentry/fexit/tp_btf: a u64 slot of the program's context (an argument, fexit's return value). */
  | { readonly op: 'ctx'; readonly offset: number }
  /** A return kprobe's entry argument, saved at entry and copied to this stack slot (compiler/entry-data.ts). */
  | { readonly op: 'entry-word'; readonly slot: number };

/**
 * kernel: get_event_field — a string field gives its address (a
 * `char *` field, its first char: the kernel's reading), any other field its
 * value, 1, 2 or 4 bytes with the field's signedness, else 8.
 */
export interface EventFieldSource {
  readonly op: 'event-field';
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly signed: boolean;
  readonly string?: 'dynamic' | 'relative' | 'static' | 'pointer';
}

/**
 * Where an eprobe program keeps a copy of the attached event's raw record
 * (the tracepoint's ctx) in its scratch value: its fields and `if` filter are
 * read there, as plain memory.
 */
export interface RawRecordCopy {
  /** Offset from the scratch value's start; 32 bytes before it hold a prefix (cpu, comm) for the filter. */
  readonly offset: number;
  /** Bytes copied: the fixed fields, plus room for dynamic strings when they are read. */
  readonly size: number;
  /** Bytes of dynamic data a string field can have and still be read whole. */
  readonly dynamicWindow: number;
}

/** Stage 2: val = *(unsigned long *)(val + offset). */
export interface Deref {
  readonly offset: bigint;
  readonly space: MemSpace;
  /** A struct member's offset, relocated by libbpf to the running kernel's layout (CO-RE). */
  readonly core?: CoreAccess;
}

/** Stage 3: how the value lands in the record. */
export type StoreOp =
  /** The value itself, truncated to size. */
  | { readonly op: 'raw'; readonly size: number }
  /** size bytes read from val + offset (the last dereference of a non-string). */
  | { readonly op: 'mem'; readonly offset: bigint; readonly size: number; readonly space: MemSpace; readonly core?: CoreAccess }
  /**
   * NUL-terminated string at val + offset, into dynamic data behind a __data_loc.
   * With a count (TYPE[N]) val + offset is an array of char * instead, one string each.
   */
  | { readonly op: 'string'; readonly offset: bigint; readonly space: MemSpace; readonly core?: CoreAccess }
  /** $comm: the current task's comm, as a string. */
  | { readonly op: 'comm' }
  /**
   * \"imm": a constant string. uprobes fetch it as a user-space string from a
   * kernel address, so the kernel always records (fault) there: `readable` false.
   */
  | { readonly op: 'immstr'; readonly value: string; readonly readable: boolean }
  /** symstr: the address, stored in dynamic data; the runtime symbolizes it (kallsyms is not reachable from BPF). */
  | { readonly op: 'symstr' };

/** Stage 4 (kernel: FETCH_OP_MOD_BF): v = (v << lshift) >> rshift in the container's width. */
export interface BitfieldOp {
  readonly containerSize: number;
  readonly lshift: number;
  readonly rshift: number;
}

export interface FetchProgram {
  readonly argName: string;
  /** The argument's source text after `NAME=` (the kernel's `comm` of an arg), for annotations and error mapping. */
  readonly argText: string;
  readonly source: FetchSource;
  readonly derefs: readonly Deref[];
  readonly store: StoreOp;
  readonly bitfield?: BitfieldOp;
  /** Stage 5: element count for TYPE[N]. */
  readonly count?: number;
  /** Offset of the field within the trace entry. */
  readonly fieldOffset: number;
  /** Size of one stored element (4 for a __data_loc). */
  readonly elemSize: number;
}

export type ProbeIpSource =
  /** return kprobes: the probed function's address, known at load time (symbol + offset). */
  | { readonly op: 'ksym'; readonly symbol: string; readonly offset: bigint }
  | { readonly op: 'imm'; readonly value: bigint }
  /** uprobes: the instruction pointer at the hit is the probed address. */
  | { readonly op: 'reg-ip' }
  /**
   * kprobes on entry: where the kernel's kprobe really sits (kp->addr, which
   * ftrace prints), the instruction pointer minus the breakpoint's size. An
   * IBT kernel puts a probe on a function starting with ENDBR 4 bytes in, so
   * the symbol's address is not it there.
   */
  | { readonly op: 'kprobe-addr' }
  /** return probes: the probed function's address as the kernel reports it (bpf_get_func_ip). */
  | { readonly op: 'func-ip' }
  /**
   * fprobe and tprobe events: the function's ftrace site, what the kernel's
   * fprobe reports (the symbol, +4 past an ENDBR on an IBT kernel). From
   * bpf_get_func_ip (fentry/fexit: the traced function's address) or a
   * kernel symbol (a tracepoint's __probestub_TP), moved past an ENDBR64
   * read at that address.
   */
  | { readonly op: 'ftrace-site'; readonly base: 'func-ip' }
  | { readonly op: 'ftrace-site'; readonly base: 'ksym'; readonly symbol: string };

/** __probe_ret_ip of a return probe. */
export type ProbeRetIpSource =
  /** kretprobe/uretprobe: the ip register at the return is the caller's return address. */
  | { readonly op: 'reg-ip' }
  /**
   * fexit: the traced function's caller's return address, read from the
   * trampoline's frame at this byte offset from ctx (above the saved rbp and
   * the trampoline's own return address into the function).
   */
  | { readonly op: 'trampoline-frame'; readonly ctxOffset: number; readonly rethook?: RethookLayout };

/**
 * Where the kernel's return hooks keep a return address they replaced
 * (kernel: struct rethook_node on current->rethooks, pushed by a kretprobe or
 * fprobe exit on the same function): byte offsets, from the kernel's BTF.
 */
export interface RethookLayout {
  /** task_struct.rethooks (a struct llist_head: its `first` at 0). */
  readonly taskRethooks: number;
  /** rethook_node.llist, .ret_addr and .frame. */
  readonly nodeLlist: number;
  readonly nodeRetAddr: number;
  readonly nodeFrame: number;
}

export interface ProbeProgram {
  readonly name: string;
  /** The definition as the kernel reads it back, for the object's metadata and error messages. */
  readonly definition: string;
  /** Where the probe attaches. */
  readonly place: ProbePlace;
  /** Return kprobes only: r<N>. */
  readonly maxactive?: number;
  /** libbpf section name: kprobe/SYM, kretprobe/SYM, uprobe/..., uretprobe/... */
  readonly section: string;
  readonly format: EventFormat;
  /** __probe_ip (or __probe_func). */
  readonly probeIp: ProbeIpSource;
  /** Return probes: __probe_ret_ip (absent: the ip register). */
  readonly retIp?: ProbeRetIpSource;
  /** Return kprobes with entry arguments: what the entry program saves (compiler/entry-data.ts). */
  readonly entryData?: EntryData;
  /** What r1 points at when the program starts: pt_regs (kprobe, uprobe) or the trampoline's u64 slots (fentry, fexit, tp_btf). */
  readonly context: 'pt_regs' | 'slots';
  readonly fetches: readonly FetchProgram[];
  /** Bytes reserved for each string in the dynamic area. */
  readonly maxStringSize: number;
  /**
   * A sleepable uprobe program (BPF_F_SLEEPABLE, section uprobe.s/...): user
   * memory is read with faulting copies, as the kernel's own uprobe fetch does
   * (trace_uprobe.c: copy_from_user / strncpy_from_user), so pages the process
   * has not touched yet read like the kernel reads them. kprobes never are.
   */
  readonly sleepable: boolean;
  /**
   * Records go to the BPF ring buffer at their used length (bpf_ringbuf_output):
   * every uprobe program unless sleepable programs were turned off (a kernel
   * before 6.0 may have no ring buffer: those send through the perf rings, as
   * kprobes do). The perf rings' per-CPU 4 KiB sample pages lost events at one
   * uprobe's top rate; the ring buffer did not (issue 13).
   */
  readonly ringbuf: boolean;
  /** eprobes: the attached event's record copy, and its `if` filter. */
  readonly attached?: { readonly raw: RawRecordCopy; readonly filter?: CheckedFilter };
}
