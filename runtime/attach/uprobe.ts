// uprobes and uretprobes through the `uprobe` perf PMU (kernel/events/core.c
// perf_uprobe_init): attr.type from sysfs, config carries the retprobe bit and
// the reference counter offset (bits from format/), config1 points at the
// path, config2 is the probe's file offset — PATH:OFFSET exactly as
// uprobe_events means it. Our PATH:SYMBOL[+off] becomes that offset through
// the ELF symbol tables. Falls back to tracefs uprobe_events when the PMU is
// missing.
import { resolve as resolvePath } from 'node:path';
import type { ProbeSite } from '../../compiler/abi.js';
import { ElfSymbols } from '../elf-symbols.js';
import { fieldBits, readPmu, type DynamicPmu } from './pmu.js';
import { openPmuProbe, type ProbeAttachment, type Scope } from './probe.js';
import { attachTracefsProbe } from './tracefs-probe.js';
import { ProbeSetupError } from './errors.js';

export interface UprobeTarget {
  readonly path: string;
  /** File offset of the probed instruction. */
  readonly offset: bigint;
  readonly isReturn: boolean;
  /** File offset of the USDT semaphore the kernel increments while the probe is on. */
  readonly refCtrOffset?: bigint;
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

/** The kernel-meaning target of a uprobe definition (PATH:SYMBOL resolved to PATH:OFFSET). */
export function uprobeTarget(def: ProbeSite): UprobeTarget {
  const p = def.point;
  if (p.kind === 'file') return { path: resolvePath(p.path), offset: p.offset, isReturn: def.isReturn, ...(p.refCtrOffset !== undefined ? { refCtrOffset: p.refCtrOffset } : {}) };
  if (p.kind === 'file-symbol') {
    const path = resolvePath(p.path);
    const offset = new ElfSymbols(path).resolve(p.symbol, p.offset);
    return { path, offset, isReturn: def.isReturn, ...(p.refCtrOffset !== undefined ? { refCtrOffset: p.refCtrOffset } : {}) };
  }
  throw new ProbeSetupError(`uprobe ${def.group}/${def.event}: probe point is not PATH:OFFSET or PATH:SYMBOL`);
}

export function describeUprobe(t: UprobeTarget): string {
  return `${t.path}:${hex(t.offset)}${t.refCtrOffset !== undefined ? `(${hex(t.refCtrOffset)})` : ''}`;
}

export function attachUprobe(t: UprobeTarget, scope: Scope = {}, pmu: DynamicPmu | undefined = readPmu('uprobe')): ProbeAttachment {
  const kind = t.isReturn ? 'uretprobe' : 'uprobe';
  const where = describeUprobe(t);
  if (!pmu) {
    return attachTracefsProbe({ tracer: 'uprobe', kind, command: t.isReturn ? 'r' : 'p', point: where, base: 'uprobe' }, scope);
  }
  let config = t.isReturn ? fieldBits(pmu, 'retprobe', 1n) : 0n;
  if (t.refCtrOffset !== undefined) config |= fieldBits(pmu, 'ref_ctr_offset', t.refCtrOffset);
  return openPmuProbe(kind, where, scope, { type: pmu.type, config, config1String: t.path, config2: t.offset });
}
