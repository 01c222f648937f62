// The string table both ELF and BTF use, and the little-endian byte writer,
// against bytes written out by hand.
import t from 'tap';
import { ByteWriter } from '../../bpf/byte-writer.js';
import { cString, StringTable, utf8Length } from '../../bpf/string-table.js';

t.test('a string table starts with the empty string and stores each string once', async (t) => {
  const s = new StringTable();
  t.equal(s.add(''), 0);
  t.equal(s.add('maps'), 1);
  t.equal(s.add('.text'), 6);
  t.equal(s.add('maps'), 1, 'a second add returns the first offset');
  t.equal(s.size, 12);
  t.equal(Buffer.from(s.bytes()).toString('latin1'), '\0maps\0.text\0');
});

t.test('cString reads up to the NUL, or to the end when there is none', async (t) => {
  const b = Buffer.from('\0maps\0.te', 'latin1');
  t.equal(cString(b, 1), 'maps');
  t.equal(cString(b, 0), '');
  t.equal(cString(b, 6), '.te');
  t.equal(cString(b, 2), 'aps', 'a suffix of a name is a name too (ELF shares tails)');
});

t.test('the byte writer lays values out little-endian, grows past its first buffer, aligns and patches', async (t) => {
  const w = new ByteWriter();
  w.u8(0x01).u16(0x0302).u32(0x07060504).i32(-2).u64(0x0f0e0d0c0b0a0908n).align(8);
  t.equal(Buffer.from(w.finish()).toString('hex'), '01' + '0203' + '04050607' + 'feffffff' + '08090a0b0c0d0e0f' + '0000000000');
  w.setU32(0, 0xaabbccdd);
  t.equal(Buffer.from(w.finish().subarray(0, 4)).toString('hex'), 'ddccbbaa');
  const big = new ByteWriter();
  for (let i = 0; i < 1000; i++) big.u32(i);
  const out = big.finish();
  t.equal(out.length, 4000);
  t.equal(Buffer.from(out).readUInt32LE(4 * 999), 999, 'the last value survives the growth');
});

t.test('string offsets count UTF-8 bytes as TextEncoder writes them, for any text a name can hold', async (t) => {
  // ASCII, 2- and 3-byte characters, a surrogate pair, lone surrogates (TextEncoder writes U+FFFD), an embedded NUL
  const names = ['', 'a', 'héllo', '€uro', 'x😀y', '\ud800', 'a\udc00b', '\ud83d', 'z\ud83d', 'nul\0in', '日本語/パス', 'p:grp/ev /bin/true:0x1149 a=%di'];
  const s = new StringTable();
  const want: number[] = [];
  let at = 1;
  const enc = new TextEncoder();
  for (const n of names) {
    if (n === '') { want.push(0); continue; }
    want.push(at);
    at += enc.encode(n).length + 1;
  }
  t.same(names.map((n) => s.add(n)), want, 'offsets');
  t.equal(s.size, at);
  const bytes = s.bytes();
  const expected = new Uint8Array(at);
  names.forEach((n, i) => { if (n !== '') expected.set(enc.encode(n), want[i]!); });
  t.same([...bytes], [...expected], 'the same bytes as encoding each name on its own');
  for (const n of ['x😀y', 'a\udc00b']) t.equal(utf8Length(n), enc.encode(n).length, JSON.stringify(n));
});

t.test('u64 writes numbers and bigints alike, negatives as two\'s complement', async (t) => {
  const values: (number | bigint)[] = [0, 1, 0xffffffff, 0x1_0000_0000, Number.MAX_SAFE_INTEGER, -1, -0x1_0000_0001, 2n ** 64n - 1n, -5n];
  const viaNumber = new ByteWriter();
  const viaBigint = new ByteWriter();
  for (const v of values) {
    viaNumber.u64(v);
    viaBigint.u64(BigInt(v));
  }
  t.same([...viaNumber.finish()], [...viaBigint.finish()]);
});

t.test('a writer sized exactly hands its buffer over; writing on does not change what it handed over', async (t) => {
  const w = new ByteWriter(8);
  w.u32(1).u32(2);
  const first = w.finish();
  t.equal(first.length, 8);
  w.setU32(0, 0xdeadbeef);
  w.u8(9);
  t.equal(Buffer.from(first).toString('hex'), '0100000002000000', 'the first result is unchanged');
  t.equal(Buffer.from(w.finish()).toString('hex'), 'efbeadde0200000009');
});
