// The BPF ring buffer read over one mapping of its data area (as runtime/ring/mmap.ts
// maps it, to keep the kernel's second copy out of RSS): a record that wraps the
// end is handed out whole from a copy; the others still in place.
import t from 'tap';
import { RingBuffer } from '../../../runtime/ring/ring-buffer.js';
import { FakeRingBuffer, prefixedRecord, recorder } from './fake-rings.js';

/** The reader over the fake's first copy only. */
const singleOver = (fake: FakeRingBuffer): RingBuffer =>
  new RingBuffer({ consumerPos: fake.consumerPos, producerPos: fake.producerPos, data: fake.data.subarray(0, fake.size), size: fake.size });

const tags = (r: ReturnType<typeof recorder>): number[] => r.samples.map((s) => s.bytes.readUInt32LE(32));

t.test('a record that wraps the end comes out whole, from a copy', (t) => {
  const fake = new FakeRingBuffer(64);
  fake.startAt(40); // the 48-byte span starts 24 bytes before the end
  fake.output(prefixedRecord(77n, 2, 0xbeef));
  const rb = singleOver(fake);
  const r = recorder();
  let handed: Buffer | undefined;
  rb.beginBatch();
  t.ok(rb.peek());
  t.equal(rb.peekTime((b, off) => Number(b.readBigUInt64LE(off))), 77, 'the sort key reads the copy');
  rb.deliver({ onSample: (raw, off, len, meta) => { handed = raw; r.h.onSample(raw, off, len, meta); } });
  rb.endBatch();
  t.same(tags(r), [0xbeef], 'the bytes past the end came from the area\'s start');
  t.equal(r.samples[0]?.meta.time, 77);
  t.equal(r.samples[0]?.meta.cpu, 2);
  t.not(handed?.buffer, fake.data.buffer, 'not the mapping itself');
  t.equal(Number(fake.consumerPos[0]), 88);
  t.end();
});

t.test('records that do not wrap are handed out in place', (t) => {
  const fake = new FakeRingBuffer(256);
  fake.output(prefixedRecord(5n, 1, 1));
  fake.output(prefixedRecord(6n, 0, 2));
  const rb = singleOver(fake);
  const r = recorder();
  const buffers: Buffer[] = [];
  rb.beginBatch();
  while (rb.peek()) rb.deliver({ onSample: (raw, off, len, meta) => { buffers.push(raw); r.h.onSample(raw, off, len, meta); } });
  rb.endBatch();
  t.same(tags(r), [1, 2]);
  t.ok(buffers.every((b) => b.buffer === fake.data.buffer), 'in place');
  t.end();
});

t.test('a data area neither once nor twice the size is refused', (t) => {
  const fake = new FakeRingBuffer(64);
  t.throws(() => new RingBuffer({ consumerPos: fake.consumerPos, producerPos: fake.producerPos, data: fake.data.subarray(0, 96), size: 64 }), /data area of 96 bytes/);
  t.end();
});
