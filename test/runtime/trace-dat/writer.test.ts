// TraceDatWriter on hand-made records (our 32-byte prefix + trace entry):
// the file layout (flyrecord offsets page aligned, one section per CPU),
// and trace-cmd as the judge of what the file says: records of two CPUs
// given out of order come back per CPU in time order, merged by time, with
// the last comm of each pid and a gap that needs a time extend.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFormatFile } from '../../../runtime/format-file.js';
import { TraceDatWriter } from '../../../runtime/trace-dat/writer.js';

const FORMAT =
  'name: hit\nID: 7\nformat:\n' +
  '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n' +
  '\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n' +
  '\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n' +
  '\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n' +
  '\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;\n' +
  '\tfield:u32 x;\toffset:16;\tsize:4;\tsigned:0;\n' +
  '\tfield:__data_loc char[] s;\toffset:20;\tsize:4;\tsigned:1;\n' +
  '\nprint fmt: "(%lx) x=%u s=\\"%s\\"", REC->__probe_ip, REC->x, __get_str(s)\n';

/** prefix (ts, tgid, cpu, comm) + entry (type 7, pid, ip, x, s), with slack after it as the BPF ring buffer leaves. */
function record(ts: number, cpu: number, pid: number, comm: string, x: number, s: string): Buffer {
  const b = Buffer.alloc(32 + 24 + s.length + 1 + 40, 0xee);
  b.writeBigUInt64LE(BigInt(ts), 0);
  b.writeUInt32LE(pid, 8);
  b.writeUInt32LE(cpu, 12);
  b.fill(0, 16, 32).write(comm, 16, 'latin1');
  b.writeUInt16LE(7, 32);
  b.writeUInt16LE(0, 34);
  b.writeInt32LE(pid, 36);
  b.writeBigUInt64LE(0x401000n, 40);
  b.writeUInt32LE(x, 48);
  b.writeUInt32LE(((s.length + 1) << 16) | 24, 52);
  b.write(`${s}\0`, 56, 'latin1');
  return b;
}

const SEC = 1_000_000_000;
const RECORDS = [
  record(5 * SEC + 2_000, 1, 42, 'worker', 3, 'third'),
  record(5 * SEC, 0, 42, 'old-name', 1, 'first'),
  record(5 * SEC + 1_000, 0, 42, 'worker', 2, 'second'),
  record(7 * SEC + 500_499, 0, 43, 'other', 4, 'late'), // 2 s later: a time extend
];

function write(t: Test, dir: string): string {
  const path = join(dir, 'w.dat');
  const w = new TraceDatWriter(path, [{ format: parseFormatFile(FORMAT, 'grp').format, typeId: 7 }], { cpus: 2 });
  for (const r of RECORDS) w.add(r, 0, r.length);
  t.same(w.finish(), { written: 4, tooLarge: 0 });
  return path;
}

t.test('the file: flyrecord with a page-aligned (offset, size) per CPU, each CPU\'s first page stamped with its first record', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-datw-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const b = readFileSync(write(t, dir));
  const fly = b.indexOf('flyrecord\0');
  t.ok(fly > 0);
  const options = b.indexOf('options  \0');
  t.equal(b.readUInt32LE(options - 4), 2, 'two CPUs, then the options');
  t.equal(b.toString('latin1', options + 10, fly), '\x04\x00\x07\x00\x00\x00[mono]\x00\x00\x00', 'TRACECLOCK "[mono]", then the end of options');
  const [off0, size0, off1, size1] = [0, 8, 16, 24].map((k) => Number(b.readBigUInt64LE(fly + 10 + k)));
  t.equal(off0, Math.ceil((fly + 10 + 32) / 4096) * 4096, 'CPU data starts at the next page');
  t.equal(size0, 4096);
  t.equal(off1, off0 + 4096);
  t.equal(size1, 4096);
  t.equal(b.length, off1 + size1);
  t.equal(b.readBigUInt64LE(off0), BigInt(5 * SEC), 'CPU 0 page: its earliest record');
  t.equal(b.readBigUInt64LE(off1), BigInt(5 * SEC + 2_000), 'CPU 1 page');
  t.ok(b.includes('42 worker\n43 other\n'), 'saved cmdlines: the last comm of each pid');
  t.end();
});

t.test('trace-cmd reads it: events in time order with their CPU, comm-pid, microsecond timestamp and fields', { skip: spawnSync('trace-cmd', ['--version']).error ? 'trace-cmd is not installed' : false }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-datw-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync('trace-cmd', ['report', write(t, dir)], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => / hit: /.test(l)).map((l) => l.trim().replace(/\s+/g, ' '));
  t.same(lines, [
    'worker-42 [000] 5.000000: hit: (401000) x=1 s="first"',
    'worker-42 [000] 5.000001: hit: (401000) x=2 s="second"',
    'worker-42 [001] 5.000002: hit: (401000) x=3 s="third"',
    'other-43 [000] 7.000500: hit: (401000) x=4 s="late"',
  ]);
  t.end();
});
