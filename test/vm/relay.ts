// Replays a TAP tree from the guest as host subtests and assertions, so a
// failure inside the guest is a failure of `make test` with its name and
// diagnostics, a guest skip shows its reason, a guest todo stays a todo
// (counted against test/todo-budget.json), and the guest's comments (the
// differential tests' "N/M agree" figures) reach the host output in order.
import type { Test } from 'tap';
import type { TapDocument, TapResult } from './tap-tree.js';

/** tap's closing `{ total: ... }` line, relayed under a name so the host summary never mistakes it for its own. */
const guestComment = (c: string): string => (/^\{ total: /.test(c) ? `guest totals: ${c}` : c);

function comments(t: Test, lines: string[]): void {
  for (const c of lines) t.comment(guestComment(c));
}

function relayOne(t: Test, r: TapResult): void {
  comments(t, r.before);
  if (r.skip !== undefined) {
    t.test(r.name, { skip: r.skip || 'skipped in the guest' }, async () => {});
    return;
  }
  if (r.children.length === 0) {
    comments(t, r.comments);
    // A leaf assertion (or a childless subtest): its verdict and diagnostic as they were.
    if (r.todo !== undefined) t.ok(r.ok, r.name, { todo: r.todo || true });
    else if (r.ok) t.pass(r.name);
    else t.fail(r.name, { guest: r.diag || '(no diagnostic)' });
    return;
  }
  t.test(r.name, r.todo !== undefined ? { todo: r.todo || true } : {}, async (st) => {
    for (const child of r.children) relayOne(st, child);
    comments(st, r.comments);
    // A subtest can fail with every assertion passing (a throw after them,
    // a plan or timeout failure): keep its verdict.
    if (!r.ok && r.children.every((c) => c.ok || c.todo !== undefined)) {
      st.fail(`guest reported "${r.name}" not ok`, { guest: r.diag || '(no diagnostic)' });
    }
  });
}

/** Every result of the guest document, with the comments printed between them and after the last. */
export function relay(t: Test, doc: Pick<TapDocument, 'results' | 'trailing'>): void {
  for (const r of doc.results) relayOne(t, r);
  comments(t, doc.trailing);
}
