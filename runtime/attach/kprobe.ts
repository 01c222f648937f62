// kprobes and kretprobes through the `kprobe` perf PMU (config1 = symbol
// name, config2 = offset, or config1 = 0 and config2 = address; retprobe bit
// from sysfs), else through tracefs kprobe_events — always so when maxactive
// is asked for, which the PMU cannot carry. A kernel without kprobes (no PMU,
// no kprobe_events: CONFIG_KPROBES / CONFIG_KPROBE_EVENTS off) gets a message
// that says so.
import type { ProbeSite } from '../../compiler/abi.js';
import { EVENT_SOURCE_DEVICES, fieldBits, readPmu, type DynamicPmu } from './pmu.js';
import { openPmuProbe, type ProbeAttachment, type Scope } from './probe.js';
import { attachTracefsProbe, tracefsRoot } from './tracefs-probe.js';
import { existsSync } from 'node:fs';
import { KprobeBpfError } from '../../lib/errors.js';
import { ProbeSetupError } from './errors.js';

export interface KprobeTarget {
  /** SYM or MOD:SYM; absent for an address probe. */
  readonly symbol?: string;
  readonly address?: bigint;
  readonly offset: bigint;
  readonly isReturn: boolean;
  readonly maxactive?: number;
}

/** This kernel cannot attach kprobes (CONFIG_KPROBES off, no kprobe PMU or kprobe_events). */
export class KprobesUnsupportedError extends KprobeBpfError {}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

export function kprobeTarget(def: ProbeSite): KprobeTarget {
  const p = def.point;
  const ma = def.maxactive !== undefined ? { maxactive: def.maxactive } : {};
  if (p.kind === 'symbol') return { symbol: p.module ? `${p.module}:${p.symbol}` : p.symbol, offset: p.offset, isReturn: def.isReturn, ...ma };
  if (p.kind === 'address') return { address: p.address, offset: 0n, isReturn: def.isReturn, ...ma };
  // an fprobe on the kprobe fallback: the function's entry (a kprobe there sits at the ftrace site) or return
  if (p.kind === 'function') return { symbol: p.module ? `${p.module}:${p.symbol}` : p.symbol, offset: 0n, isReturn: def.isReturn, ...ma };
  throw new ProbeSetupError(`kprobe ${def.group}/${def.event}: probe point is not [MOD:]SYM[+offs], MEMADDR or an fprobe's function`);
}

export function describeKprobe(t: KprobeTarget): string {
  if (t.symbol === undefined) return hex(t.address ?? 0n);
  return t.offset ? `${t.symbol}+${t.offset}` : t.symbol;
}

/** Why kprobes cannot be attached here, or undefined when they can. */
export function kprobeSupportProblem(pmu: DynamicPmu | undefined = readPmu('kprobe')): string | undefined {
  if (pmu) return undefined;
  const root = tracefsRoot();
  if (root && existsSync(`${root}/kprobe_events`)) return undefined;
  return (
    `this kernel has no kprobe support: no kprobe PMU (${EVENT_SOURCE_DEVICES}/kprobe) and no ` +
    `${root ?? '/sys/kernel/tracing'}/kprobe_events — it was built without CONFIG_KPROBES (and CONFIG_KPROBE_EVENTS)`
  );
}

export function attachKprobe(t: KprobeTarget, scope: Scope = {}, pmu: DynamicPmu | undefined = readPmu('kprobe')): ProbeAttachment {
  const kind = t.isReturn ? 'kretprobe' : 'kprobe';
  const where = describeKprobe(t);
  const problem = kprobeSupportProblem(pmu);
  if (problem) throw new KprobesUnsupportedError(`${kind} ${where}: ${problem}`);
  if (!pmu || t.maxactive !== undefined) {
    const command = t.isReturn ? `r${t.maxactive ?? ''}` : 'p';
    return attachTracefsProbe({ tracer: 'kprobe', kind, command, point: where, base: t.symbol?.replace(/^.*:/, '') ?? 'addr' }, scope);
  }
  return openPmuProbe(kind, where, scope, {
    type: pmu.type,
    config: t.isReturn ? fieldBits(pmu, 'retprobe', 1n) : 0n,
    // a symbol goes by name (config1) and offset, an address alone in config2
    ...(t.symbol !== undefined ? { config1String: t.symbol, config2: t.offset } : { config2: t.address ?? 0n }),
  });
}
