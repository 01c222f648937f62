// The hist trigger language as trace_events_hist.c reads it: what a good
// trigger holds and how it reads back (`# trigger info:`), and the
// refusals: message, caret (the first occurrence of the offending text in
// `hist:PARAMS`, as err_pos finds it) or a bare EINVAL. Live answers of the
// kernel are test/guest/hist.test.ts's (this host has no hist triggers).
import t, { type Test } from 'tap';
import { filterRulesFor, FilterSyntaxError, type EventField } from '../../../grammar/filter/index.js';
import {
  applyOperator, divideByConstant, histTriggerInfo, parseEventTrigger, TriggerError, TriggerUnsupportedError, type HistTrigger,
} from '../../../grammar/trigger/index.js';

const FIELDS: EventField[] = [
  { name: '__probe_ip', type: 'unsigned long', offset: 8, size: 8, signed: false },
  { name: 'a', type: 'u32', offset: 16, size: 4, signed: false },
  { name: 'b', type: 's64', offset: 24, size: 8, signed: true },
  { name: 's', type: '__data_loc char[]', offset: 32, size: 4, signed: true },
];
const opts = { group: 'grp', event: 'ev', fields: FIELDS, rules: filterRulesFor('6.1') };
const hist = (text: string): HistTrigger => {
  const r = parseEventTrigger(text, opts);
  if (r.kind !== 'hist') throw new Error('not hist');
  return r;
};
function refusal(text: string): TriggerError {
  try { parseEventTrigger(text, opts); } catch (e) { if (e instanceof TriggerError) return e; throw e; }
  throw new Error(`accepted: ${text}`);
}

/** Each [text, message, caret] refused with a logged entry: the kernel's message at the kernel's caret. */
function loggedRefusals(t: Test, cases: readonly (readonly [string, string, number])[]): void {
  for (const [text, message, pos] of cases) {
    const e = refusal(text);
    t.same({ message: e.message, pos: e.pos, logged: e.logged }, { message, pos, logged: true }, text);
  }
}

t.test('a good trigger and its readback', async (t) => {
  const h = hist('hist:keys=common_pid.execname,a.log2:vals=hitcount,b:sort=b.descending:size=100');
  t.same(h.keys.map((k) => [k.name, k.modifier]), [['common_pid', 'execname'], ['a', 'log2']]);
  t.same(h.vals.map((v) => v.name), ['b']);
  t.same(h.sort, [{ index: 1, descending: true }]);
  t.equal(h.mapBits, 7, 'size=100 rounds up to 128');
  t.equal(histTriggerInfo(h), 'hist:keys=common_pid.execname,a.log2:vals=hitcount,b:sort=b.descending:size=128 [active]\n');
  t.equal(histTriggerInfo(hist('hist:keys=cpu,a.buckets=0x10,__probe_ip.sym-offset:pause')),
    'hist:keys=common_cpu,a.buckets=16,__probe_ip.sym-offset:vals=hitcount:sort=hitcount:size=2048 [paused]\n', 'cpu is common_cpu; pause');
  t.equal(histTriggerInfo(hist('hist:key=s:values=a,hitcount:sort=a,hitcount if a > 1 && s ~ "x*"')),
    'hist:keys=s:vals=hitcount,a:sort=a,hitcount:size=2048 if a > 1 && s ~ "x*" [active]\n');
  t.equal(histTriggerInfo(hist('hist:keys=common_timestamp.usecs')), 'hist:keys=common_timestamp.usecs:vals=hitcount:sort=hitcount:size=2048:clock=global [active]\n');
  t.equal(hist('hist:keys=s').keys[0]!.size, 256, 'a string key takes MAX_FILTER_STR_VAL');
  t.equal(hist('hist:keys=a if b < 0').filter?.text, 'b < 0');
});

t.test('refusals logged with the kernel\'s text and caret', async (t) => {
  const cases: [string, string, number][] = [
    ['hist:keys=nope', "Couldn't find field", 10],
    ['hist:keys=a:vals=nope', "Couldn't find field", 17],
    ['hist:keys=a.foo', 'Invalid field modifier', 12],
    ['hist:keys=a.execname', 'Invalid field modifier', 12],
    ['hist:keys=a.buckets=0', 'Invalid field modifier', 20],
    ['hist:keys=a:sort=nope', 'Sort field must be a key or a val', 17],
    ['hist:keys=a:sort=a.up', 'Invalid sort modifier', 19],
    ['hist:keys=a:sort=a,b,hitcount', 'Too many sort fields (Max = 2)', 12],
    ['hist:keys=a:sort=,a', 'Empty sort field', 12],
    ['hist:keys=a:sort=', 'Empty assignment', 12],
    ['hist:keys=$x', "Couldn't find field", 10],
    ['hist:keys=1x', 'Expecting numeric literal', 10],
    ['hist:keys=comm', "Couldn't find field", 10],
  ];
  loggedRefusals(t, cases);
  t.equal(refusal('hist:keys=$x').toErrorLog(), "hist:grp:ev: error: Couldn't find variable\n  Command: hist:keys=$x\n                      ^\n"
    + "hist:grp:ev: error: Couldn't find field\n  Command: hist:keys=$x\n                     ^", 'a missing variable, then the field lookup: two entries');
  t.equal(refusal('hist:keys=a if nope == 1').logged, false, '6.1: a trigger filter is refused without a log entry');
  t.throws(() => parseEventTrigger('hist:keys=a if nope == 1', { ...opts, rules: filterRulesFor('6.12') }), FilterSyntaxError, '6.2+: logged as a filter error');
  t.equal(refusal('hist:keys=nope').toErrorLog(), "hist:grp:ev: error: Couldn't find field\n  Command: hist:keys=nope\n                     ^");
});

t.test('refusals the kernel does not log: EINVAL only', async (t) => {
  for (const text of ['hist', 'hist:vals=b', 'hist:keys=a:size=10', 'hist:keys=a:size=1000000', 'hist:keys=a,b,s,a', 'hist:keys=a:foo',
    'hist:keys=a:vals=b,b,b', 'hist:keys=a if', 'traceon:abc', 'nosuch']) {
    const e = refusal(text);
    t.same({ logged: e.logged, errno: e.errno }, { logged: false, errno: 22 }, text);
  }
});

t.test('stacktrace, traceon, traceoff: counts and filters', async (t) => {
  t.same(parseEventTrigger('traceon', opts), { kind: 'traceon' });
  t.same(parseEventTrigger('traceoff:5', opts), { kind: 'traceoff', count: 5n });
  const s = parseEventTrigger('stacktrace:3 if a == 1', opts);
  t.equal(s.kind, 'stacktrace');
  t.equal(s.filter?.text, 'a == 1');
});

t.test('what the kernel takes and kprobe-bpf does not run is said so', async (t) => {
  for (const text of ['hist:keys=a:onmax($x).save(a)', 'hist:keys=a:onmatch(grp.ev).trace(x,$y)', 'snapshot', '!hist:keys=a']) {
    t.throws(() => parseEventTrigger(text, opts), TriggerUnsupportedError, text);
  }
});

t.test('.percent, .graph and nohitcount: bad modifiers before 6.3, not run by kprobe-bpf after', async (t) => {
  t.equal(refusal('hist:keys=a:vals=b.percent').message, 'Invalid field modifier');
  const at612 = { ...opts, rules: filterRulesFor('6.12') };
  for (const text of ['hist:keys=a:vals=b.percent', 'hist:keys=a:vals=b.graph', 'hist:keys=a:vals=b:nohitcount']) {
    t.throws(() => parseEventTrigger(text, at612), TriggerUnsupportedError, text);
  }
});

t.test('variables: readback after the values, never summed or printed; $var of a plain field reads the field', async (t) => {
  const h = hist('hist:keys=a:vals=hitcount,b:ts0=common_timestamp.usecs,x=b:sort=b');
  t.same(h.vars.map((v) => v.varName), ['ts0', 'x']);
  t.equal(histTriggerInfo(h), 'hist:keys=a:vals=hitcount,b:ts0=common_timestamp.usecs,x=b:sort=b:size=2048:clock=global [active]\n');
  t.equal(h.tsInUsecs, true, 'one .usecs puts the trigger\'s timestamps in usecs');
  const local = hist('hist:keys=$k:k=a:vals=$x:x=b.hex');
  t.same([local.keys[0]!.name, local.vals[0]!.name, local.vals[0]!.modifier], ['a', 'b', 'hex']);
  t.equal(histTriggerInfo(local), 'hist:keys=a:vals=hitcount,b.hex:k=a,x=b.hex:sort=hitcount:size=2048 [active]\n');
  t.equal(histTriggerInfo(hist('hist:keys=a:n=5,c=common_cpu')), 'hist:keys=a:vals=hitcount:n=5,c=common_cpu:sort=hitcount:size=2048 [active]\n');
});

t.test('expressions: the kernel\'s operator order, names and folded constants', async (t) => {
  const name = (text: string) => hist(`hist:keys=${text}`).keys[0]!;
  t.equal(name('a+b+b').name, 'a+b+b');
  t.same(name('a-b*a').operands!.map((o) => o.name), ['a', 'b*a'], 'the rightmost + or - is the root');
  t.same(name('a/b*a').operator, '*', 'then the rightmost * or /, left to right');
  t.equal(name('-(a+b)').name, '-(a+b)');
  t.equal(name('a.log2+b.hex').name, 'a.log2+b.hex', 'operands keep their flags in the name');
  const folded = name('2*3+1');
  t.same([folded.source, folded.constant], ['const', 7n]);
  t.equal(histTriggerInfo(hist('hist:keys=a*2:vals=b-a,6/4:sort=b-a')), 'hist:keys=a*2:vals=hitcount,b-a,1:sort=b-a:size=2048 [active]\n');
  t.equal(name('common_timestamp.usecs-common_timestamp.usecs').name, 'common_timestamp.usecs-common_timestamp.usecs');
});

t.test('division: a constant divisor as hist_field_get_div_fn picks (multiply and shift below 2^20)', async (t) => {
  t.equal(divideByConstant(3n)(5n), 2n, '(5 * (2^20 / 3) + 2^20 - 1) >> 20');
  t.equal(divideByConstant(3n)(3n << 20n), 1n << 20n, 'a plain division from 2^20');
  t.equal(divideByConstant(8n)(17n), 2n, 'a power of two shifts');
  t.equal(applyOperator('/', 7n, 0n), (1n << 64n) - 1n, 'a zero divisor at run time is -1');
  t.equal(applyOperator('-', 1n, 2n), (1n << 64n) - 1n, 'u64 arithmetic');
});

t.test('expression and variable refusals as the kernel logs them', async (t) => {
  const cases: [string, string, number][] = [
    ['hist:keys=a:vals=common_timestamp.usecs-common_timestamp', "Timestamp units in expression don't match", 0],
    ['hist:keys=a:vals=b/0', 'Division by zero', 19],
    ['hist:keys=a:vals=a+b+a+b+a', 'Too many subexpressions (3 max)', 10],
    ['hist:keys=a:vals=b+s', 'String type can not be an operand in expression', 2],
    ['hist:keys=a:vals=-(a)b', 'Unary minus not supported in sub-expressions', 19],
    ['hist:keys=a:x=a,x=b', 'Variable already defined', 12],
    ['hist:keys=a:vals=b.log2', 'Invalid field modifier', 17],
    ['hist:keys=a:vals=b.sym', 'Invalid field modifier', 17],
    ['hist:keys=a:x=b.log2', 'Invalid field modifier', 14],
  ];
  loggedRefusals(t, cases);
  t.equal(refusal('hist:keys=a:vals=b/0').errno, 33, 'EDOM');
  const withOther = { ...opts, variables: [{ group: 'grp', event: 'other', name: 'ts0' }] };
  t.throws(() => parseEventTrigger('hist:keys=a:vals=$ts0', withOther), TriggerUnsupportedError, 'another event\'s variable: not run');
  try { parseEventTrigger('hist:keys=$ts0', withOther); t.fail('accepted'); } catch (e) {
    t.same([(e as TriggerError).message, (e as TriggerError).pos], ['Using variable references in keys not supported', 10], 'a key reading a variable');
  }
  try { parseEventTrigger('hist:keys=a:ts0=b', { ...opts, variables: [{ group: 'grp', event: 'ev', name: 'ts0' }] }); t.fail('accepted'); } catch (e) {
    t.equal((e as TriggerError).message, 'Variable already defined', 'a variable another trigger of the event defines');
  }
});
