// Event format sections (grouped by system), the entry length of records
// with dynamic data, and the kernel addresses a kprobe event's entry holds.
import t from 'tap';
import { parseFormatFile } from '../../../runtime/format-file.js';
import { eventFormats } from '../../../runtime/trace-dat/event-formats.js';
import { dataLocOffsets, entryLength } from '../../../runtime/trace-dat/entry-length.js';
import { addressFieldOffsets } from '../../../runtime/trace-dat/symbols.js';

const COMMON =
  '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n' +
  '\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n' +
  '\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n' +
  '\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n';
const fmt = (name: string, id: number, fields: string, print: string) =>
  `name: ${name}\nID: ${id}\nformat:\n${COMMON}\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;\n${fields}\nprint fmt: ${print}\n`;
const A = fmt('a', 7, '\tfield:u32 x;\toffset:16;\tsize:4;\tsigned:0;\n', '"(%lx) x=%u", REC->__probe_ip, REC->x');
const S = fmt('s', 9, '\tfield:__data_loc char[] s;\toffset:16;\tsize:4;\tsigned:1;\n\tfield:__data_loc char[][2] n;\toffset:20;\tsize:8;\tsigned:1;\n',
  '"(%lx) s=\\"%s\\" n={\\"%s\\",\\"%s\\"}", REC->__probe_ip, __get_str(s), __get_str(n[0]), __get_str(n[1])');

t.test('event formats: no ftrace events, then per system its name, its event count, each format file with a u64 size', (t) => {
  const a = parseFormatFile(A, 'g1');
  const s = parseFormatFile(S, 'g2');
  const a2 = parseFormatFile(A.replace('ID: 7', 'ID: 8').replace('name: a', 'name: a2'), 'g1');
  const b = eventFormats([{ format: a.format, typeId: 7 }, { format: s.format, typeId: 9 }, { format: a2.format, typeId: 8 }]);
  const a2Text = A.replace('ID: 7', 'ID: 8').replace('name: a', 'name: a2');
  const sized = (text: string) => { const h = Buffer.alloc(8); h.writeBigUInt64LE(BigInt(text.length)); return Buffer.concat([h, Buffer.from(text)]); };
  const u32 = (n: number) => { const h = Buffer.alloc(4); h.writeUInt32LE(n); return h; };
  const expected = Buffer.concat([u32(0), u32(2), Buffer.from('g1\0'), u32(2), sized(A), sized(a2Text), Buffer.from('g2\0'), u32(1), sized(S)]);
  t.equal(b.toString('latin1'), expected.toString('latin1'));
  t.end();
});

t.test('entry length: the fixed part, or as far as a __data_loc (also in a string array) reaches', (t) => {
  const s = parseFormatFile(S, 'g').format;
  t.same(dataLocOffsets(s), [16, 20, 24]);
  const e = Buffer.alloc(64);
  e.writeUInt32LE((4 << 16) | 28, 16);
  e.writeUInt32LE((6 << 16) | 32, 20);
  e.writeUInt32LE((0 << 16) | 38, 24); // a fault: length 0
  t.equal(entryLength(e, 28, dataLocOffsets(s)), 38);
  e.writeUInt32LE((40 << 16) | 38, 24);
  t.equal(entryLength(e, 28, dataLocOffsets(s)), 64, 'never past the record');
  t.equal(entryLength(Buffer.alloc(32), 28, []), 28, 'no dynamic data: the fixed size');
  t.end();
});

t.test('kernel addresses: a kprobe entry\'s __probe_ip and symbol arguments, nothing for a uprobe', (t) => {
  const k = parseFormatFile(fmt('k', 3, '\tfield:u64 sym;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:u64 n;\toffset:24;\tsize:8;\tsigned:0;\n',
    '"(%lx) sym=%pS n=%Lu", REC->__probe_ip, REC->sym, REC->n'), 'kp', 'kprobe');
  t.same(addressFieldOffsets(k.format), [8, 16]);
  t.same(addressFieldOffsets(parseFormatFile(A, 'up', 'uprobe').format), []);
  t.end();
});
