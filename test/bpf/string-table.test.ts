// The string table both ELF and BTF use, and the little-endian byte writer,
// against bytes written out by hand.
import t from 'tap';
import { ByteWriter } from '../../bpf/byte-writer.js';
import { cString, StringTable } from '../../bpf/string-table.js';

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
