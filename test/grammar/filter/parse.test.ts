// The typed tree a filter parses to, with byte spans into the stored text,
// and the kernel's own filter self-test (trace_events_filter.c,
// CONFIG_FTRACE_STARTUP_TEST: test_filter_data) on the evaluator.
import t from 'tap';
import { compileFilter, evaluateFilter, filterRulesFor, parseFilter, type EventField, type FilterExpr } from '../../../grammar/filter/index.js';

const rules = filterRulesFor('6.18');

/** The tree as text: predicates by field name. */
function shape(e: FilterExpr, names: readonly string[]): string {
  if (e.kind === 'pred') return names[e.index]!;
  if (e.kind === 'not') return `!${shape(e.term, names)}`;
  return `(${e.terms.map((x) => shape(x, names)).join(e.kind === 'and' ? ' && ' : ' || ')})`;
}

t.test('&& binds tighter than ||, ! takes the next term, parentheses group', async (t) => {
  const cases: Array<[string, string]> = [
    ['a == 1', 'a'],
    ['a == 1 || b == 2 && c == 3', '(a || (b && c))'],
    ['a == 1 && b == 2 || c == 3', '((a && b) || c)'],
    ['!a == 1 && b == 2', '(!a && b)'],
    ['!(a == 1 || b == 2) && !!c == 3', '(!(a || b) && c)'],
    ['((a == 1))', 'a'],
    ['a==1||(b==2&&(c==3||d==4))', '(a || (b && (c || d)))'],
  ];
  for (const [text, want] of cases) {
    const ast = parseFilter(text, rules);
    t.equal(shape(ast.expr!, ast.predicates.map((p) => p.field.name)), want, text);
  }
});

t.test('predicates keep where each part is, in bytes of the stored text', async (t) => {
  const utf8 = parseFilter('é == 1', rules);
  t.same(utf8.predicates[0]!.field, { name: '\u00c3', span: { start: 0, end: 1 } }, 'é is bytes C3 A9: a Latin-1 letter, then punctuation');
  t.same(utf8.predicates[0]!.stop, { code: 'INVALID_OP', pos: 2, errno: 22 });
  const ast = parseFilter('  u == 1 || s.ustring ~ "x*"  \n', rules);
  t.equal(ast.text, '  u == 1 || s.ustring ~ "x*"', 'trailing whitespace removed, leading kept');
  const [, s] = ast.predicates;
  t.same(s!.field.span, { start: 12, end: 13 });
  t.ok(s!.ustring);
  t.same(s!.op, { text: '~', span: { start: 22, end: 23 } });
  t.same(s!.value, { kind: 'string', quote: '"', text: 'x*', span: { start: 24, end: 28 } });
  const cpus = parseFilter('cpu & CPUS{0-1}', rules).predicates[0]!.value;
  t.same(cpus, { kind: 'cpus', list: '0-1', span: { start: 6, end: 15 } });
  const fn = parseFilter('__probe_ip.function == vfs_read', rules).predicates[0]!;
  t.ok(fn.function);
  t.same(fn.value, { kind: 'symbol', text: 'vfs_read', span: { start: 23, end: 31 } });
});

t.test('a syntax error waits on its predicate for the field checks the kernel makes first', async (t) => {
  const ast = parseFilter('a == 1 && b == "x', rules);
  t.same(ast.stop, { code: 'MISSING_QUOTE', pos: 15, errno: 3 }, 'unbalanced quotes: calc_stack, before any predicate');
  const inside = parseFilter('a == 1 && b < 12345678901234567890123456', rules);
  t.equal(inside.expr, undefined);
  t.same(inside.predicates[1]!.stop, { code: 'OPERAND_TOO_LONG', pos: 41, errno: 22 }, 'one past the end of the number');
});

/** kernel: trace_events_filter_test.h, ftrace_test_filter: eight int fields a..h. */
const TEST_FIELDS: EventField[] = [...'abcdefgh'].map((name, i) => ({ name, type: 'int', offset: 8 + 4 * i, size: 4, signed: true }));

/** kernel: test_filter_data[], the filters and records of the boot-time self-test, with its expected answers. */
const SELFTEST: Array<[filter: string, rows: Array<[match: boolean, values: number[]]>]> = [
  ['a == 1 && b == 1 && c == 1 && d == 1 && e == 1 && f == 1 && g == 1 && h == 1',
    [[true, [1, 1, 1, 1, 1, 1, 1, 1]], [false, [0, 1, 1, 1, 1, 1, 1, 1]], [false, [1, 1, 1, 1, 1, 1, 1, 0]]]],
  ['a == 1 || b == 1 || c == 1 || d == 1 || e == 1 || f == 1 || g == 1 || h == 1',
    [[false, [0, 0, 0, 0, 0, 0, 0, 0]], [true, [0, 0, 0, 0, 0, 0, 0, 1]], [true, [1, 0, 0, 0, 0, 0, 0, 0]]]],
  ['(a == 1 || b == 1) && (c == 1 || d == 1) && (e == 1 || f == 1) && (g == 1 || h == 1)',
    [[false, [0, 0, 1, 1, 1, 1, 1, 1]], [true, [0, 1, 0, 1, 0, 1, 0, 1]], [true, [1, 0, 1, 0, 0, 1, 0, 1]], [false, [1, 0, 1, 0, 0, 1, 0, 0]]]],
  ['(a == 1 && b == 1) || (c == 1 && d == 1) || (e == 1 && f == 1) || (g == 1 && h == 1)',
    [[true, [1, 0, 1, 1, 1, 1, 1, 1]], [true, [0, 0, 0, 0, 0, 0, 1, 1]], [false, [0, 0, 0, 0, 0, 0, 0, 1]]]],
  ['(a == 1 && b == 1) && (c == 1 && d == 1) && (e == 1 && f == 1) || (g == 1 && h == 1)',
    [[true, [1, 1, 1, 1, 1, 1, 0, 0]], [false, [0, 0, 0, 0, 0, 0, 0, 1]], [true, [1, 1, 1, 1, 1, 0, 1, 1]]]],
  ['((a == 1 || b == 1) || (c == 1 || d == 1) || (e == 1 || f == 1)) && (g == 1 || h == 1)',
    [[true, [1, 1, 1, 1, 1, 1, 0, 1]], [false, [0, 0, 0, 0, 0, 0, 0, 0]], [true, [1, 1, 1, 1, 1, 0, 1, 1]]]],
  ['((((((((a == 1) && (b == 1)) || (c == 1)) && (d == 1)) || (e == 1)) && (f == 1)) || (g == 1)) && (h == 1))',
    [[true, [1, 1, 1, 1, 1, 1, 1, 1]], [false, [0, 1, 0, 1, 0, 1, 0, 1]], [false, [1, 0, 1, 0, 1, 0, 1, 0]]]],
  ['((((((((a == 1) || (b == 1)) && (c == 1)) || (d == 1)) && (e == 1)) || (f == 1)) && (g == 1)) || (h == 1))',
    [[true, [1, 1, 1, 1, 1, 1, 1, 1]], [true, [0, 1, 0, 1, 0, 1, 0, 1]], [true, [1, 0, 1, 0, 1, 0, 1, 0]]]],
];

t.test("the kernel's filter self-test: same answers from the reference evaluator", async (t) => {
  for (const [filter, rows] of SELFTEST) {
    const checked = compileFilter(filter, TEST_FIELDS, { rules });
    for (const [match, values] of rows) {
      const data = new Uint8Array(40);
      values.forEach((v, i) => new DataView(data.buffer).setInt32(8 + 4 * i, v, true));
      t.equal(evaluateFilter(checked, { data, cpu: 0, comm: '' }), match, `${filter} on ${values.join('')}`);
    }
  }
});
