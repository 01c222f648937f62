// One CPU's ring pages against hand-encoded bytes (kernel ring_buffer.c, as
// header_page/header_event describe it): page timestamp, commit, then
// events with a 5-bit type_len and a 27-bit time delta.
import t from 'tap';
import { cpuPages, datRecord, eventSize, fitsPage } from '../../../runtime/trace-dat/ring-page.js';

const entry = (n: number, fill: number) => Buffer.alloc(n, fill);

t.test('small events: type_len = padded length / 4, the delta from the previous event, data padded to 4', (t) => {
  const b = cpuPages([datRecord(1000, entry(10, 0xaa)), datRecord(1100, entry(8, 0xbb))], 64);
  t.equal(b.length, 64, 'one page');
  t.equal(b.readBigUInt64LE(0), 1000n, 'page timestamp = first event');
  t.equal(b.readBigUInt64LE(8), BigInt(4 + 12 + 4 + 8), 'commit = data bytes used');
  t.equal(b.readUInt32LE(16), 3, 'type_len 3, delta 0');
  t.same([...b.subarray(20, 32)], [...entry(10, 0xaa), 0, 0]);
  t.equal(b.readUInt32LE(32), (100 << 5) | 2, 'type_len 2, delta 100');
  t.same([...b.subarray(36, 44)], [...entry(8, 0xbb)]);
  t.same([...b.subarray(44)], [...new Uint8Array(20)], 'rest of the page zero');
  t.end();
});

t.test('an event over 112 bytes: type_len 0 and array[0] = padded length + 4', (t) => {
  t.equal(eventSize(113), 8 + 116);
  t.equal(eventSize(112), 4 + 112);
  const b = cpuPages([datRecord(5, entry(113, 1))], 256);
  t.equal(b.readUInt32LE(16), 0);
  t.equal(b.readUInt32LE(20), 120);
  t.equal(b[24], 1);
  t.equal(b.readBigUInt64LE(8), 124n);
  t.end();
});

t.test('a delta that needs more than 27 bits: a time extend event (type 30) carries delta >> 27', (t) => {
  const delta = 2 ** 27 * 3 + 5;
  const b = cpuPages([datRecord(0, entry(4, 1)), datRecord(delta, entry(4, 2))], 64);
  t.equal(b.readUInt32LE(24), (5 << 5) | 30, 'extend: low 27 bits in time_delta');
  t.equal(b.readUInt32LE(28), 3, 'extend: high bits in array[0]');
  t.equal(b.readUInt32LE(32), 1, 'then the event with delta 0');
  t.equal(b[36], 2);
  t.end();
});

t.test('a full page: the next event opens a new page with its own timestamp', (t) => {
  // 64-byte pages hold 48 bytes of data: three 16-byte events.
  const recs = [0, 1, 2, 3].map((i) => (datRecord(10 + i, entry(12, i))));
  const b = cpuPages(recs, 64);
  t.equal(b.length, 128);
  t.equal(b.readBigUInt64LE(8), 48n);
  t.equal(b.readBigUInt64LE(64), 13n, 'second page timestamp');
  t.equal(b.readBigUInt64LE(72), 16n);
  t.equal(b.readUInt32LE(80), 3, 'delta 0 on the new page');
  t.equal(b[84], 3);
  t.equal(cpuPages([], 64).length, 0, 'no records, no pages');
  t.end();
});

t.test('fitsPage: an event and a possible time extend must fit the page data', (t) => {
  t.ok(fitsPage(4096 - 16 - 8 - 8, 4096));
  t.notOk(fitsPage(4096 - 16 - 8 - 8 + 1, 4096));
  t.end();
});
