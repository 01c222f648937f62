// A CPU's held records: entry bytes kept exactly, handed back in time
// order, equal times in arrival order, past the first arena and index sizes.
import t from 'tap';
import { CpuRecords } from '../../../runtime/trace-dat/cpu-records.js';

const bytes = (r: { data: Buffer; start: number; end: number }) => [...r.data.subarray(r.start, r.end)];

t.test('records come back in time order; equal times keep their arrival order', (t) => {
  const c = new CpuRecords();
  const src = Buffer.from([9, 9, 1, 2, 3, 4, 5, 6, 7, 8]);
  c.push(30, src, 2, 3);
  c.push(10, src, 5, 2);
  c.push(30, src, 7, 1);
  c.push(20, src, 8, 2);
  const r = c.records();
  t.same(r.map((x) => x.ts), [10, 20, 30, 30]);
  t.same(r.map(bytes), [[4, 5], [7, 8], [1, 2, 3], [6]]);
  t.end();
});

t.test('thousands of records past 64 KiB of entries: every one intact', (t) => {
  const c = new CpuRecords();
  const n = 5000;
  for (let i = 0; i < n; i++) c.push(i, Buffer.alloc(20, i & 0xff), 0, 20);
  const r = c.records();
  t.equal(r.length, n);
  t.equal(c.count, n);
  const bad = r.findIndex((x, i) => x.ts !== i || x.end - x.start !== 20 || bytes(x).some((b) => b !== (i & 0xff)));
  t.equal(bad, -1, 'no record differs from what was pushed');
  t.end();
});
