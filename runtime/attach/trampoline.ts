// fprobe (`f`) and tracepoint probe (`t`) events: BPF programs the kernel
// calls itself — fentry/fexit through the function's BPF trampoline, tp_btf
// from the tracepoint — so there is no perf event: the program already names
// its target (attach_btf_id, resolved by libbpf from the kernel's BTF at
// load), and BPF_RAW_TRACEPOINT_OPEN with no name turns it on, returning a
// link fd that holds the attachment until closed (kernel: syscall.c
// bpf_raw_tp_link_attach -> bpf_tracing_prog_attach for tracing programs).
import type { ProbeSite } from '../../compiler/abi.js';
import { isFunctionTrampolineSection } from '../../compiler/trampoline.js';
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
 * Whether the event's program is one the kernel calls itself (fentry, fexit,
 * tp_btf): a tprobe always; a kprobe or fprobe as its section says (a kprobe
 * with BTF arguments at a function's entry or return compiles to
 * fentry/fexit, an fprobe on the fallback to kprobe/kretprobe); an fprobe
 * without a section (an older caller) on the trampoline.
 */
export function onTrampoline(def: Pick<ProbeSite, 'tracer' | 'section'>): boolean {
  if (def.tracer === 'tprobe') return true;
  if (def.tracer !== 'kprobe' && def.tracer !== 'fprobe') return false;
  return def.section !== undefined ? isFunctionTrampolineSection(def.section) : def.tracer === 'fprobe';
}

/**
 * Whether an event attaches after the others, last to first, so that the
 * programs sharing one function run in the order of the kernel's own events
 * there. Each new fentry/fexit link goes first in its trampoline's list
 * (kernel/bpf/trampoline.c __bpf_trampoline_link_prog: hlist_add_head) and
 * each new kprobe on an address first in its aggregate's list
 * (kprobes.c add_new_kprobe: list_add_rcu), while the kernel's fprobes on one
 * function run in definition order, its kprobes newest first and its
 * kretprobes in definition order (their return hooks pop last pushed first).
 * So: fprobes on fentry/fexit and fprobe entries on the kprobe fallback, and
 * kprobe returns on fexit, go last to first; everything else keeps its order
 * (a tracepoint appends each new probe: tp_btf programs run in attach order).
 */
const attachesReversed = (def: Pick<ProbeSite, 'tracer' | 'section' | 'isReturn'>): boolean => {
  if (def.tracer === 'fprobe') return onTrampoline(def) || !def.isReturn;
  return def.tracer === 'kprobe' && def.isReturn && onTrampoline(def);
};

/** The order to attach events in (attachesReversed). */
export function attachOrder<T extends { readonly def: Pick<ProbeSite, 'tracer' | 'section' | 'isReturn'> }>(events: readonly T[]): T[] {
  return [...events.filter((e) => !attachesReversed(e.def)), ...events.filter((e) => attachesReversed(e.def)).reverse()];
}

function describe(def: ProbeSite): string {
  const p = def.point;
  const where = p.kind === 'tracepoint' ? p.name : p.kind === 'function' || p.kind === 'symbol' ? `${p.module ? `${p.module}:` : ''}${p.symbol}` : `${def.group}/${def.event}`;
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
