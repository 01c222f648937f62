// Releasing many resources where one failing must not leak the others: every
// closer runs, and the first error (the one that explains the rest) is the
// one thrown.

/** Calls every closer in order; throws the first error once all have run. */
export function closeAll(closers: Iterable<() => void>): void {
  let failed = false;
  let first: unknown;
  for (const close of closers) {
    try {
      close();
    } catch (e) {
      if (!failed) first = e;
      failed = true;
    }
  }
  if (failed) throw first;
}
