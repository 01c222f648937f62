// runtime/memory-trim.ts: which mappings give their pages back, and that a
// process that gave them back still runs and reads the same bytes.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cleanFileMappings, dropCleanFilePages } from '../../runtime/memory-trim.js';

const block = (head: string, rss: number, anonymous: number, locked = 0) =>
  `${head}\nSize:               1024 kB\nRss:                ${rss} kB\nPss:                ${rss} kB\nAnonymous:          ${anonymous} kB\nLocked:             ${locked} kB\nVmFlags: rd mr mw me\n`;

const SMAPS = [
  block('00400000-00b6f000 r--p 00000000 fe:00 260689                             /usr/bin/node', 6780, 0),
  block('00b72000-025fe000 r-xp 00771000 fe:00 260689                             /usr/bin/node', 21704, 0),
  block('0563a000-0563e000 r--p 05239000 fe:00 260689                             /usr/bin/node', 16, 8),
  block('0563e000-05658000 rw-p 0523d000 fe:00 260689                             /usr/bin/node', 100, 100),
  block('288a7000-28c86000 rw-p 00000000 00:00 0                                  [heap]', 3852, 3852),
  block('7f0ddc007000-7f0ddc108000 r--s 00000000 00:0f 1058                       anon_inode:bpf-map', 1028, 0),
  block('7f0dde000000-7f0dde100000 r--s 00000000 fe:00 12                         /usr/share/x.cache', 64, 0),
  block('7f0dde200000-7f0dde299000 r--p 00000000 fe:00 1503                       /usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30', 612, 0),
  block('7f0dde300000-7f0dde301000 r--p 00000000 fe:00 1504                       /tmp/gone.so (deleted)', 4, 0),
  block('7f0dde400000-7f0dde401000 r-xp 00000000 fe:00 1505                       /usr/lib/cold.so', 0, 0),
  block('7f0dde500000-7f0dde601000 r-xp 00000000 fe:00 1506                       /usr/lib/locked.so', 400, 0, 400),
  block('7f0dde700000-7f0dde701000 r-xp 00000000 fe:00 1507                       /usr/lib/small.so', 200, 0),
  block('7f0dde800000-7f0dde901000 r--p 00000000 fe:00 1508                       /opt/a dir/with spaces.so', 300, 0),
  block('7ffd1e8a3000-7ffd1e8a5000 r-xp 00000000 00:00 0                          [vdso]', 8, 0),
].join('');

t.test('read-only private file mappings holding only the file\'s pages, and nothing else', async (t) => {
  const found = cleanFileMappings(SMAPS);
  t.same(found.map((m) => `${m.start.toString(16)} ${m.path} ${m.rssKiB}`), [
    '400000 /usr/bin/node 6780',
    'b72000 /usr/bin/node 21704',
    '7f0dde200000 /usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30 612',
    '7f0dde800000 /opt/a dir/with spaces.so 300',
  ], 'text and rodata of the binary and of libraries; not RELRO (written), data, heap, shared maps, deleted files, locked, under 256 KiB or [vdso]');
  t.equal(found[1]!.end, 0x25fe000n, 'the end of the range');
  t.same(cleanFileMappings(''), [], 'an empty smaps');
});

const fileKiB = () => Number(/^RssFile:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);

t.test('this process gives its clean file pages back and runs on', async (t) => {
  const before = fileKiB();
  const dropped = dropCleanFilePages();
  const after = fileKiB();
  t.ok(dropped > 1024, `dropped ${dropped} KiB`);
  t.ok(after < before - 1024, `RssFile ${before} -> ${after} KiB`);
  // code, read-only data and a native library's code come back from the page cache
  const text = JSON.stringify({ a: [1, 2, 3], s: 'ü'.normalize('NFD') });
  t.equal(text, '{"a":[1,2,3],"s":"u\u0308"}', 'JSON and ICU still work');
  t.equal(new Intl.NumberFormat('en-US').format(1234567.5), '1,234,567.5', 'Intl still works');
  t.equal(dropCleanFilePages() >= 0, true, 'a second drop is harmless');
  t.equal(dropCleanFilePages('/nonexistent/smaps'), 0, 'no smaps to read: nothing dropped, nothing thrown');
  // a fresh process that drops its pages before running its work prints what one that does not prints
  const code = `import { dropCleanFilePages } from ${JSON.stringify(new URL('../../runtime/memory-trim.js', import.meta.url).href)};
if (process.argv[1] === 'drop') dropCleanFilePages();
const { createHash } = await import('node:crypto');
console.log(createHash('sha256').update(JSON.stringify(Array.from({ length: 1000 }, (_, i) => [i, Math.sqrt(i).toFixed(6)]))).digest('hex'));`;
  const run = (arg: string) => spawnSync(process.execPath, ['--input-type=module', '-e', code, arg], { encoding: 'utf8' });
  const plain = run('keep');
  const dropping = run('drop');
  t.equal(dropping.status, 0, `exit 0 (${dropping.stderr.slice(0, 300)})`);
  t.match(plain.stdout, /^[0-9a-f]{64}\n$/);
  t.equal(dropping.stdout, plain.stdout, 'the same output');
});
