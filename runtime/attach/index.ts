// runtime/attach: probe kinds behind one interface. attachProbe() picks the
// kind from the definition's tracer; each kind knows its PMU and fallback.
import type { ProbeSite } from '../../compiler/abi.js';
import { LINUX_ERRNO } from '../../lib/errno.js';
import { SysError } from '../sys/index.js';
import { AttachError, type AttachOp } from './errors.js';
import { attachKprobe, kprobeTarget } from './kprobe.js';
import type { ProbeAttachment, Scope } from './probe.js';
import { attachUprobe, uprobeTarget } from './uprobe.js';
import { UprobeMultiLink } from './uprobe-multi.js';
import { UprobeGroupLink, type GroupMember } from './uprobe-group.js';
import { attachTracepoint } from './tracepoint.js';
import { attachTracing, onTrampoline } from './trampoline.js';

/** How a loaded program is to be attached, when its kind has more than one way. */
export interface AttachHow {
  /** The program was loaded for BPF_TRACE_UPROBE_MULTI (LoadedProgram.uprobeMulti): a uprobe_multi link, not a perf event. */
  readonly uprobeMulti?: boolean;
}

export interface ProbeKind {
  attach(def: ProbeSite, scope: Scope, how: AttachHow): ProbeAttachment;
}

export const PROBE_KINDS: Readonly<Record<ProbeSite['tracer'], ProbeKind>> = {
  uprobe: {
    attach: (def, scope, how) => (how.uprobeMulti ? new UprobeMultiLink([uprobeTarget(def)], scope.pid) : attachUprobe(uprobeTarget(def), scope)),
  },
  // a kprobe with BTF arguments at a function's entry or return may be an fentry/fexit program (the
  // section says), and an fprobe a kprobe/kretprobe one on the fallback (runtime/attach/trampoline.ts)
  kprobe: { attach: (def, scope) => (onTrampoline(def) ? attachTracing(def) : attachKprobe(kprobeTarget(def), scope)) },
  eprobe: { attach: (def, scope) => attachTracepoint(def, scope) },
  // the program is its own attachment (a BPF link); a scope is the program's own check (trace -p/-c compile scoped)
  fprobe: { attach: (def, scope) => (onTrampoline(def) ? attachTracing(def) : attachKprobe(kprobeTarget(def), scope)) },
  tprobe: { attach: (def) => attachTracing(def) },
};

/** Opens the probe's perf event(s), disabled; the caller sets the BPF program, then enables. */
export function attachProbe(def: ProbeSite, scope: Scope = {}, how: AttachHow = {}): ProbeAttachment {
  return PROBE_KINDS[def.tracer].attach(def, scope, how);
}

/** Runs one attach step; a refused system call becomes an AttachError naming the step. */
function attachStep(a: ProbeAttachment, op: AttachOp, step: () => void): void {
  try {
    step();
  } catch (e) {
    if (e instanceof SysError) throw new AttachError(op, a.description, e.errno, e.message, { cause: e });
    throw e;
  }
}

/**
 * Opens, attaches progFd, enables; closes again if any step fails. A program
 * that was never loaded (fd < 0) is refused before any perf event is opened.
 */
export function attachBpfProbe(def: ProbeSite, progFd: number, scope: Scope = {}, how: AttachHow = {}): ProbeAttachment {
  if (progFd < 0) {
    throw new AttachError('PERF_EVENT_IOC_SET_BPF', `${def.tracer} ${def.group}/${def.event}`, LINUX_ERRNO.EBADF, `${def.group}/${def.event}: no loaded BPF program to attach (fd ${progFd})`);
  }
  const a = attachProbe(def, scope, how);
  try {
    attachStep(a, 'PERF_EVENT_IOC_SET_BPF', () => a.setBpf(progFd));
    attachStep(a, 'PERF_EVENT_IOC_ENABLE', () => a.enable());
    return a;
  } catch (e) {
    a.close();
    throw e;
  }
}

/**
 * One uprobe_multi link for several events' programs (uprobe-group.ts), or a
 * link each where the kernel refuses the dispatcher; closes again if the link fails.
 */
export function attachUprobeGroup(members: readonly GroupMember[], scope: Scope = {}): UprobeGroupLink {
  const a = new UprobeGroupLink(members, scope.pid);
  try {
    attachStep(a, 'PERF_EVENT_IOC_ENABLE', () => a.enable());
    return a;
  } catch (e) {
    a.close();
    throw e;
  }
}

export { AttachError, ProbeSetupError, type AttachOp } from './errors.js';
export { AttachRegistry } from './registry.js';
export { KprobesUnsupportedError, attachKprobe, kprobeSupportProblem, kprobeTarget } from './kprobe.js';
export { PerfProbe, type ProbeAttachment, type ProbeKindName, type Scope } from './probe.js';
export { attachUprobe, describeUprobe, uprobeTarget, type UprobeTarget } from './uprobe.js';
export { UPROBE_MULTI_ENV, UprobeMultiLink, uprobeMultiProblem } from './uprobe-multi.js';
export { UPROBE_GROUP_ENV, UprobeGroupLink, planUprobeLinks, uprobeGroupsWanted, type GroupMember } from './uprobe-group.js';
export { readPmu, type DynamicPmu } from './pmu.js';
export { attachTracepoint, tracepointId } from './tracepoint.js';
export { TracingLink, attachOrder, attachTracing, onTrampoline, openTracingLink, trampolineKind } from './trampoline.js';
