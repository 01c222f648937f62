// The BPF ring buffer reader over plain memory: BUSY records hold the batch
// back (the producer has reserved but not committed), DISCARD records are
// stepped over, records that wrap read whole through the double mapping, and
// consumer_pos moves only past what was consumed. No kernel, no root.
import t from 'tap';
import { RingBuffer } from '../../../runtime/ring/ring-buffer.js';
import { FakeRingBuffer, prefixedRecord, recorder } from './fake-rings.js';

const readerOver = (fake: FakeRingBuffer): RingBuffer =>
  new RingBuffer({ consumerPos: fake.consumerPos, producerPos: fake.producerPos, data: fake.data });

const tags = (r: ReturnType<typeof recorder>): number[] => r.samples.map((s) => s.bytes.readUInt32LE(32));

t.test('records come out in order with the CPU and time of their prefix', (t) => {
  const fake = new FakeRingBuffer(256);
  fake.output(prefixedRecord(5000n, 1, 1));
  fake.output(prefixedRecord(6000n, 0, 2));
  const rb = readerOver(fake);
  const r = recorder();
  t.ok(rb.beginBatch());
  let n = 0;
  while (rb.peek()) n += rb.deliver(r.h);
  rb.endBatch();
  t.equal(n, 2);
  t.same(tags(r), [1, 2]);
  t.same(r.samples.map((s) => [s.meta.cpu, s.meta.time]), [[1, 5000], [0, 6000]]);
  t.equal(fake.consumerPos[0], fake.producerPos[0], 'consumer_pos caught up with producer_pos');
  t.equal(rb.samples, 2);
  t.end();
});

t.test('a BUSY record stops the batch, also when records after it are committed', (t) => {
  const fake = new FakeRingBuffer(256);
  fake.output(prefixedRecord(1n, 0, 1));
  const busy = fake.reserve(36);
  fake.output(prefixedRecord(3n, 0, 3));
  const rb = readerOver(fake);
  const r = recorder();
  const drain = (): void => {
    if (rb.beginBatch()) while (rb.peek()) rb.deliver(r.h);
    rb.endBatch();
  };
  drain();
  t.same(tags(r), [1], 'only the record before the busy one');
  t.equal(Number(fake.consumerPos[0]), busy, 'consumer_pos stops at the busy record');
  fake.commit(busy, prefixedRecord(2n, 0, 2));
  drain();
  t.same(tags(r), [1, 2, 3], 'after the commit, the rest in ring order');
  t.end();
});

t.test('DISCARD records are stepped over and their room released', (t) => {
  const fake = new FakeRingBuffer(256);
  const gone = fake.reserve(36);
  fake.commit(gone, prefixedRecord(1n, 0, 1), true);
  fake.output(prefixedRecord(2n, 0, 2));
  const dropped = fake.reserve(36);
  fake.commit(dropped, prefixedRecord(3n, 0, 3), true);
  const rb = readerOver(fake);
  const r = recorder();
  rb.beginBatch();
  while (rb.peek()) rb.deliver(r.h);
  rb.endBatch();
  t.same(tags(r), [2], 'only the submitted record');
  t.equal(fake.consumerPos[0], fake.producerPos[0], 'trailing discarded room released too');
  t.end();
});

t.test('a record that wraps the end reads whole and in place through the second mapping', (t) => {
  const fake = new FakeRingBuffer(64);
  fake.startAt(40); // the 48-byte span starts 24 bytes before the end
  fake.output(prefixedRecord(77n, 2, 0xbeef));
  const rb = readerOver(fake);
  let handedBuffer: Buffer | undefined;
  let offset = -1;
  const r = recorder();
  rb.beginBatch();
  t.ok(rb.peek());
  rb.deliver({
    onSample: (raw, off, len, meta) => {
      handedBuffer = raw;
      offset = off;
      r.h.onSample(raw, off, len, meta);
    },
  });
  rb.endBatch();
  t.same(tags(r), [0xbeef], 'the bytes past the end came from the second copy');
  t.equal(r.samples[0]?.meta.time, 77);
  t.equal(handedBuffer, fake.data, 'handed out in place, no copy');
  t.equal(offset, 48, 'at its offset in the first copy, past the 8-byte header');
  t.equal(Number(fake.consumerPos[0]), 88);
  t.end();
});

t.test('a record too short for the prefix keeps the previous CPU and time', (t) => {
  const fake = new FakeRingBuffer(64);
  fake.output(Buffer.alloc(4, 1));
  const rb = readerOver(fake);
  const r = recorder();
  rb.beginBatch();
  while (rb.peek()) rb.deliver(r.h);
  t.same(r.samples.map((s) => [s.bytes.length, s.meta.cpu, s.meta.time]), [[4, -1, -1]]);
  t.end();
});

t.test('sizes that are not a power of two are refused; close releases once', (t) => {
  t.throws(() => new RingBuffer({ consumerPos: new BigUint64Array(1), producerPos: new BigUint64Array(1), data: Buffer.alloc(2 * 96) }), /not a power of two/);
  const fake = new FakeRingBuffer(64);
  fake.output(prefixedRecord(1n, 0, 1));
  let released = 0;
  const rb = new RingBuffer({ consumerPos: fake.consumerPos, producerPos: fake.producerPos, data: fake.data }, { fd: 5, release: () => released++ });
  t.equal(rb.fd, 5);
  rb.close();
  rb.close();
  t.equal(released, 1);
  t.notOk(rb.beginBatch(), 'a closed ring reads nothing');
  t.end();
});

t.test('a batch of more than an eighth of the ring gives the space back as it is read, not only at its end', (t) => {
  const fake = new FakeRingBuffer(1024);
  const positions: number[] = [];
  for (let i = 0; i < 12; i++) positions.push(fake.output(prefixedRecord(BigInt(i), 0, i)));
  const rb = readerOver(fake);
  const seen: bigint[] = [];
  const r = recorder();
  // the consumer position the kernel sees while each record is handed over
  const h = { ...r.h, onSample: (...a: Parameters<typeof r.h.onSample>) => { seen.push(fake.consumerPos[0]!); r.h.onSample(...a); } };
  t.ok(rb.beginBatch());
  while (rb.peek()) rb.deliver(h);
  t.same(tags(r), [...positions.keys()]);
  t.equal(seen[0], 0n, 'nothing released before the first record is read');
  t.ok(seen.at(-1)! > 0n, `released during the batch (at the last record: ${seen.at(-1)})`);
  t.ok(seen.every((p, i) => i === 0 || p >= seen[i - 1]!), 'only forward');
  t.ok(seen.every((p, i) => Number(p) <= positions[i]!), 'never past a record not yet handed over');
  rb.endBatch();
  t.equal(fake.consumerPos[0], fake.producerPos[0]);
  t.end();
});
