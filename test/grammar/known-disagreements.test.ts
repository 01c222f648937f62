// The kernel differentials' record of understood disagreements: an entry
// excuses a disagreement only when the line and both answers are exactly as
// recorded, and an entry nothing matches any more is reported (so a todo can
// neither hide a new difference on the same line nor outlive its cause).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { sortDisagreements, type Answer, type Disagreement, type KnownDisagreements } from '../lib/grammar-diff.js';

const refused = (log: string): Answer => ({ accepted: false, errno: 'EINVAL', readback: [], log: [log] });
const ok = (line: string): Answer => ({ accepted: true, readback: [line], log: [] });
const d = (line: string, kernel: Answer, ours: Answer): Disagreement => ({ line, kernel, ours });

const R10 = d('r:g/a vfs_read', ok('r10:g/a vfs_read'), ok('r:g/a vfs_read'));
const CHAR = d('p:g/a vfs_read %di:char', refused('trace_kprobe: error: Unknown type is specified'), ok('p:g/a vfs_read arg1=%di:char'));
const RECORD: KnownDisagreements[] = [{ why: 'r10', cases: [R10] }, { why: 'char', cases: [CHAR] }];

t.test('found exactly as recorded: known, with its reason', async (t) => {
  const s = sortDisagreements([R10, CHAR], RECORD);
  t.same(s.known.map((k) => k.why), ['r10', 'char']);
  t.same(s.unexplained, []);
  t.same(s.unseen, []);
});

t.test('the same line with another answer of ours is unexplained, and its entry unseen', async (t) => {
  const changed = d(CHAR.line, CHAR.kernel, ok('p:g/a vfs_read arg1=%di:u8'));
  const s = sortDisagreements([R10, changed], RECORD);
  t.same(s.known.map((k) => k.why), ['r10']);
  t.same(s.unexplained, [changed]);
  t.same(s.unseen, [{ line: CHAR.line, why: 'char' }]);
});

t.test("another kernel answer (errno, log, readback) is not the recorded one", async (t) => {
  for (const kernel of [{ ...CHAR.kernel, errno: 'ENOENT' }, refused('trace_kprobe: error: Invalid fetch argument'), ok('p:g/a vfs_read arg1=%di:char')]) {
    t.same(sortDisagreements([d(CHAR.line, kernel, CHAR.ours)], RECORD).known, [], JSON.stringify(kernel));
  }
});

t.test('an entry whose disagreement is gone is reported', async (t) => {
  t.same(sortDisagreements([], RECORD).unseen.map((u) => u.why), ['r10', 'char']);
});

t.test("the guest's kprobe record is well formed: every case is a load-time check with two different answers", async (t) => {
  const { loadTime } = JSON.parse(readFileSync(new URL('../../../test/guest/kprobe-grammar-known.json', import.meta.url), 'utf8')) as { loadTime: KnownDisagreements[] };
  const cases = loadTime.flatMap((k) => k.cases);
  t.ok(cases.length > 0);
  for (const c of cases) {
    t.ok(typeof c.line === 'string' && Array.isArray(c.kernel.readback) && Array.isArray(c.ours.log), c.line.slice(0, 60));
    t.notSame(c.kernel, c.ours, 'a recorded disagreement disagrees');
    // live kernel state (what exists), not a rule: the kernel refuses without an error_log entry
    t.match(c.kernel, { accepted: false, errno: 'ENOENT', log: [] }, `the kernel's refusal is about what exists: ${c.line}`);
  }
  t.equal(new Set(cases.map((c) => c.line)).size, cases.length, 'one entry per line');
});
