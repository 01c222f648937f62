// fprobe (`f`) and tracepoint probe (`t`) events: BPF programs the kernel
// calls itself — fentry/fexit through the function's BPF trampoline, tp_btf
// from the tracepoint — so there is no perf event: the program already names
// its target (attach_btf_id, resolved by libbpf from the kernel's BTF at
// load), and BPF_RAW_TRACEPOINT_OPEN with no name turns it on, returning a
// link fd that holds the attachment until closed (kernel: syscall.c
// bpf_raw_tp_link_attach -> bpf_tracing_prog_attach for tracing programs).
import type { ProbeSite } from '../../compiler/abi.js';
import { bpf } from '../sys/bpf.js';
import { BpfLinkAttachment, type ProbeAttachment, type ProbeKindName } from './probe.js';

/** uapi/linux/bpf.h: enum bpf_cmd. */
const BPF_RAW_TRACEPOINT_OPEN = 17;
/** union bpf_attr's raw_tracepoint: { __u64 name; __u32 prog_fd; __u32 pad; __u64 cookie; } */
const RAW_TRACEPOINT_ATTR_SIZE = 24;

/** The program kind a trampoline-or-tracepoint site is attached as. */
export function trampolineKind(def: ProbeSite): ProbeKindName {
  if (def.tracer === 'tprobe') return 'tp_btf';
  return def.isReturn ? 'fexit' : 'fentry';
}

/**
 * The order to attach events in so that programs sharing a trampoline run in
 * definition order, as the kernel's own fprobes on one function do: each new
 * fentry/fexit link goes first in its trampoline's list (kernel/bpf/trampoline.c
 * __bpf_trampoline_link_prog: hlist_add_head), so fprobe events attach last
 * to first. Everything else keeps its order (a tracepoint appends each new
 * probe: tp_btf programs run in attach order).
 */
export function attachOrder<T extends { readonly def: Pick<ProbeSite, 'tracer'> }>(events: readonly T[]): T[] {
  return [...events.filter((e) => e.def.tracer !== 'fprobe'), ...events.filter((e) => e.def.tracer === 'fprobe').reverse()];
}

function describe(def: ProbeSite): string {
  const p = def.point;
  const where = p.kind === 'tracepoint' ? p.name : p.kind === 'function' ? `${p.module ? `${p.module}:` : ''}${p.symbol}` : `${def.group}/${def.event}`;
  return `${trampolineKind(def)} ${where}`;
}

/** bpf(BPF_RAW_TRACEPOINT_OPEN) with name NULL: attaches the loaded program to the target it was loaded for. */
export function openTracingLink(progFd: number, what: string): number {
  const attr = new Uint8Array(RAW_TRACEPOINT_ATTR_SIZE);
  new DataView(attr.buffer).setUint32(8, progFd, true);
  return bpf(BPF_RAW_TRACEPOINT_OPEN, attr, `BPF_RAW_TRACEPOINT_OPEN ${what}`);
}

/** An fentry/fexit/tp_btf program's attachment: the link BPF_RAW_TRACEPOINT_OPEN makes. */
export class TracingLink extends BpfLinkAttachment {
  constructor(def: ProbeSite) {
    super(trampolineKind(def), describe(def));
  }

  protected openLink(progFd: number): number {
    return openTracingLink(progFd, this.description);
  }
}

export function attachTracing(def: ProbeSite): ProbeAttachment {
  return new TracingLink(def);
}
