// One CPU's perf ring reader over plain memory: what the kernel writes
// (fake-rings.ts) must come out whole, once, in order, with data_tail
// released only past what was handed out. No kernel, no root.
import t from 'tap';
import { PerfRing } from '../../../runtime/ring/perf-ring.js';
import { PERF_SAMPLE_RAW, PERF_SAMPLE_TID, PERF_SAMPLE_TIME } from '../../../runtime/sys/perf-event.js';
import { FakePerfRing, RECORD_LOST, RECORD_SAMPLE, lostBody, recorder, sampleBody } from './fake-rings.js';

const SAMPLE_TYPE = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_RAW;

function ringOver(fake: FakePerfRing, cpu = 3): PerfRing {
  return new PerfRing({ control: fake.control, data: fake.data }, { cpu, sampleType: SAMPLE_TYPE });
}

/** A raw payload whose bytes say which record it is: n repeated. */
const payload = (n: number, len = 12): Buffer => Buffer.alloc(len, n);

t.test('samples come out in ring order with pid, tid, time and CPU, and data_tail moves past them', (t) => {
  const fake = new FakePerfRing(256);
  fake.write(RECORD_SAMPLE, sampleBody(41, 42, 1000n, payload(1)));
  fake.write(RECORD_SAMPLE, sampleBody(51, 52, 2000n, payload(2)));
  fake.publish();
  const ring = ringOver(fake);
  const r = recorder();
  t.equal(ring.drain(r.h), 2, 'two samples');
  t.same(r.samples.map((s) => s.bytes), [payload(1), payload(2)], 'the raw bytes, in order');
  t.same(r.samples.map((s) => s.meta), [
    { cpu: 3, pid: 41, tid: 42, time: 1000 },
    { cpu: 3, pid: 51, tid: 52, time: 2000 },
  ]);
  t.equal(fake.tail, fake.written, 'data_tail released up to the head');
  t.equal(ring.drain(r.h), 0, 'nothing is handed out twice');
  t.end();
});

t.test('a record that wraps the end of the ring is handed out whole', (t) => {
  const fake = new FakePerfRing(64);
  fake.startAt(40); // the 48-byte record below starts 24 bytes before the end
  const raw = Buffer.from([...Array(20).keys()].map((i) => 0xa0 + i));
  const size = fake.write(RECORD_SAMPLE, sampleBody(7, 8, 123456789n, raw));
  t.equal(size, 48, 'the record is 48 bytes: header + 40');
  fake.publish();
  const ring = ringOver(fake);
  const r = recorder();
  t.equal(ring.drain(r.h), 1);
  t.same(r.samples[0]?.bytes, raw, 'both parts, joined');
  t.equal(r.samples[0]?.meta.time, 123456789, 'fields in the wrapped part read too');
  t.equal(ring.wrapped, 1, 'counted as wrapped');
  t.equal(fake.tail, 88, 'data_tail past the record (positions only grow)');
  t.end();
});

t.test('PERF_RECORD_LOST reports its u64 count per CPU, also above 2^32', (t) => {
  const fake = new FakePerfRing(256);
  fake.write(RECORD_SAMPLE, sampleBody(1, 1, 10n, payload(1)));
  fake.write(RECORD_LOST, lostBody(0x1_0000_0005n));
  fake.write(RECORD_LOST, lostBody(3n));
  fake.write(RECORD_SAMPLE, sampleBody(1, 1, 20n, payload(2)));
  fake.publish();
  const ring = ringOver(fake, 1);
  const r = recorder();
  t.equal(ring.drain(r.h), 2, 'lost records are not samples');
  t.same(r.lost, [[1, 4294967301], [1, 3]], 'onLost(cpu, count) for each LOST record');
  t.equal(ring.lost, 4294967304, 'summed on the ring');
  t.equal(ring.samples, 2);
  t.end();
});

t.test('a torn read: records published after the head snapshot wait for the next batch', (t) => {
  const fake = new FakePerfRing(256);
  fake.write(RECORD_SAMPLE, sampleBody(1, 1, 10n, payload(1)));
  fake.publish();
  const ring = ringOver(fake);
  const r = recorder();
  t.ok(ring.beginBatch(), 'something pending');
  const firstEnd = fake.written;
  // the kernel writes and publishes another record while we read
  fake.write(RECORD_SAMPLE, sampleBody(1, 1, 20n, payload(2)));
  fake.publish();
  let n = 0;
  while (ring.peek()) n += ring.deliver(r.h);
  ring.endBatch();
  t.equal(n, 1, 'only the record below the snapshot');
  t.equal(fake.tail, firstEnd, 'data_tail stops where the batch ended');
  t.equal(ring.drain(r.h), 1, 'the next batch reads the new one');
  t.same(r.samples.map((s) => s.bytes), [payload(1), payload(2)]);
  t.end();
});

t.test('a torn read: a header below the head whose record is not all published is left unconsumed', (t) => {
  const fake = new FakePerfRing(256);
  fake.write(RECORD_SAMPLE, sampleBody(1, 1, 10n, payload(1)));
  const whole = fake.written;
  fake.write(RECORD_SAMPLE, sampleBody(1, 1, 20n, payload(2)));
  fake.publish(whole + 16); // the second record's header and 8 bytes of it
  const ring = ringOver(fake);
  const r = recorder();
  t.equal(ring.drain(r.h), 1, 'the complete record only');
  t.equal(fake.tail, whole, 'data_tail not moved over the incomplete one');
  fake.publish();
  t.equal(ring.drain(r.h), 1, 'read once the rest is published');
  t.same(r.samples.map((s) => s.meta.time), [10, 20]);
  t.end();
});

t.test('a corrupt header (size below 8) skips to the head instead of spinning', (t) => {
  const fake = new FakePerfRing(256);
  fake.writeBytes(Buffer.from([9, 0, 0, 0, 0, 0, 4, 0])); // size 4
  fake.write(RECORD_SAMPLE, sampleBody(1, 1, 10n, payload(1)));
  fake.publish();
  const ring = ringOver(fake);
  const r = recorder();
  t.equal(ring.drain(r.h), 0, 'nothing delivered from a corrupt ring');
  t.equal(fake.tail, fake.written, 'the ring is released up to the head');
  t.end();
});

t.test('when the handler throws, what was delivered is consumed and never delivered twice', (t) => {
  const fake = new FakePerfRing(256);
  for (let i = 1; i <= 3; i++) fake.write(RECORD_SAMPLE, sampleBody(1, 1, BigInt(i), payload(i)));
  fake.publish();
  const ring = ringOver(fake);
  const seen: number[] = [];
  const h = {
    onSample: (raw: Buffer, off: number) => {
      seen.push(raw[off]!);
      if (seen.length === 2) throw new Error('handler failed');
    },
  };
  t.throws(() => ring.drain(h), /handler failed/);
  t.equal(ring.drain(h), 1, 'the rest comes next time');
  t.same(seen, [1, 2, 3], 'each record once');
  t.end();
});

t.test('a data area whose size is not a power of two is refused', (t) => {
  t.throws(() => new PerfRing({ control: new BigUint64Array(512), data: Buffer.alloc(96) }, { cpu: 0, sampleType: SAMPLE_TYPE }), /not a power of two/);
  t.end();
});

t.test('close drops the views and releases once; a closed ring reads nothing', (t) => {
  const fake = new FakePerfRing(64);
  fake.write(RECORD_SAMPLE, sampleBody(1, 1, 10n, payload(1)));
  fake.publish();
  let released = 0;
  const ring = new PerfRing({ control: fake.control, data: fake.data }, { cpu: 0, sampleType: SAMPLE_TYPE, fd: 99, release: () => released++ });
  t.equal(ring.fd, 99);
  ring.close();
  ring.close();
  t.equal(released, 1, 'released once');
  t.notOk(ring.beginBatch(), 'no batch after close');
  t.equal(fake.tail, 0, 'data_tail untouched');
  t.end();
});
