// The writer takes a section's contents as bytes or as text it writes as
// UTF-8 in place (the compiler's metadata goes that way, without an encoded
// copy first): both must give the same file, byte for byte, whatever the text
// holds, and the programs encoded in place must be what encode() gives.
import t from 'tap';
import { readObject } from '../../bpf/elf-reader.js';
import { writeObject } from '../../bpf/elf-writer.js';
import { encode } from '../../bpf/insn.js';
import { sampleObject } from './programs.js';

const TEXTS = [
  '{"events":["p_openat2"]}',
  // multi-byte UTF-8 (2, 3 and 4 bytes), so length in UTF-16 units and in bytes differ
  '{"path":"/tmp/é/日本/\u{1f600}","n":1}',
  // a lone surrogate is written as U+FFFD (3 bytes), as TextEncoder writes it
  'a\ud800b',
  '',
];

for (const text of TEXTS) {
  t.test(`text section ${JSON.stringify(text)}`, async (t) => {
    const asText = writeObject(sampleObject({ extraSections: [{ name: '.test.text', data: text }] }));
    const asBytes = writeObject(sampleObject({ extraSections: [{ name: '.test.text', data: new TextEncoder().encode(text) }] }));
    t.same(Buffer.from(asText), Buffer.from(asBytes), 'the same file either way');
    t.same(Buffer.from(readObject(asText).section('.test.text')!.data), Buffer.from(new TextEncoder().encode(text)), 'the section holds its UTF-8');
  });
}

t.test('programs are encoded in place as encode() encodes them', async (t) => {
  const spec = sampleObject({});
  const obj = readObject(writeObject(spec));
  for (const p of spec.programs) {
    const sec = obj.section(p.section)!;
    const want = encode(p.insns!);
    const at = Buffer.from(sec.data).indexOf(Buffer.from(want));
    t.ok(at >= 0 && at % 8 === 0, `${p.name}: its encoded instructions are in ${p.section}`);
  }
});
