// Kprobe events: the writer puts the symbols holding the recorded kernel
// addresses (and the next ones, which bound them) into the kallsyms section,
// so trace-cmd names a %pS argument. No kprobes needed: hand-made records
// and a hand-written kallsyms table.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kallsyms } from '../../../runtime/kallsyms.js';
import { parseFormatFile } from '../../../runtime/format-file.js';
import { symbolsFor } from '../../../runtime/trace-dat/symbols.js';
import { TraceDatWriter } from '../../../runtime/trace-dat/writer.js';

const KALLSYMS = [
  'ffffffff81000000 T _stext',
  'ffffffff81000100 T a_fn',
  'ffffffff81000200 t b_fn',
  'ffffffff81000300 T c_fn',
  'ffffffff82000000 T _end',
].join('\n');

const FORMAT =
  'name: kp\nID: 5\nformat:\n' +
  '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n' +
  '\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n' +
  '\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n' +
  '\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n' +
  '\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;\n' +
  '\tfield:u64 where;\toffset:16;\tsize:8;\tsigned:0;\n' +
  '\nprint fmt: "(%lx) where=%pS", REC->__probe_ip, REC->where\n';

t.test('symbolsFor: the symbol holding each address and the one after it', (t) => {
  const syms = symbolsFor([0xffffffff81000110n, 0xffffffff81000200n], Kallsyms.load(KALLSYMS));
  t.same(syms.map((s) => [s.address.toString(16), s.name]), [
    ['ffffffff81000100', 'a_fn'], ['ffffffff81000200', 'b_fn'],
    ['ffffffff81000200', 'b_fn'], ['ffffffff81000300', 'c_fn'],
  ]);
  t.same(symbolsFor([0x1000n], Kallsyms.load(KALLSYMS)), [], 'an address outside the kernel: none');
  t.end();
});

const noTraceCmd = spawnSync('trace-cmd', ['--version']).error ? 'trace-cmd is not installed' : false;

t.test('a kprobe record\'s addresses are in kallsyms, and trace-cmd names them', { skip: noTraceCmd }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kpb-datk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'k.dat');
  const w = new TraceDatWriter(path, [{ format: parseFormatFile(FORMAT, 'kprobes', 'kprobe').format, typeId: 5 }], { cpus: 1, kallsyms: Kallsyms.load(KALLSYMS) });
  const r = Buffer.alloc(32 + 24);
  r.writeBigUInt64LE(1_000_000n, 0);
  r.writeUInt32LE(9, 8);
  r.write('kworker', 16, 'latin1');
  r.writeUInt16LE(5, 32);
  r.writeInt32LE(9, 36);
  r.writeBigUInt64LE(0xffffffff81000100n, 40);
  r.writeBigUInt64LE(0xffffffff81000234n, 48);
  w.add(r, 0, r.length);
  w.finish();
  const file = readFileSync(path, 'latin1');
  t.match(file, 'ffffffff81000100 t a_fn\nffffffff81000200 t b_fn\nffffffff81000300 t c_fn\n', 'kallsyms: the three symbols involved');
  const out = spawnSync('trace-cmd', ['report', path], { encoding: 'utf8' }).stdout;
  t.match(out, /kworker-9 +\[000\] +0\.001000: kp: +\(ffffffff81000100\) where=b_fn\+0x34/);
  t.end();
});
