// Dynamic perf PMUs (`kprobe`, `uprobe`) as sysfs describes them:
// /sys/bus/event_source/devices/<pmu>/type is the perf type number, and each
// file in format/ says which config bits a named parameter occupies
// ("config:0" for retprobe, "config:32-63" for ref_ctr_offset).
import { existsSync, readFileSync } from 'node:fs';
import { ProbeSetupError } from './errors.js';

export const EVENT_SOURCE_DEVICES = '/sys/bus/event_source/devices';

export interface PmuField {
  /** Which attr word: config, config1, config2. */
  readonly word: 'config' | 'config1' | 'config2';
  readonly lo: number;
  readonly hi: number;
}

export interface DynamicPmu {
  readonly name: string;
  readonly type: number;
  readonly fields: ReadonlyMap<string, PmuField>;
}

export function parsePmuField(text: string): PmuField {
  const m = /^(config[12]?):(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (!m) throw new ProbeSetupError(`unreadable PMU format '${text.trim()}'`);
  const lo = Number(m[2]);
  return { word: m[1] as PmuField['word'], lo, hi: m[3] === undefined ? lo : Number(m[3]) };
}

/** The PMU, or undefined when this kernel does not have it. */
export function readPmu(name: string, root = EVENT_SOURCE_DEVICES): DynamicPmu | undefined {
  const dir = `${root}/${name}`;
  if (!existsSync(`${dir}/type`)) return undefined;
  const type = Number(readFileSync(`${dir}/type`, 'utf8'));
  const fields = new Map<string, PmuField>();
  for (const f of ['retprobe', 'ref_ctr_offset']) {
    if (existsSync(`${dir}/format/${f}`)) fields.set(f, parsePmuField(readFileSync(`${dir}/format/${f}`, 'utf8')));
  }
  return { name, type, fields };
}

/** Places value into the field's bits; throws when the PMU lacks the field or the value does not fit. */
export function fieldBits(pmu: DynamicPmu, field: string, value: bigint): bigint {
  const f = pmu.fields.get(field);
  if (!f) throw new ProbeSetupError(`the ${pmu.name} PMU has no '${field}' parameter (${EVENT_SOURCE_DEVICES}/${pmu.name}/format/${field})`);
  if (f.word !== 'config') throw new ProbeSetupError(`${pmu.name} PMU: '${field}' is in ${f.word}, expected config`);
  const width = BigInt(f.hi - f.lo + 1);
  if (value < 0n || value >= 1n << width) throw new ProbeSetupError(`${pmu.name} PMU: ${field} value 0x${value.toString(16)} does not fit ${width} bits`);
  return value << BigInt(f.lo);
}
