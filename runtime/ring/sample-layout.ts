// Where, inside a PERF_RECORD_SAMPLE, each fixed-size field sits for a given
// sample_type (kernel: perf_output_sample writes them in this order, 8 bytes
// each, after the 8-byte struct perf_event_header). Only the fields the
// reader uses get an offset; the raw data comes last, as {u32 size, bytes}.
import {
  PERF_SAMPLE_ADDR,
  PERF_SAMPLE_CALLCHAIN,
  PERF_SAMPLE_CPU,
  PERF_SAMPLE_ID,
  PERF_SAMPLE_IDENTIFIER,
  PERF_SAMPLE_IP,
  PERF_SAMPLE_PERIOD,
  PERF_SAMPLE_RAW,
  PERF_SAMPLE_READ,
  PERF_SAMPLE_STREAM_ID,
  PERF_SAMPLE_TID,
  PERF_SAMPLE_TIME,
} from '../sys/perf-event.js';
import { RingLayoutError } from './errors.js';

/** struct perf_event_header: u32 type, u16 misc, u16 size. */
export const PERF_HEADER_SIZE = 8;

/** Offsets from the record start; -1 when sample_type lacks the field. */
export interface SampleLayout {
  /** u32 pid, u32 tid */
  readonly tid: number;
  /** u64 ns */
  readonly time: number;
  /** u32 size, then the raw bytes */
  readonly raw: number;
}

/** In kernel order (perf_output_sample), the fixed-size fields before PERF_SAMPLE_RAW. */
const FIXED_FIELDS = [
  PERF_SAMPLE_IDENTIFIER,
  PERF_SAMPLE_IP,
  PERF_SAMPLE_TID,
  PERF_SAMPLE_TIME,
  PERF_SAMPLE_ADDR,
  PERF_SAMPLE_ID,
  PERF_SAMPLE_STREAM_ID,
  PERF_SAMPLE_CPU,
  PERF_SAMPLE_PERIOD,
] as const;

export function sampleLayout(sampleType: number): SampleLayout {
  if (sampleType & (PERF_SAMPLE_READ | PERF_SAMPLE_CALLCHAIN)) {
    throw new RingLayoutError('perf ring: PERF_SAMPLE_READ and PERF_SAMPLE_CALLCHAIN are variable-size and not supported');
  }
  if (!(sampleType & PERF_SAMPLE_RAW)) throw new RingLayoutError('perf ring: sample_type must include PERF_SAMPLE_RAW');
  const at = new Map<number, number>();
  let off = PERF_HEADER_SIZE;
  for (const bit of FIXED_FIELDS) {
    if (!(sampleType & bit)) continue;
    at.set(bit, off);
    off += 8;
  }
  return { tid: at.get(PERF_SAMPLE_TID) ?? -1, time: at.get(PERF_SAMPLE_TIME) ?? -1, raw: off };
}
