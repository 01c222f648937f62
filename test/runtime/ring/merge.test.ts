// Several rings read as one stream in time order, as ftrace merges its
// per-CPU buffers: perf rings keyed by PERF_SAMPLE_TIME, perf rings without it
// and the BPF ring buffer keyed by our record prefix's timestamp, lost
// counts first. No kernel, no root.
import t from 'tap';
import { RingMerge } from '../../../runtime/ring/merge.js';
import { PerfRing } from '../../../runtime/ring/perf-ring.js';
import { recordTime } from '../../../runtime/ring/record-prefix.js';
import { RingBuffer } from '../../../runtime/ring/ring-buffer.js';
import { PERF_SAMPLE_RAW, PERF_SAMPLE_TID, PERF_SAMPLE_TIME } from '../../../runtime/sys/perf-event.js';
import { FakePerfRing, FakeRingBuffer, RECORD_LOST, RECORD_SAMPLE, lostBody, prefixedRecord, rawOnlyBody, recorder, sampleBody } from './fake-rings.js';

/** A perf ring on `cpu` holding samples with these PERF_SAMPLE_TIME values; each raw byte is the time / 10. */
function timedRing(cpu: number, times: readonly number[]): PerfRing {
  const fake = new FakePerfRing(512);
  for (const ts of times) fake.write(RECORD_SAMPLE, sampleBody(1, 1, BigInt(ts), Buffer.alloc(4, ts / 10)));
  fake.publish();
  return new PerfRing({ control: fake.control, data: fake.data }, { cpu, sampleType: PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_RAW });
}

t.test('samples of three CPUs come out in time order, not ring by ring', (t) => {
  const rings = [timedRing(0, [10, 40, 70]), timedRing(1, [20, 30, 90]), timedRing(2, [50, 60, 80])];
  const r = recorder();
  t.equal(new RingMerge().drain(rings, r.h), 9);
  t.same(r.samples.map((s) => s.meta.time), [10, 20, 30, 40, 50, 60, 70, 80, 90]);
  t.same(r.samples.map((s) => s.meta.cpu), [0, 1, 1, 0, 2, 2, 0, 2, 1], 'each from its own CPU');
  t.end();
});

t.test('equal times keep the order the rings were given in', (t) => {
  const r = recorder();
  new RingMerge().drain([timedRing(4, [10, 20]), timedRing(5, [10, 20])], r.h);
  t.same(r.samples.map((s) => s.meta.cpu), [4, 5, 4, 5]);
  t.end();
});

t.test('perf rings without PERF_SAMPLE_TIME and the BPF ring buffer merge by the record prefix time', (t) => {
  const perf = new FakePerfRing(512);
  for (const [ts, tag] of [[100n, 1], [400n, 4]] as const) perf.write(RECORD_SAMPLE, rawOnlyBody(prefixedRecord(ts, 0, tag)));
  perf.publish();
  const ringbuf = new FakeRingBuffer(512);
  for (const [ts, tag] of [[200n, 2], [300n, 3], [500n, 5]] as const) ringbuf.output(prefixedRecord(ts, 1, tag));
  const sources = [
    new PerfRing({ control: perf.control, data: perf.data }, { cpu: 0, sampleType: PERF_SAMPLE_RAW }),
    new RingBuffer({ consumerPos: ringbuf.consumerPos, producerPos: ringbuf.producerPos, data: ringbuf.data }),
  ];
  const r = recorder();
  t.equal(new RingMerge(recordTime).drain(sources, r.h), 5);
  t.same(r.samples.map((s) => s.bytes.readUInt32LE(32)), [1, 2, 3, 4, 5]);
  t.end();
});

t.test('a lost count, once reached, is reported before any later sample', (t) => {
  const fake = new FakePerfRing(512);
  fake.write(RECORD_SAMPLE, sampleBody(1, 1, 50n, Buffer.alloc(4, 5)));
  fake.write(RECORD_LOST, lostBody(9n));
  fake.publish();
  const lossy = new PerfRing({ control: fake.control, data: fake.data }, { cpu: 1, sampleType: PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_RAW });
  const order: string[] = [];
  new RingMerge().drain([timedRing(0, [10, 60]), lossy], {
    onSample: (_raw, _off, _len, meta) => order.push(`cpu${meta.cpu}@${meta.time}`),
    onLost: (cpu, n) => order.push(`cpu${cpu} lost ${n}`),
  });
  t.same(order, ['cpu0@10', 'cpu1@50', 'cpu1 lost 9', 'cpu0@60'], 'the LOST record, once peeked, sorts before any sample');
  t.end();
});

t.test('when the handler throws, every ring keeps what it delivered consumed', (t) => {
  const rings = [timedRing(0, [10, 30]), timedRing(1, [20, 40])];
  const merge = new RingMerge();
  const seen: number[] = [];
  const h = {
    onSample: (_raw: Buffer, _off: number, _len: number, meta: { time: number }) => {
      seen.push(meta.time);
      if (meta.time === 20) throw new Error('handler failed');
    },
  };
  t.throws(() => merge.drain(rings, h), /handler failed/);
  t.equal(merge.drain(rings, h), 2, 'the two not yet delivered');
  t.same(seen, [10, 20, 30, 40], 'each once, in time order');
  t.end();
});
