// What the kernel answers for refused filters: message, caret position,
// errno, and the filter file's text. Expected values are the live 6.18
// kernel's answers, written down by hand (and the facts file's examples).
import t from 'tap';
import { compileFilter, filterRulesFor, FilterSyntaxError, kallsymsHost, type FilterErrorCode } from '../../../grammar/filter/index.js';
import { errnoName } from '../../../lib/errno.js';
import { FIELDS } from './fields.js';

const rules = filterRulesFor('6.18');
const host = kallsymsHost('ffffffff81400000 T vfs_read\nffffffff81400200 T vfs_write\n', 2);

function refusal(filter: string, r = rules): FilterSyntaxError {
  try {
    compileFilter(filter, FIELDS, { rules: r, host });
  } catch (e) {
    if (e instanceof FilterSyntaxError) return e;
    throw e;
  }
  throw new Error(`accepted: ${filter}`);
}

const CASES: Array<[filter: string, code: FilterErrorCode, pos: number, errno: string]> = [
  ['dsig == 17', 'FIELD_NOT_FOUND', 5, 'EINVAL'],
  ['a = 1', 'INVALID_OP', 3, 'EINVAL'],
  ['a == 1 &&', 'INVALID_FILTER', 9, 'EINVAL'],
  ['a == 1 ||', 'INVALID_FILTER', 9, 'EINVAL'],
  ['a == 1 && !', 'INVALID_FILTER', 11, 'EINVAL'],
  ['a == 1 && !!', 'INVALID_FILTER', 12, 'EINVAL'],
  ['!', 'NO_FILTER', 1, 'EINVAL'],
  ['a == 1 && (', 'TOO_MANY_OPEN', 10, 'ENOENT'],
  ['a==1||(b==2&&', 'TOO_MANY_OPEN', 6, 'ENOENT'],
  ['((a==1)', 'TOO_MANY_OPEN', 0, 'ENOENT'],
  [')', 'TOO_MANY_CLOSE', 0, 'EPERM'],
  ['a == 1))', 'TOO_MANY_CLOSE', 6, 'EPERM'],
  ['(a == 1) (b == 2)', 'TOO_MANY_PREDS', 9, 'EPERM'],
  ['a == 1 & b == 2', 'TOO_MANY_PREDS', 7, 'EPERM'],
  ['a=="x', 'MISSING_QUOTE', 3, 'ESRCH'],
  ['a.ustringx == 1', 'INVALID_OP', 10, 'EINVAL'],
  ['a.ustring.function == 1', 'ILLEGAL_FIELD_OP', 23, 'EINVAL'],
  ['b.function == 5', 'ILLEGAL_FIELD_OP', 15, 'EINVAL'],
  ['__probe_ip.function == 0x5', 'NO_FUNCTION', 27, 'EINVAL'],
  ['__probe_ip.function == main', 'NO_FUNCTION', 28, 'EINVAL'],
  ['comm == CPUS{0}', 'ILLEGAL_FIELD_OP', 9, 'EINVAL'],
  ['cpu < CPUS{0}', 'ILLEGAL_FIELD_OP', 7, 'EINVAL'],
  ['a == CPUS{0:1/2}', 'INVALID_CPULIST', 16, 'EINVAL'],
  ['a == CPUS{1}x', 'TOO_MANY_PREDS', 12, 'EPERM'],
  ['a == CPUS{1', 'MISSING_BRACE_CLOSE', 12, 'EINVAL'],
  ['a == CPUS 1', 'MISSING_BRACE_OPEN', 11, 'EINVAL'],
  ['a == CPUS{}', 'INVALID_CPULIST', 11, 'EINVAL'],
  ['a == CPUS{999}', 'INVALID_CPULIST', 14, 'EINVAL'],
  ['STACKTRACE', 'INVALID_OP', 11, 'EINVAL'],
  ['comm == 5', 'EXPECT_STRING', 9, 'EINVAL'],
  ['s < "x"', 'ILLEGAL_FIELD_OP', 5, 'EINVAL'],
  ['a == "x"', 'EXPECT_DIGIT', 6, 'EINVAL'],
  ['a ~ 1', 'ILLEGAL_FIELD_OP', 5, 'EINVAL'],
  ['a == 12abc', 'ILLEGAL_INTVAL', 6, 'EINVAL'],
  ['b == -1', 'ILLEGAL_INTVAL', 6, 'EINVAL'],
  ['a == 123456789012345678901234', 'OPERAND_TOO_LONG', 30, 'EINVAL'],
  ['s == bash', 'INVALID_VALUE', 6, 'EINVAL'],
  ['(a == 1 &&)', 'ERRNO', 0, 'EPERM'],
  ['&& a == 1', 'ERRNO', 0, 'EPERM'],
  ['!=', 'ERRNO', 0, 'EPERM'],
  ['  ', 'ERRNO', 0, 'EINVAL'],
  ['()', 'ERRNO', 0, 'EINVAL'],
  ['nosuch == 1 b == 2', 'FIELD_NOT_FOUND', 7, 'EINVAL'],
];

for (const [filter, code, pos, errno] of CASES) {
  t.test(`${JSON.stringify(filter)}: ${code} at ${pos}, ${errno}`, async (t) => {
    const e = refusal(filter);
    t.equal(e.code, code);
    t.equal(e.pos, pos);
    t.equal(errnoName(e.errno), errno);
  });
}

t.test('error_log entry and filter file, as the kernel prints them', async (t) => {
  const e = refusal('a == CPUS{1');
  t.equal(e.toErrorLog(), 'event filter parse error: error: Missing \'}\'\n  Command: a == CPUS{1\n' + ' '.repeat(23) + '^');
  t.equal(e.toFilterFile(), "a == CPUS{1\n           ^\nparse_error: Missing '}'\n", 'the caret is clamped to the text in the file only');
  const none = refusal('()');
  t.equal(none.message, 'Error');
  t.equal(none.toFilterFile(), '()\nError: (0)\n');
  t.equal(none.toErrorLog(), 'event filter parse error: error: Error\n  Command: ()\n           ^');
  const trailing = refusal('a == 1 &&   \n');
  t.equal(trailing.filter, 'a == 1 &&', 'trailing whitespace is gone before parsing');
});

t.test('6.12 accepts a trailing && or ||, Debian 6.1 refuses it as 6.18 does; 6.1 has neither CPUS{} nor .function', async (t) => {
  const r612 = filterRulesFor('6.12');
  t.doesNotThrow(() => compileFilter('a == 1 &&', FIELDS, { rules: r612, host }), '6.12: a == 1 &&');
  t.doesNotThrow(() => compileFilter('a == 1 && b == 2 ||', FIELDS, { rules: r612, host }), '6.12: two terms and ||');
  // 6.12's predicate_parse reads prog[-1], outside its array, for this one (grammar/filter/program.ts):
  // the 6.12.95 guest accepted it in one run and refused it as we do in another.
  const pending = refusal('a == 1 || b == 2 &&', r612);
  t.equal(pending.toFilterFile(), 'a == 1 || b == 2 &&\nError: (0)\n', '6.12: a pending || under a trailing &&: the kernel\'s WARN_ON refusal');
  t.doesNotThrow(() => compileFilter('a == 1 || b == 2 &&', FIELDS, { rules: r612, host }), '6.12: a pending || under a trailing &&', { todo: 'the 6.12 kernel\'s answer depends on the heap bytes before its program array (accepted once in the guest); ours is its refusal' });
  const r61 = filterRulesFor('6.1');
  for (const f of ['a == 1 &&', 'a == 1 && b == 2 ||', 'a == 1 || b == 2 &&']) {
    const e = refusal(f, r61);
    t.equal(e.message, 'Meaningless filter expression', `6.1: ${f}`);
  }
  const v61 = filterRulesFor('6.1.176');
  t.equal(refusal('a == CPUS{1}', v61).code, 'INVALID_VALUE');
  t.equal(refusal('__probe_ip.function == vfs_read', v61).code, 'INVALID_OP');
  t.equal(refusal('stacktrace == 1', v61).code, 'FIELD_NOT_FOUND');
  t.doesNotThrow(() => compileFilter('stacktrace == 1', FIELDS, { rules: filterRulesFor('6.12'), host }));
});

t.test('a write of a page or more is refused before parsing', async (t) => {
  const e = refusal(`a == 1 || ${'a == 1 || '.repeat(410)}a == 1`);
  t.equal(errnoName(e.errno), 'EINVAL');
  t.notOk(e.logged, 'no error_log entry, and the old filter stays');
  t.ok(refusal('a = 1').logged);
});
