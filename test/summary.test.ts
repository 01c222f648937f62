// test/summary.mjs, the filter `make test` pipes tap through: the closing
// counts line CI reads, and the recap of failures printed above it.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from './vm/images.js';

const SUMMARY = `${REPO_ROOT}/test/summary.mjs`;

function summarize(tap: string): { out: string; code: number | null } {
  const r = spawnSync(process.execPath, [SUMMARY], { input: tap, encoding: 'utf8' });
  return { out: r.stdout, code: r.status };
}

const STREAM = [
  'TAP version 14',
  '# Subtest: f.js',
  '    # Subtest: guest',
  '        ok 1 - boots',
  '        not ok 2 - guest panic after 163.6 s',
  '          ---',
  '          console: |-',
  '            Kernel panic - not syncing: Fatal exception',
  '            Call Trace:',
  '          ...',
  '        not ok 3 - known # TODO not yet',
  '          ---',
  '          why: hidden',
  '          ...',
  '        1..3',
  '    not ok 1 - guest',
  '      ---',
  '      at: parent',
  '      ...',
  '    not ok 2 - sibling without a diagnostic',
  '    1..2',
  'not ok 1 - f.js',
  '# { total: 4, pass: 1, fail: 2, todo: 1 }',
  '',
].join('\n');

t.test('the stream passes through, failures are repeated innermost first with their diagnostics, then the counts', async (t) => {
  const { out, code } = summarize(STREAM);
  t.ok(out.startsWith(STREAM), 'the TAP stream comes through unchanged');
  const recap = out.slice(STREAM.length);
  t.match(recap, /# failures \(2\), repeated from above:\n#   not ok - guest panic after 163\.6 s\n#     console: \|-\n#       Kernel panic - not syncing: Fatal exception\n#       Call Trace:\n#   not ok - sibling without a diagnostic\n/, 'the leaf failures with their YAML');
  t.notMatch(recap, /not ok - guest\n|f\.js|not ok - known|hidden/, 'no parent repeats its child, no todo among the failures');
  t.match(recap, /\n# todo \(1\):\n#   known # TODO not yet\n/, 'each todo named on a line');
  t.match(recap, /\ntests: 1 passed, 2 failed, 0 skipped, 1 todo\n$/, 'the counts line closes the output');
  t.equal(code, 0, 'failures alone do not change the exit status (tap\'s does, through pipefail)');
});

t.test('a long diagnostic is cut, and a passing run has no recap', async (t) => {
  const long = ['TAP version 14', 'not ok 1 - big', '  ---', '  console: |-', ...Array.from({ length: 100 }, (_, i) => `    line ${i}`), '  ...', '# { total: 1, fail: 1 }', ''].join('\n');
  const recap = summarize(long).out.slice(long.length);
  t.match(recap, /#       line 58\n#     … 41 more lines above\n/, 'cut at 60 lines, the rest counted');
  t.notMatch(recap, /line 59\n/, 'nothing past the cut');
  const pass = summarize('TAP version 14\nok 1 - a\n# { total: 1, pass: 1 }\n').out;
  t.notMatch(pass, /failures/, 'no recap when nothing failed');
  t.match(pass, /tests: 1 passed, 0 failed, 0 skipped, 0 todo\n$/);
});

t.test('no totals from tap is a failure of its own', async (t) => {
  const { out, code } = summarize('TAP version 14\nok 1 - a\n');
  t.equal(code, 1);
  t.match(out, /tests: 0 passed, 1 failed \(tap printed no totals\)/);
});
