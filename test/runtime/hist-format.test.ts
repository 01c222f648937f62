// The hist file's text (kernel: hist_trigger_show and friends), from
// entries made by hand: the key formats of each modifier, the column
// widths, the totals, and the kernel's order (sort keys, descending,
// secondary). The live comparison is test/guest/hist.test.ts.
import t from 'tap';
import { filterRulesFor, type EventField } from '../../grammar/filter/index.js';
import { parseEventTrigger, type HistTrigger } from '../../grammar/trigger/index.js';
import { histLayout, type HistPlan } from '../../compiler/hist-layout.js';
import { histTable } from '../../runtime/hist/format.js';
import { sortEntries } from '../../runtime/hist/order.js';
import type { HistEntry } from '../../runtime/hist/entries.js';

const FIELDS: EventField[] = [
  { name: 'a', type: 'u32', offset: 16, size: 4, signed: false },
  { name: 'b', type: 's64', offset: 24, size: 8, signed: true },
  { name: 's', type: '__data_loc char[]', offset: 32, size: 4, signed: true },
];
function plan(text: string): HistPlan {
  const trigger = parseEventTrigger(text, { group: 'g', event: 'e', fields: FIELDS, rules: filterRulesFor('6.1') }) as HistTrigger;
  return { group: 'g', event: 'e', text, trigger, index: 0, layout: histLayout(trigger), sums: 'atomic' };
}
const u64 = (...vs: bigint[]) => Buffer.concat(vs.map((v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt.asUintN(64, v)); return b; }));
const str = (s: string, size = 256) => { const b = Buffer.alloc(size); b.write(s, 'latin1'); return b; };

t.test('numeric, log2, buckets and hex keys; values; totals', async (t) => {
  const p = plan('hist:keys=a.log2,b.buckets=100:vals=hitcount,b.hex:sort=a');
  const entries: HistEntry[] = [
    { key: u64(3n, 200n), sums: [2n, 410n], seq: 0n },
    { key: u64(0n, 0n), sums: [5n, 15n], seq: 0n },
  ];
  t.equal(histTable(p, sortEntries(entries, p.trigger, p.layout), 1n, {}),
    '# event histogram\n#\n# trigger info: hist:keys=a.log2,b.buckets=100:vals=hitcount,b.hex:sort=a.log2:size=2048 [active]\n#\n\n'
    + '{ a: ~ 2^0 , b: ~ 0-99 } hitcount:          5  b:          f\n'
    + '{ a: ~ 2^3 , b: ~ 200-299 } hitcount:          2  b:        19a\n'
    + '\nTotals:\n    Hits: 7\n    Entries: 2\n    Dropped: 1\n');
});

t.test('string and execname keys, the second table of a file', async (t) => {
  const p = plan('hist:keys=s,common_pid.execname:sort=hitcount.descending');
  const e: HistEntry = { key: Buffer.concat([str('alpha'), u64(42n)]), sums: [3n], seq: 0n, comm: 'work' };
  const idle: HistEntry = { key: Buffer.concat([str('beta'), u64(0n)]), sums: [9n], seq: 1n, comm: 'swapper/0' };
  const text = histTable(p, sortEntries([e, idle], p.trigger, p.layout), 0n, {}, 1);
  t.ok(text.startsWith('\n\n# event histogram\n'), 'two newlines before a second table');
  t.match(text, `{ s: ${'beta'.padEnd(50)}, common_pid: <idle>          [         0] } hitcount:          9\n`
    + `{ s: ${'alpha'.padEnd(50)}, common_pid: work            [        42] } hitcount:          3\n`);
});

t.test('order: a signed key, descending, then a second sort key', async (t) => {
  const p = plan('hist:keys=b,a:sort=b.descending,a');
  const entries: HistEntry[] = [
    { key: u64(-1n, 2n), sums: [1n], seq: 0n }, { key: u64(5n, 9n), sums: [1n], seq: 0n }, { key: u64(5n, 1n), sums: [1n], seq: 0n },
  ];
  t.same(sortEntries(entries, p.trigger, p.layout).map((x) => [BigInt.asIntN(64, x.key.readBigUInt64LE(0)), x.key.readBigUInt64LE(8)]),
    [[5n, 1n], [5n, 9n], [-1n, 2n]]);
});
