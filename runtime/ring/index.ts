// runtime/ring: reading what the BPF programs and the kernel write into
// shared memory. The readers (perf-ring.ts, ring-buffer.ts) and the merge
// work over plain views and are tested without a kernel; mmap.ts and
// perf-reader.ts own the kernel side (perf events, mappings, epoll).
export { PERF_RECORD_LOST, PERF_RECORD_SAMPLE, PerfRing, type PerfRingOptions, type PerfRingViews } from './perf-ring.js';
export { RingBuffer, type RingBufferOptions, type RingBufferViews } from './ring-buffer.js';
export { RingLayoutError } from './errors.js';
export { RingMerge } from './merge.js';
export { mapPerfRing, mapRingBuffer } from './mmap.js';
export { PerfReader, type PerfReaderOptions } from './perf-reader.js';
export { hasRecordCpu, hasRecordTime, recordCpu, recordTgid, recordTime } from './record-prefix.js';
export type { PerfRecord, RawTime, RingHandler, RingSource, SampleMeta } from './source.js';
