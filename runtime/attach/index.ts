// runtime/attach: probe kinds behind one interface. attachProbe() picks the
// kind from the definition's tracer; each kind knows its PMU and fallback.
import type { ProbeSite } from '../../compiler/abi.js';
import { attachKprobe, kprobeTarget } from './kprobe.js';
import type { ProbeAttachment, Scope } from './probe.js';
import { attachUprobe, uprobeTarget } from './uprobe.js';

export interface ProbeKind {
  attach(def: ProbeSite, scope: Scope): ProbeAttachment;
}

export const PROBE_KINDS: Readonly<Record<ProbeSite['tracer'], ProbeKind>> = {
  uprobe: { attach: (def, scope) => attachUprobe(uprobeTarget(def), scope) },
  kprobe: { attach: (def, scope) => attachKprobe(kprobeTarget(def), scope) },
};

/** Opens the probe's perf event(s), disabled; the caller sets the BPF program, then enables. */
export function attachProbe(def: ProbeSite, scope: Scope = {}): ProbeAttachment {
  return PROBE_KINDS[def.tracer].attach(def, scope);
}

/** Opens, attaches progFd, enables; closes again if any step fails. */
export function attachBpfProbe(def: ProbeSite, progFd: number, scope: Scope = {}): ProbeAttachment {
  const a = attachProbe(def, scope);
  try {
    a.setBpf(progFd);
    a.enable();
    return a;
  } catch (e) {
    a.close();
    throw e;
  }
}

export { AttachRegistry } from './registry.js';
export { KprobesUnsupportedError, attachKprobe, kprobeSupportProblem, kprobeTarget } from './kprobe.js';
export { PerfProbe, type ProbeAttachment, type ProbeKindName, type Scope } from './probe.js';
export { attachUprobe, describeUprobe, uprobeTarget, type UprobeTarget } from './uprobe.js';
export { readPmu, type DynamicPmu } from './pmu.js';
