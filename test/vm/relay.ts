// Replays a TAP tree from the guest as host subtests and assertions, so a
// failure inside the guest is a failure of `make test` with its name and
// diagnostics, and a guest skip shows its reason.
import type { Test } from 'tap';
import type { TapResult } from './tap-tree.js';

function relayOne(t: Test, r: TapResult): void {
  if (r.skip !== undefined) {
    t.test(r.name, { skip: r.skip || 'skipped in the guest' }, async () => {});
    return;
  }
  if (r.children.length === 0) {
    // A leaf assertion (or a childless subtest): its verdict and diagnostic as they were.
    if (r.todo !== undefined) t.ok(r.ok, r.name, { todo: r.todo || true });
    else if (r.ok) t.pass(r.name);
    else t.fail(r.name, { guest: r.diag || '(no diagnostic)' });
    return;
  }
  t.test(r.name, r.todo !== undefined ? { todo: r.todo || true } : {}, async (st) => {
    for (const child of r.children) relayOne(st, child);
    // A subtest can fail with every assertion passing (a throw after them,
    // a plan or timeout failure): keep its verdict.
    if (!r.ok && r.children.every((c) => c.ok || c.todo !== undefined)) {
      st.fail(`guest reported "${r.name}" not ok`, { guest: r.diag || '(no diagnostic)' });
    }
  });
}

export function relay(t: Test, results: TapResult[]): void {
  for (const r of results) relayOne(t, r);
}
