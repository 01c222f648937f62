// The prefix our BPF programs put before each trace entry (compiler/format.ts:
// RECORD_PREFIX: ts, tgid, cpu, comm), decoded in one place for the ring
// readers (ordering, SampleMeta) and the printer.
import { PREFIX_CPU, PREFIX_TGID, PREFIX_TS } from '../../compiler/format.js';
import { readU64Number } from '../../lib/u64.js';

/** bpf_ktime_get_ns() of the hit, in ns. */
export function recordTime(raw: Buffer, off: number): number {
  return readU64Number(raw, off + PREFIX_TS);
}

/** CPU the program ran on. */
export function recordCpu(raw: Buffer, off: number): number {
  return raw.readUInt32LE(off + PREFIX_CPU);
}

/** Thread group (process) id of the task that hit the probe. */
export function recordTgid(raw: Buffer, off: number): number {
  return raw.readUInt32LE(off + PREFIX_TGID);
}

/** Whether a record of len bytes holds the timestamp / the CPU. */
export const hasRecordTime = (len: number): boolean => len >= PREFIX_TS + 8;
export const hasRecordCpu = (len: number): boolean => len >= PREFIX_CPU + 4;
