// kernel: the branch program predicate_parse() builds (update_preds and the
// second and third passes). Only needed to know which filters the kernel
// refuses after parsing them: with a trailing && or || (accepted by 6.1 and
// 6.12), an operator left pending makes a target point backwards, and the
// kernel fails the write (WARN_ON(prog[i].target <= i), -EINVAL).

export class BranchProgram {
  private readonly target: number[] = [];
  private readonly when: number[] = [];

  /** #4: a new entry; its target starts as the previous entry. */
  add(): void {
    const n = this.target.length;
    this.target.push(n - 1);
    this.when.push(0);
  }

  /** kernel: update_preds(prog, N, invert). */
  update(n: number, invert: number): void {
    const t = this.target[n]!;
    if (!(t >= 0)) { this.target[n] = Number.NaN; return; } // prog[-1]: outside the array
    const s = this.target[t]!;
    this.when[t] = invert;
    this.target[t] = n;
    this.target[n] = s;
  }

  /** #13 and the second and third passes; false where the kernel gives up. */
  valid(): boolean {
    const n = this.target.length;
    if (n === 0) return true;
    const target = [...this.target, 1, 0];
    const when = [...this.when, 0, 0];
    target[n - 1] = n;
    when[n - 1] = 0;
    for (let i = n - 1; i--;) {
      const t = target[i]!;
      // An entry still aiming at -1 (an || left pending by a trailing &&, as in
      // `a || b &&`): the kernel compares prog[i] with prog[-1], 16 bytes
      // before its kcalloc'd array (another slab object's), and takes that
      // object's first int as the target when its second matches. Its answer
      // so depends on heap contents, not on the text: the 6.12.95 guest
      // accepted `u8 == 1 || u8 == 2 &&` once and refused it once. Ours is
      // the answer the kernel gives when those bytes are no forward jump:
      // the third pass's WARN_ON, -EINVAL with no message ("Error").
      if (!(t >= 0)) return false;
      if (when[i] === when[t]) target[i] = target[t]!;
    }
    for (let i = 0; i < n; i++) if (!(target[i]! > i)) return false;
    return true;
  }
}
