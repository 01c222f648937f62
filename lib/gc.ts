// A full garbage collection on request, where the process allows one: the
// launcher (bin/kprobe-bpf, bin/cli.ts's shebang) starts Node with
// --expose-gc for it. A trace calls it once, between start-up and the first
// record (issue 13): parsing, compiling and loading leave ~2 MiB of garbage
// in the old generation, which V8 would otherwise collect only after the
// records' own allocations had grown the heap further.

/** Collects now when `gc` is exposed (--expose-gc); false (and nothing done) otherwise. */
export function collectGarbage(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') return false;
  gc();
  return true;
}
