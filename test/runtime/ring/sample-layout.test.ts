// Where a PERF_RECORD_SAMPLE's fields sit for a sample_type, as the kernel's
// perf_output_sample writes them (8 bytes each after the 8-byte header).
import t from 'tap';
import { RingLayoutError } from '../../../runtime/ring/errors.js';
import { sampleLayout } from '../../../runtime/ring/sample-layout.js';
import {
  PERF_SAMPLE_CALLCHAIN,
  PERF_SAMPLE_CPU,
  PERF_SAMPLE_IDENTIFIER,
  PERF_SAMPLE_IP,
  PERF_SAMPLE_RAW,
  PERF_SAMPLE_READ,
  PERF_SAMPLE_TID,
  PERF_SAMPLE_TIME,
} from '../../../runtime/sys/perf-event.js';

t.test('raw data alone comes right after the header', (t) => {
  t.same(sampleLayout(PERF_SAMPLE_RAW), { tid: -1, time: -1, raw: 8 });
  t.end();
});

t.test('identifier and ip come before tid, time before cpu', (t) => {
  t.same(sampleLayout(PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_RAW), { tid: 24, time: 32, raw: 48 });
  t.same(sampleLayout(PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_RAW), { tid: -1, time: 8, raw: 24 });
  t.end();
});

t.test('variable-size fields and samples without raw data are refused', (t) => {
  t.throws(() => sampleLayout(PERF_SAMPLE_RAW | PERF_SAMPLE_READ), /not supported/);
  t.throws(() => sampleLayout(PERF_SAMPLE_RAW | PERF_SAMPLE_CALLCHAIN), /not supported/);
  t.throws(() => sampleLayout(PERF_SAMPLE_TID), /must include PERF_SAMPLE_RAW/);
  t.ok(t.throws(() => sampleLayout(PERF_SAMPLE_TID)) instanceof RingLayoutError, 'a RingLayoutError');
  t.end();
});
