// The TAP reader the guest relay depends on, judged by tap itself: a real
// tap run (passes, a failure, a throw, nesting, skip, todo) is parsed and
// its leaves counted against tap's own closing `# { total: ... }` summary.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './images.js';
import { failures, parseTap, unfinished, type TapResult } from './tap-tree.js';

const SCRIPT = `
import t from 'tap';
t.comment('top before passes');
t.test('passes', async (t) => { t.ok(true, 'one'); t.comment('3/4 lines agree'); t.test('nested # with a hash', async (t) => { t.equal(1, 1, 'inner'); t.comment('inner trailing'); }); });
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
  t.same(doc.results[0]!.before, ['top before passes'], 'a top-level comment belongs before the next result');
  t.same(doc.results[0]!.children[1]!.before, ['3/4 lines agree'], 'a comment inside a subtest belongs before the next result there');
  t.same(doc.results[0]!.children[1]!.comments, ['inner trailing'], "a subtest's last comment is its own, time= lines left out");
  t.same(failures(doc.results).map((f) => [...f.path, f.result.name].join(' > ')), ['fails > should be two', 'throws > boom'], 'failures() names each failing leaf by its path');
});

// The relay replayed in a real host tap process: the guest's comments must
// reach the host stream (they carry the differentials' "N/M agree" figures),
// and its todos and skips stay todos and skips.
t.test('relay replays the guest comments, todos and skips into the host stream', async (t) => {
  const guest = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, TAP_CHILD_ID: '' } });
  const relayUrl = pathToFileURL(new URL('./relay.js', import.meta.url).pathname).href;
  const treeUrl = pathToFileURL(new URL('./tap-tree.js', import.meta.url).pathname).href;
  const host = `
import t from 'tap';
import { relay } from ${JSON.stringify(relayUrl)};
import { parseTap } from ${JSON.stringify(treeUrl)};
relay(t, parseTap(process.env.GUEST_TAP));
`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', host], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, TAP_CHILD_ID: '', GUEST_TAP: guest.stdout } });
  for (const c of ['top before passes', '3/4 lines agree', 'inner trailing']) t.match(r.stdout, new RegExp(`^ *# ${c}$`, 'm'), `host output has "# ${c}"`);
  t.match(r.stdout, /^# guest totals: \{ total: /m, "the guest's closing totals, named as the guest's");
  const hostDoc = parseTap(r.stdout);
  t.equal(hostDoc.results.find((x) => x.name === 'skipped')?.skip, 'why not', 'the skip and its reason');
  t.equal(hostDoc.results.find((x) => x.name === 'todo')?.todo, 'later', 'the todo and its reason');
});

// A real tap stream cut where a dying guest would cut it: inside a nested
// subtest, after a finished sibling.
t.test('unfinished names the subtests a cut-off stream was inside, outermost first', async (t) => {
  const script = `
import t from 'tap';
t.test('done', async (t) => { t.ok(true); });
t.test('outer', async (t) => {
  t.test('finished inner', async (t) => { t.ok(true); });
  t.test('dying inner', async (t) => { t.ok(true, 'before the cut'); t.ok(true, 'CUT HERE'); });
});
`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, TAP_CHILD_ID: '' } });
  const cut = r.stdout.slice(0, r.stdout.indexOf('CUT HERE'));
  t.ok(cut.length > 0 && cut.length < r.stdout.length, 'the stream has the marker');
  t.same(unfinished(cut), ['outer', 'dying inner'], 'the path to the cut');
  t.same(unfinished(r.stdout), [], 'a whole stream has nothing unfinished');
});
