// The streamed output's writer: chunks come out whole and in order, the
// printer's reused buffer is copied, the queue says when it is over its bound
// and drains, and a write error surfaces (drained rejects, the next chunk
// throws) instead of being lost. No kernel, no root.
import t from 'tap';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutputWriter } from '../../runtime/output-writer.js';

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
