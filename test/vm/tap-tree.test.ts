// The TAP reader the guest relay depends on, judged by tap itself: a real
// tap run (passes, a failure, a throw, nesting, skip, todo) is parsed and
// its leaves counted against tap's own closing `# { total: ... }` summary.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from './images.js';
import { failures, parseTap, type TapResult } from './tap-tree.js';

const SCRIPT = `
import t from 'tap';
t.test('passes', async (t) => { t.ok(true, 'one'); t.test('nested # with a hash', async (t) => { t.equal(1, 1, 'inner'); }); });
t.test('fails', async (t) => { t.equal(1, 2, 'should be two'); t.ok(true, 'after'); });
t.test('skipped', { skip: 'why not' }, async () => {});
t.test('throws', async () => { throw new Error('boom'); });
t.test('todo', { todo: 'later' }, async (t) => { t.ok(false, 'not yet'); });
`;

// tap's root summary counts every result line below the top level, and the
// top-level lines that closed no subtest (a skip, a todo left unrun).
function counted(results: TapResult[], top = true): TapResult[] {
  return results.flatMap((r) => (top && r.children.length ? counted(r.children, false) : [r, ...(top ? [] : counted(r.children, false))]));
}

t.test('parseTap reads a tap 21 stream the way tap counts it', async (t) => {
  // -e resolves `tap` from the checkout's node_modules via cwd.
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, TAP_CHILD_ID: '' } });
  const doc = parseTap(r.stdout);
  const summary = doc.comments.map((c) => /^\{ total: .*\}$/.exec(c)?.[0]).find(Boolean);
  if (!summary) return t.fail('tap printed no summary', { stdout: r.stdout });
  const counts = Object.fromEntries([...summary.matchAll(/(\w+): (\d+)/g)].map(([, k, v]) => [k, Number(v)]));
  const all = counted(doc.results);
  t.equal(all.length, counts.total, 'as many results as tap counted');
  t.equal(all.filter((l) => l.ok && l.skip === undefined && l.todo === undefined).length, counts.pass ?? 0, 'passes');
  t.equal(all.filter((l) => l.skip !== undefined).length, counts.skip ?? 0, 'skips');
  t.equal(all.filter((l) => l.todo !== undefined).length, counts.todo ?? 0, 'todos');
  t.equal(all.filter((l) => !l.ok && l.todo === undefined).length, counts.fail ?? 0, 'failures');
  t.equal(doc.results.map((x) => x.name).join('|'), 'passes|fails|skipped|throws|todo', 'top-level names, directives and times split off');
  t.equal(doc.results[0]!.children[1]!.name, 'nested # with a hash', 'an escaped # stays in the name');
  t.equal(doc.results[2]!.skip, 'why not', 'skip reason');
  t.match(doc.results[1]!.children[0]!.diag, /diff:/, 'a failure keeps its YAML diagnostic');
  t.same(failures(doc.results).map((f) => [...f.path, f.result.name].join(' > ')), ['fails > should be two', 'throws > boom'], 'failures() names each failing leaf by its path');
});
