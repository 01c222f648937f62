// The object's metadata is untrusted input: a corrupt, old or foreign
// .kprobe_bpf.events section is refused with one line naming the object and
// what is wrong, by the decoder and by both commands that take an object.
// Runs without root or LLVM.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readObject } from '../../../bpf/elf-reader.js';
import { METADATA_SECTION } from '../../../compiler/abi.js';
import { ObjectFormatError, decodeMetadata, encodeMetadata, eventsOfObject, probeSiteOf } from '../../../compiler/metadata.js';
import { buildObjectSpec, writeObject } from '../../../compiler/object.js';
import { definitions } from './lib.js';

const cli = fileURLToPath(new URL('../../../../bin/kprobe-bpf', import.meta.url));
// from the hostile-object corpus: an object written by compile whose metadata JSON has flipped bytes
const CORRUPT = fileURLToPath(new URL('../../../../test/compiler/fixtures/metadata-json-corrupt.o', import.meta.url));

const LINES = [
  'p:ev/open do_sys_openat2 dfd=%di:s32 name=+0(%si):string arr=+0(%dx):u8[4]',
  'r3:ev/ret vfs_read ret=$retval:s64',
  'p:ev/u /bin/true:0x1149(0x20) s=+0(%si):ustring',
];
const spec = () => buildObjectSpec(definitions(LINES));
const encoder = new TextEncoder();

t.test('an object round-trips its events: place, maxactive, sleepable, definition, print kinds', async (t) => {
  const events = eventsOfObject(writeObject(spec()), 'x.o');
  t.equal(events.length, 3);
  const [open, ret, u] = events;
  t.same(open!.place, { kind: 'symbol', symbol: 'do_sys_openat2', offset: 0n });
  t.same(open!.format.argFields.map((a) => [a.name, a.print, a.count]), [['dfd', 's32', undefined], ['name', 'string', undefined], ['arr', 'u8', 4]]);
  t.equal(open!.sleepable, false);
  t.equal(ret!.maxactive, 3);
  t.same(probeSiteOf(ret!), { tracer: 'kprobe', isReturn: true, group: 'ev', event: 'ret', point: { kind: 'symbol', symbol: 'vfs_read', offset: 0n }, maxactive: 3, section: 'kretprobe/vfs_read' });
  t.same(u!.place, { kind: 'file', path: '/bin/true', offset: 0x1149n, refCtrOffset: 0x20n });
  t.equal(u!.sleepable, true);
  t.equal(u!.section, 'uprobe.s//bin/true:0x1149');
  t.equal(u!.definition, 'p:ev/u /bin/true:0x0000000000001149(0x20) s=+0(%si):ustring');
});

t.test('the corrupt-metadata fixture: one line naming the object and that its metadata is broken', async (t) => {
  const err = t.throws(() => eventsOfObject(readFileSync(CORRUPT), 'metadata-json-corrupt.o')) as unknown;
  t.type(err, ObjectFormatError);
  const msg = (err as Error).message;
  // its flipped bytes include 0x99 and 0xff, which no UTF-8 text holds
  t.equal(msg, 'metadata-json-corrupt.o: .kprobe_bpf.events metadata is not UTF-8 text: the object is corrupt');
  t.type((err as Error).cause, TypeError, "the decoder's error is kept as the cause");
  const json = t.throws(() => decodeMetadata(encoder.encode('{"version":2,"events":[{"id":1,'), 'cut.o')) as Error;
  t.equal(json.message, 'cut.o: .kprobe_bpf.events metadata is not valid JSON: the object is corrupt');
  t.type(json.cause, SyntaxError, "the JSON parser's error is kept as the cause");
});

t.test('an object of another metadata version is refused by version, not misread', async (t) => {
  const s = spec();
  const old = writeObject({ ...s, metadata: { ...s.metadata, version: 2 } });
  t.throws(() => eventsOfObject(old, 'old.o'), {
    name: 'ObjectFormatError',
    message: 'old.o: .kprobe_bpf.events metadata is version 2, this kprobe-bpf reads version 3: compile the object again with this kprobe-bpf',
  });
});

t.test('schema violations name the field', async (t) => {
  const meta = spec().metadata;
  const json = (v: unknown) => encoder.encode(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? { $bigint: x.toString() } : x)));
  const ev0 = meta.events[0]!;
  const cases: [string, unknown, string][] = [
    ['a negative field offset', { ...meta, events: [{ ...ev0, format: { ...ev0.format, argFields: [{ ...ev0.format.argFields[0]!, offset: -8 }] } }] },
      'events[0].format.argFields[0].offset: not a non-negative integer'],
    ['an unknown print kind', { ...meta, events: [{ ...ev0, format: { ...ev0.format, argFields: [{ ...ev0.format.argFields[0]!, print: 'f64' }] } }] },
      'events[0].format.argFields[0].print: not one of u8|'],
    ['an unknown place', { ...meta, events: [{ ...ev0, place: { kind: 'no-such-place' } }] }, 'events[0].place.kind: not one of symbol|address|file|file-symbol|event|function|tracepoint'],
    ['a place offset that is not a bigint', { ...meta, events: [{ ...ev0, place: { kind: 'symbol', symbol: 'x', offset: 5 } }] }, 'events[0].place.offset: not a tagged bigint'],
    ['no format', { ...meta, events: [{ ...ev0, format: undefined }] }, 'events[0].format: not an object'],
    ['events not a list', { ...meta, events: {} }, 'events: not a list'],
    ['a trigger write that is not a string', { ...meta, triggers: { writes: ['g/e:hist:keys=a', 7] } }, 'triggers.writes[1]: not a string'],
  ];
  t.same(decodeMetadata(json({ ...meta, triggers: { kernel: '6.1', writes: ['g/e:hist:keys=a'] } }), 'ok.o').triggers, { kernel: '6.1', writes: ['g/e:hist:keys=a'] }, 'trigger writes round-trip');
  for (const [what, value, path] of cases) {
    t.throws(() => decodeMetadata(json(value), 'bad.o'), { name: 'ObjectFormatError', message: `bad.o: .kprobe_bpf.events metadata is malformed (${path}` }, what);
  }
  t.throws(() => decodeMetadata(encoder.encode('[1,2]'), 'bad.o'), { message: 'bad.o: .kprobe_bpf.events metadata has no version number: the object is corrupt' });
});

t.test('objects of every field kind pass the layout checks', async (t) => {
  const lines = [
    'p:k/open do_sys_openat2 dfd=%di:s32 name=+0(%si):string flags=+8(%dx):x32 c=$comm a7=$arg7 a8=$arg8:u16 st=$stack2 bf=+4(%si):b3@2/8 ch=%di:char',
    'r:k/ret vfs_read ret=$retval:s64 buf=+0(%si):string arr=+0(%di):u8[4] s=@jiffies sy=%di:symbol ss=%si:symstr im=\\"hello"',
    'p:u/t /bin/true:0x1149 a=%di s=+0(%si):ustring arr=+0(%di):string[3] c=$comm im=\\"x" fo=@+0x10 b=+0(%di):b5@3/32 w=+0(%si):s64[2]',
  ];
  const events = eventsOfObject(writeObject(buildObjectSpec(definitions(lines))), 'all.o');
  t.same(events.map((e) => e.format.argFields.length), [9, 7, 8]);
});

t.test('metadata that breaks the layout\'s promises is refused before the printer reads past a record', async (t) => {
  const meta = spec().metadata;
  const ev0 = meta.events[0]!;
  const f0 = ev0.format;
  const bad = (what: string, events: unknown[], problem: string) =>
    t.throws(() => decodeMetadata(encodeMetadata({ ...meta, events } as typeof meta), 'bad.o'),
      { name: 'ObjectFormatError', message: `bad.o: .kprobe_bpf.events metadata is malformed (${problem}): the object is corrupt` }, what);
  bad('a field past the entry', [{ ...ev0, format: { ...f0, argFields: [{ ...f0.argFields[0]!, offset: f0.entrySize }] } }],
    'events[0].format.argFields[0]: dfd ends past the entry');
  bad('a size that is not the print kind\'s', [{ ...ev0, format: { ...f0, argFields: [{ ...f0.argFields[0]!, print: 'u64' }] } }],
    "events[0].format.argFields[0]: dfd's size 4 does not hold 1 u64");
  bad('an array count the size cannot hold', [{ ...ev0, format: { ...f0, argFields: [f0.argFields[0]!, f0.argFields[1]!, { ...f0.argFields[2]!, count: 64 }] } }],
    "events[0].format.argFields[2]: arr's size 4 does not hold 64 u8");
  bad('a return probe\'s fields on an entry probe', [{ ...ev0, format: { ...f0, isReturn: true } }],
    'events[0].format.probeFields: __probe_ip, not __probe_func,__probe_ret_ip');
  bad('an entry larger than any record', [{ ...ev0, format: { ...f0, entrySize: 40000 } }], 'events[0].format.entrySize: 40000 is more than a record can hold');
  bad('two events with one id', [ev0, { ...meta.events[1]!, id: ev0.id }], 'events[1].id: 1 is used twice');
  bad('event id 0', [{ ...ev0, id: 0 }], 'events[0].id: 0 is not an event id');
});

t.test('an object without the section, or not ELF at all, is an ObjectFormatError too', async (t) => {
  t.throws(() => eventsOfObject(new Uint8Array(64), 'zero.o'), { name: 'ObjectFormatError', message: /^zero\.o: not a readable ELF object/ });
  const s = spec();
  const obj = writeObject(s);
  t.ok(readObject(obj).section(METADATA_SECTION), 'our object has the section (the next check is not vacuous)');
});

for (const cmd of ['check', 'trace'] as const) {
  t.test(`kprobe-bpf ${cmd} on the corrupt fixture: exit 1, one line, before libbpf is involved`, async (t) => {
    const r = spawnSync(cli, [cmd, CORRUPT], { encoding: 'utf8', timeout: 30_000 });
    t.equal(r.status, 1);
    t.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    t.equal(lines.length, 1, r.stderr);
    t.match(lines[0], /^kprobe-bpf( check)?: metadata-json-corrupt\.o: \.kprobe_bpf\.events metadata is not UTF-8 text: the object is corrupt$/);
  });
}
