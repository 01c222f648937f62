// The kernel's semantics on one record, written out by hand: truncation to
// the field, signedness, fields that never match, the generic cpu and comm,
// the string match kinds with their quirks, CPUS{}, &&/||/! precedence.
import t from 'tap';
import { compileFilter, evaluateFilter, filterRulesFor, kallsymsHost, type FilterRecord } from '../../../grammar/filter/index.js';
import { FIELDS, TP_FIELDS } from './fields.js';

const rules = filterRulesFor('6.18');
const host = kallsymsHost('ffffffff81400000 T vfs_read\nffffffff81400200 T vfs_write\nffffffff81400400 T vfs_readv\n', 4);

/** The record of FIELDS: a=-5 b=1 c=0xbeef d=-1 s="libc.so.6" u="/bin/bash" ar8=[0,0,0] cs="abcd". */
function record(over: Partial<FilterRecord> = {}): FilterRecord {
  const data = new Uint8Array(128);
  const v = new DataView(data.buffer);
  v.setUint16(0, 2326, true);
  v.setInt32(4, 4242, true);
  v.setBigUint64(8, 0xffffffff81400010n, true);
  v.setInt32(16, -5, true);
  v.setUint8(20, 1);
  v.setUint16(21, 0xbeef, true);
  v.setBigInt64(23, -1n, true);
  const put = (fieldOffset: number, at: number, text: string) => {
    data.set(Buffer.from(`${text}\0`, 'latin1'), at);
    v.setUint32(fieldOffset, ((text.length + 1) << 16) | at, true);
  };
  put(31, 80, 'libc.so.6');
  put(35, 96, '/bin/bash');
  data.set(Buffer.from('abcd', 'latin1'), 59);
  v.setUint32(63, (1 << 16) | 112, true); // st[0] = "", st[1] left unset
  return { data, cpu: 1, comm: 'bash', ...over };
}

const keeps = (filter: string, r: FilterRecord = record()) => evaluateFilter(compileFilter(filter, FIELDS, { rules, host }), r);

/** Rows of [filter, does the kernel keep the record, why]. */
function table(name: string, rows: ReadonlyArray<readonly [string, boolean, string]>): void {
  t.test(name, async (t) => {
    for (const [filter, kept, why] of rows) t.equal(keeps(filter), kept, `${filter}${why ? `: ${why}` : ''}`);
  });
}

table('numbers: truncated to the field, compared with its signedness', [
  ['a == -5', true, ''],
  ['a < 0', true, 's32 compares signed'],
  ['a == 4294967291', true, '2^32 - 5 truncates to -5 in 32 bits'],
  ['b == 257', true, '257 truncates to 1 in a u8'],
  ['c > 0x8000', true, 'u16 compares unsigned'],
]);

t.test('numbers: kstrtoll range on signed fields', async (t) => {
  t.throws(() => keeps('d == 0xffffffffffffffff'), { message: 'Illegal integer value' }, 'kstrtoll refuses 2^64-1');
  t.ok(keeps('d == -1'));
  t.ok(keeps('d < 0'));
  t.ok(keeps('c & 0x0200'), '& tests any common bit');
  t.notOk(keeps('c & 0x4010'));
  t.ok(keeps('common_pid == 4242'));
  t.ok(keeps('__probe_ip >= 0xffffffff81400000'));
});

table('fields of odd size never match, whatever the operator', [
  ['ar8 == 0', false, ''],
  ['ar8 != 0', false, '!= is the same NOP, not its negation'],
  ['!(ar8 == 0)', true, 'but a ! around it does negate'],
  ['arr < 100', false, 'u32[4] is 16 bytes'],
  ['cs == 0x64636261', true, 'char[4] is 4 bytes: compared as a u32'],
  ['stacktrace == 0', false, 'the generic stacktrace has size 0'],
]);

table('the generic cpu: an int compare, & never matches, CPUS{} lists', [
  ['cpu == 1', true, ''],
  ['CPU >= 1 && common_cpu < 2', true, ''],
  ['cpu & 1', false, 'filter_pred_cpu has no & case'],
  ['cpu == CPUS{1}', true, ''],
  ['cpu & CPUS{1}', true, 'a single-CPU mask turns & into =='],
  ['cpu == CPUS{0-1}', false, 'one CPU never equals a mask of two'],
  ['cpu != CPUS{0-1}', true, ''],
  ['cpu & CPUS{0-1}', true, ''],
  ['cpu & CPUS{2-3}', false, ''],
  ['b & CPUS{1}', true, 'a numeric field with one CPU: b == 1'],
  ['b & CPUS{0-1}', true, 'a numeric field read as a CPU number'],
  ['c & CPUS{0-3}', false, 'a CPU number at or above nr_cpu_ids never matches'],
]);

t.test('strings: the match kinds and their kernel quirks', async (t) => {
  t.ok(keeps('s == "libc.so.6"'));
  t.notOk(keeps('s == "libc.so"'));
  t.ok(keeps("s != 'libc.so'"));
  t.ok(keeps('s ~ "*.so*"'), 'middle');
  t.ok(keeps('s ~ "libc*"'), 'front');
  t.ok(keeps('s ~ "*.6"'), 'end');
  t.ok(keeps('s ~ "lib?.so.[0-9]"'), 'glob');
  t.ok(keeps('s ~ "!*.7"'), 'a leading ! negates');
  t.ok(keeps('s == "*.so*"') === false, '== takes * literally');
  t.ok(keeps('u ~ "*bash"'));
  t.ok(keeps('st == ""'), 'a string array field tests its first element');
  t.notOk(keeps('s ~ "libc.so.6x*"'), 'a front match longer than the string');
});

table('comm: current->comm in a 16-byte buffer', [
  ['comm == "bash"', true, ''],
  ['COMM ~ "ba*"', true, ''],
  ['comm ~ "*sh"', false, 'an end match looks at the last bytes of all 16, not at the string'],
  ['comm ~ "*as*"', true, ''],
]);

t.test('comm: a 15-character comm ends where the end match looks', async (t) => {
  t.ok(keeps('comm ~ "*sh"', record({ comm: 'abcdefghijklmsh' })));
});

t.test('static, pointer, relative strings and cpumask fields (tracepoint-style fields)', async (t) => {
  const data = new Uint8Array(96);
  data.set(Buffer.from('swapper/1\0', 'latin1'), 8);
  new DataView(data.buffer).setBigUint64(24, 0x1000n, true);
  new DataView(data.buffer).setUint32(32, (8 << 16) | 64, true);
  data[64] = 0b0110;
  new DataView(data.buffer).setUint32(36, (4 << 16) | 4, true);
  data.set(Buffer.from('rel\0', 'latin1'), 44);
  const r: FilterRecord = { data, cpu: 0, comm: 'x', readString: (a, user) => (a === 0x1000n && !user ? 'kname' : undefined) };
  const ok = (f: string) => evaluateFilter(compileFilter(f, TP_FIELDS, { rules, host }), r);
  t.ok(ok('prev_comm == "swapper/1"'));
  t.ok(ok('prev_comm ~ "swap*"'));
  t.ok(ok('name == "kname"'));
  t.notOk(ok('name.ustring == "kname"'), '.ustring reads user memory: a fault is false');
  t.notOk(ok('name.ustring != "kname"'), '... even under !=');
  t.ok(ok('rel == "rel"'));
  t.ok(ok('mask == CPUS{1-2}'));
  t.ok(ok('mask & CPUS{2}'));
  t.notOk(ok('mask == CPUS{2}'), 'one CPU equals the mask only when it is all of it');
  t.ok(ok('mask != CPUS{0}'));
});

table('&& binds tighter than ||; ! applies to the next term', [
  ['b == 1 || b == 2 && c == 0', true, 'b == 1 || (b == 2 && c == 0)'],
  ['(b == 1 || b == 2) && c == 0', false, ''],
  ['!b == 2', true, ''],
  ['!!b == 2', false, ''],
  ['!(b == 2 || c == 0) && a < 0', true, ''],
  ['!(b == 1 && a < 0) || c == 0', false, ''],
]);

table('FIELD.function: the address inside the function', [
  ['__probe_ip.function == vfs_read', true, ''],
  ['__probe_ip.function == vfs_write', false, ''],
  ['__probe_ip.function != vfs_write', true, ''],
  ['__probe_ip.function == 0xffffffff81400004', true, 'a number names the function that contains it'],
]);
