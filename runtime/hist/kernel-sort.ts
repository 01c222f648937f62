// The kernel's sort() (lib/sort.c), a bottom-up heapsort: not stable, so
// the order it leaves equal entries in is part of what the hist file
// prints. 6.11 changed it (two elements popped per round, the last two or
// three finished outside the loop), which reorders ties: both are here.
export type KernelSortVariant = 'heapsort' | 'heapsort-double-pop';

/** The variant a kernel release uses (the double pop from 6.11). */
export function sortVariantFor(release: string): KernelSortVariant {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return 'heapsort-double-pop';
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > 6 || (maj === 6 && min >= 11) ? 'heapsort-double-pop' : 'heapsort';
}

/** In place, as the kernel's sort(base, num, size, cmp, NULL) on an array of pointers. */
export function kernelSort<T>(v: T[], cmp: (a: T, b: T) => number, variant: KernelSortVariant): void {
  const num = v.length;
  let n = num;
  let a = Math.floor(num / 2);
  if (a === 0) return;
  const swap = (i: number, j: number) => { const x = v[i]!; v[i] = v[j]!; v[j] = x; };
  const parent = (i: number) => Math.floor((i - 1) / 2);
  let shift = 0;
  for (;;) {
    if (a) a -= variant === 'heapsort' ? 1 : 1 << shift;
    else if (variant === 'heapsort') {
      n -= 1;
      if (n === 0) break;
      swap(0, n);
    } else if (n > 3) {
      n -= 1;
      swap(0, n);
      shift = cmp(v[1]!, v[2]!) <= 0 ? 1 : 0;
      a = 1 << shift;
      n -= 1;
      swap(a, n);
    } else break;
    let b = a, c = 0, d = 0;
    for (; (c = 2 * b + 1, d = c + 1) < n;) b = cmp(v[c]!, v[d]!) >= 0 ? c : d;
    if (d === n) b = c;
    while (b !== a && cmp(v[a]!, v[b]!) >= 0) b = parent(b);
    c = b;
    while (b !== a) { b = parent(b); swap(b, c); }
  }
  if (variant === 'heapsort-double-pop') {
    n -= 1;
    swap(0, n);
    if (n === 2 && cmp(v[0]!, v[1]!) > 0) swap(0, 1);
  }
}
