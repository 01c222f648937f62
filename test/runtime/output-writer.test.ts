// The streamed output's writer: chunks come out whole and in order (also
// across and over its blocks), the printer's reused buffer is copied, written
// blocks are reused, the queue says when it is over its bound and drains, and
// a write error surfaces (drained rejects, the next chunk throws) instead of
// being lost. No kernel, no root.
import t from 'tap';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OUTPUT_BLOCK_BYTES, OutputWriter } from '../../runtime/output-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'kpb-ow-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('chunks are written whole and in order, each copied when handed over', async (t) => {
  const path = join(dir, 'order.txt');
  const fd = openSync(path, 'w');
  const w = new OutputWriter(fd);
  const reused = Buffer.alloc(6);
  const want: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const line = `${String(i).padStart(5, '0')}\n`;
    reused.write(line);
    w.sink(reused);
    want.push(line);
  }
  t.ok(w.queued > 0, 'queued, not written on the caller\'s thread');
  await w.drained();
  t.equal(w.queued, 0);
  closeSync(fd);
  t.equal(readFileSync(path, 'utf8'), want.join(''));
});

t.test('over its bound the queue says full until it drains', async (t) => {
  const fd = openSync(join(dir, 'bound.txt'), 'w');
  const w = new OutputWriter(fd, 1000);
  t.notOk(w.full);
  for (let i = 0; i < 30; i++) w.sink(Buffer.alloc(100, 0x61));
  t.ok(w.full, `full with ${w.queued} bytes waiting`);
  await w.drained(500);
  t.ok(w.queued <= 500);
  await w.drained();
  t.notOk(w.full);
  closeSync(fd);
});

t.test('a failed write rejects drained() and makes the next chunk throw', async (t) => {
  const path = join(dir, 'ro.txt');
  closeSync(openSync(path, 'w'));
  const fd = openSync(path, 'r');
  const w = new OutputWriter(fd);
  w.sink(Buffer.from('x\n'));
  await t.rejects(w.drained(), { code: 'EBADF' });
  t.throws(() => w.sink(Buffer.from('y\n')), { code: 'EBADF' });
  closeSync(fd);
});

t.test('chunks over a block and across block ends come out whole and in order', async (t) => {
  const path = join(dir, 'blocks.txt');
  const fd = openSync(path, 'w');
  const w = new OutputWriter(fd);
  const parts: Buffer[] = [];
  // sizes that straddle the block end: one byte short, exact, over, several blocks in one chunk
  for (const n of [OUTPUT_BLOCK_BYTES - 1, 1, OUTPUT_BLOCK_BYTES, 3, 2 * OUTPUT_BLOCK_BYTES + 5, 17, OUTPUT_BLOCK_BYTES + 1]) {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = 0x41 + ((parts.length * 7 + i) % 26);
    parts.push(b);
    w.sink(b);
  }
  await w.drained();
  closeSync(fd);
  t.ok(readFileSync(path).equals(Buffer.concat(parts)), 'the same bytes, in order');
});

t.test('written blocks are reused: a steady stream allocates a few, not one per chunk', async (t) => {
  const fd = openSync(join(dir, 'reuse.txt'), 'w');
  const w = new OutputWriter(fd);
  const chunk = Buffer.alloc(OUTPUT_BLOCK_BYTES / 2, 0x78);
  for (let i = 0; i < 200; i++) {
    w.sink(chunk);
    if (i % 4 === 3) await w.drained();
  }
  await w.drained();
  closeSync(fd);
  t.ok(w.blocksAllocated <= 4, `${w.blocksAllocated} blocks for 200 chunks`);
});
