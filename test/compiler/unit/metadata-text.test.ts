// The metadata writer writes the field lists events share once per process
// and splices them in (compiler/metadata.ts metadataText): its text must be
// exactly JSON.stringify of the whole metadata with bigints tagged, for every
// kind of event (entry, return and eprobe probe fields, user text with
// quotes, backslashes and the very key names in it), and read back the same.
import t from 'tap';
import { decodeMetadata, metadataText } from '../../../compiler/metadata.js';
import { buildObjectSpec } from '../../../compiler/object.js';
import type { ObjectMetadata } from '../../../compiler/abi.js';
import { definitions } from './lib.js';

const plainJson = (meta: ObjectMetadata): string =>
  JSON.stringify(meta, (_k, v: unknown) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v));

const LINES = [
  'p:ev/open do_sys_openat2 dfd=%di:s32 name=+0(%si):string arr=+0(%dx):u8[4]',
  'r3:ev/ret vfs_read ret=$retval:s64',
  'p:ev/u /bin/true:0x1149(0x20) s=+0(%si):ustring',
  'r:ev/ur /bin/true:0x1149 rv=$retval:s32 cm=$comm',
];

// text holding what the splice looks for (as a filter's or a path's text could): it must stay text
const HOSTILE = 'x"commonFields":0,"probeFields":1 \\"Fields":2 "Fields":3';

t.test('the same text as stringifying in place, and it reads back', async (t) => {
  const built = buildObjectSpec(definitions(LINES)).metadata;
  const meta = { ...built, events: built.events.map((e, i) => (i === 1 ? { ...e, definition: HOSTILE, filter: HOSTILE } : e)) };
  const text = metadataText(meta);
  t.equal(text, plainJson(meta));
  t.same(decodeMetadata(new TextEncoder().encode(text), 'x.o'), meta);
});

t.test('field lists that are not the shared ones are written as they are', async (t) => {
  const meta = buildObjectSpec(definitions(LINES.slice(0, 2))).metadata;
  const events = meta.events.map((e) => ({ ...e, format: { ...e.format, probeFields: [...e.format.probeFields] } }));
  const own = { ...meta, events };
  t.equal(metadataText(own), plainJson(own));
});
