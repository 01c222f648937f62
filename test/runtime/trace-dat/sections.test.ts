// The fixed sections of trace.dat against bytes written out by hand from
// trace-cmd.dat.v6(5), and the header texts against this kernel's own
// tracefs files when they can be read.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { initialFormat } from '../../../runtime/trace-dat/initial.js';
import { HEADER_EVENT_TEXT, headerInfo, headerPageText } from '../../../runtime/trace-dat/header-info.js';
import { cmdlinesSection, savedCmdlinesText } from '../../../runtime/trace-dat/cmdlines.js';
import { kallsymsSection, kallsymsText } from '../../../runtime/trace-dat/kallsyms-section.js';

const le64 = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >> 24) & 0xff, 0, 0, 0, 0];
const le32 = (n: number) => le64(n).slice(0, 4);
const ascii = (s: string) => [...Buffer.from(s, 'latin1')];

t.test('the initial format: magic, "tracing", version "6", little endian, 8-byte long, page size', (t) => {
  t.same([...initialFormat(4096)], [0x17, 0x08, 0x44, ...ascii('tracing'), 0x36, 0, 0, 8, 0x00, 0x10, 0, 0]);
  t.end();
});

const PAGE_TEXT =
  '\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n' +
  '\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n' +
  '\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n' +
  '\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;\n';

t.test('header info: "header_page\\0", u64 size, the page header; "header_event\\0", u64 size, the entry header', (t) => {
  const b = headerInfo(4096);
  const pageLen = Buffer.byteLength(PAGE_TEXT);
  t.same([...b.subarray(0, 12 + 8)], [...ascii('header_page\0'), ...le64(pageLen)]);
  t.equal(b.toString('latin1', 20, 20 + pageLen), PAGE_TEXT);
  const ev = 20 + pageLen;
  t.same([...b.subarray(ev, ev + 13)], ascii('header_event\0'));
  t.equal(b.readBigUInt64LE(ev + 13), BigInt(HEADER_EVENT_TEXT.length));
  t.equal(b.length, ev + 13 + 8 + HEADER_EVENT_TEXT.length, 'nothing after the entry header');
  t.match(HEADER_EVENT_TEXT, /type_len    :    5 bits\n\ttime_delta  :   27 bits\n/);
  t.end();
});

t.test('the header texts are the ones this kernel publishes', { skip: existsSync('/sys/kernel/tracing/events/header_page') ? false : 'no readable tracefs' }, (t) => {
  t.equal(headerPageText(4096), readFileSync('/sys/kernel/tracing/events/header_page', 'latin1'));
  t.equal(HEADER_EVENT_TEXT, readFileSync('/sys/kernel/tracing/events/header_event', 'latin1'));
  t.end();
});

t.test('saved cmdlines: "PID COMM" lines by pid, with a u64 size', (t) => {
  const comms = new Map([[300, 'b'], [12, 'a-b c']]);
  t.equal(savedCmdlinesText(comms), '12 a-b c\n300 b\n');
  t.same([...cmdlinesSection(comms)], [...le64(15), ...ascii('12 a-b c\n300 b\n')]);
  t.equal(savedCmdlinesText(new Map()), '');
  t.end();
});

t.test('kallsyms: sorted by address, 16 hex digits, duplicates once, modules in brackets, with a u32 size', (t) => {
  const syms = [
    { address: 0xffffffff81000200n, name: 'b_fn' },
    { address: 0xffffffff81000100n, name: 'a_fn' },
    { address: 0xffffffffc0001000n, name: 'm_fn', module: 'mod' },
    { address: 0xffffffff81000200n, name: 'b_fn' },
  ];
  const text = 'ffffffff81000100 t a_fn\nffffffff81000200 t b_fn\nffffffffc0001000 t m_fn\t[mod]\n';
  t.equal(kallsymsText(syms), text);
  t.same([...kallsymsSection(syms)], [...le32(text.length), ...ascii(text)]);
  t.end();
});
