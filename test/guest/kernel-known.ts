// Differences from a guest kernel's own tracer that are understood and not
// yet fixed, per kernel release: each maps what the kernel printed to what
// kprobe-bpf prints today. kprobe-diff.test.ts makes a line that differs
// only so a todo (one per difference, with its line count), fails any other
// difference, and fails a recorded difference that no longer occurs on its
// kernel, so a fix shows. None on 6.1 or 6.12 now.
import { release } from 'node:os';

export interface KnownDifference {
  why: string;
  /** The kernel's trace line (comparable form) as kprobe-bpf prints it today. */
  line: (kernel: string) => string;
  /** The kernel's format file as `compile --format` prints it today; absent when formats agree. */
  format?: (kernel: string) => string;
}

/**
 * The flags column's known differences of the running kernel, on `FLAGS
 * EVENT` lines (kdiff.ts flagsOf): none recorded; an entry maps the
 * kernel's column to ours, and says why it cannot be known from BPF.
 */
export function knownFlagDifferences(_kernelRelease: string = release()): KnownDifference[] {
  return [];
}

/** The known differences of the running kernel for these definitions. */
export function knownDifferences(_defs: readonly string[], _kernelRelease: string = release()): KnownDifference[] {
  // 6.12's untyped $retval typed from the function's BTF return type is followed now (grammar/btf-args.ts)
  return [];
}

export interface Explained {
  /** The kernel's side with each line that differs only by known differences replaced by ours. */
  expected: string[];
  /** Per known difference, how many items it explained. */
  used: Map<KnownDifference, number>;
}

/**
 * Compares ours with the kernel's item by item: where they differ and the
 * known differences applied to the kernel's item give ours, that item is
 * explained (each difference that changed it counted).
 */
export function explain(kernel: readonly string[], ours: readonly string[], known: readonly KnownDifference[], pick: (k: KnownDifference) => (s: string) => string): Explained {
  const used = new Map<KnownDifference, number>(known.map((k) => [k, 0]));
  const expected = kernel.map((k, i) => {
    if (ours[i] === undefined || ours[i] === k) return k;
    let s = k;
    const changed: KnownDifference[] = [];
    for (const d of known) {
      const next = pick(d)(s);
      if (next !== s) changed.push(d);
      s = next;
    }
    if (s !== ours[i]) return k;
    for (const d of changed) used.set(d, used.get(d)! + 1);
    return s;
  });
  return { expected, used };
}
