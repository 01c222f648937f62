// A `~` glob that is not one of the kernel's fast paths (kernel:
// regex_match_glob -> lib/glob.c glob_match) in BPF. The pattern is cut at
// its stars into segments of one-byte atoms (a literal, `?`, a [class]);
// glob_match answers what the classic segment algorithm answers: the first
// segment at the start, each inner one at its leftmost place after the one
// before, the last at the end (unless the pattern ends in a star). The
// first and last segments are straight-line code; each inner one is a
// bounded loop over start positions whose body has no branch but the loop's
// exit (the leftmost match is kept with arithmetic), so the verifier holds
// one pending state per position.
import { R0, R1, R10, R2, R3, R4, R5, sizeFieldFor, type Reg } from '../bpf/insn.js';
import { type AsmItem, alu64Imm, alu64Reg, ja, jmpImm, jmpReg, label, ldx, mov64Imm, mov64Reg, st, stx } from '../bpf/asm.js';
import { FILTER_LEN_SLOT, FilterCodegenError, loopEnd, pastEnd, type Labels } from './filter-strings.js';

type Atom = { readonly kind: 'lit'; readonly c: number } | { readonly kind: 'any' } | { readonly kind: 'class'; readonly ranges: readonly (readonly [number, number])[] };

export interface GlobPlan {
  /** The atoms between stars; one segment when the pattern has no star. */
  readonly segments: readonly (readonly Atom[])[];
  /** The pattern ends in a star: the last segment may end anywhere. */
  readonly openEnd: boolean;
}

const at = (p: string, i: number): number => (i < p.length ? p.charCodeAt(i) : 0);
const RBRACKET = 0x5d;

/** A [class] starting after '[' at i, as glob_match reads it; undefined when malformed (then '[' is a literal). */
function readClass(p: string, i: number): { atom: Atom; next: number } | undefined {
  const inverted = at(p, i) === 0x21;
  let cls = i + (inverted ? 1 : 0);
  let a = at(p, cls++);
  const ranges: [number, number][] = [];
  do {
    if (a === 0) return undefined;
    let hi = a;
    if (at(p, cls) === 0x2d && at(p, cls + 1) !== RBRACKET) {
      hi = at(p, cls + 1);
      if (hi === 0) return undefined;
      cls += 2;
    }
    ranges.push([a, hi]);
    a = at(p, cls++);
  } while (a !== RBRACKET);
  // glob_match lets an inverted class match the string's NUL and reads on past it
  if (inverted) throw new FilterCodegenError(`the glob "${p}" has an inverted class [!...]: not compiled to BPF (the kernel's match can read past the string's end)`);
  return { atom: { kind: 'class', ranges }, next: cls };
}

/** The pattern as segments, read as glob_match reads it. A trailing '\' matches the string's end, as the last segment does anyway. */
export function planGlob(p: string): GlobPlan {
  const segments: Atom[][] = [[]];
  let openEnd = false;
  for (let i = 0; i < p.length;) {
    const c = at(p, i++);
    openEnd = false;
    if (c === 0x2a) { segments.push([]); openEnd = true; continue; }
    const seg = segments[segments.length - 1]!;
    if (c === 0x3f) { seg.push({ kind: 'any' }); continue; }
    if (c === 0x5b) {
      const cls = readClass(p, i);
      if (cls) { seg.push(cls.atom); i = cls.next; continue; }
    }
    if (c === 0x5c) { if (i >= p.length) break; seg.push({ kind: 'lit', c: at(p, i++) }); continue; }
    seg.push({ kind: 'lit', c });
  }
  return { segments, openEnd };
}

const B = sizeFieldFor(1);
const DW = sizeFieldFor(8);
/** Where the next segment may start, and the found position's spill (below codegen.ts's slots and FILTER_LEN_SLOT). */
const POS_SLOT = -48;
const FOUND_SLOT = -56;
/** No match yet: above every position. */
const NONE = 0xffff;
/** kernel: BPF_COMPLEXITY_LIMIT_INSNS is 1M processed instructions; a glob's searches may spend this much of it. */
const GLOB_BUDGET = 600_000;

/** Straight-line: jump to `no` unless the byte at base + k matches each atom. */
function anchored(base: Reg, atoms: readonly Atom[], no: string, l: Labels): AsmItem[] {
  const out: AsmItem[] = [];
  atoms.forEach((a, k) => {
    if (a.kind === 'any') return; // a position inside the string never holds its NUL
    out.push(ldx(B, R2, base, k));
    if (a.kind === 'lit') { out.push(jmpImm('jne', R2, a.c, no)); return; }
    const ok = l.fresh('class_in');
    for (const [lo, hi] of a.ranges) {
      const next = l.fresh('class_next');
      out.push(jmpImm('jlt', R2, lo, next), jmpImm('jle', R2, hi, ok), label(next));
    }
    out.push(ja(no), label(ok));
  });
  return out;
}

/** Branch-free: r3 |= (byte at r4 + k does not match atom); r0 and r2 are clobbered, r4 restored from r1 + r5. */
function mismatchInto(atoms: readonly Atom[]): AsmItem[] {
  const out: AsmItem[] = [];
  atoms.forEach((a, k) => {
    if (a.kind === 'any') return;
    out.push(ldx(B, R2, R4, k));
    if (a.kind === 'lit') { out.push(alu64Imm('xor', R2, a.c), alu64Reg('or', R3, R2)); return; }
    out.push(mov64Imm(R0, 0));
    for (const [lo, hi] of a.ranges) {
      // x = c - lo; outside [0, hi - lo] exactly when x or (hi - lo) - x is negative
      out.push(mov64Imm(R4, hi - lo), alu64Reg('sub', R4, R2), alu64Imm('add', R4, lo),
        alu64Imm('sub', R2, lo), alu64Reg('or', R4, R2), alu64Imm('add', R2, lo),
        alu64Imm('rsh', R4, 63), alu64Imm('xor', R4, 1), alu64Reg('or', R0, R4));
    }
    out.push(alu64Imm('xor', R0, 1), alu64Reg('or', R3, R0), mov64Reg(R4, R1), alu64Reg('add', R4, R5));
  });
  return out;
}

/** An inner segment: its leftmost place at or after POS_SLOT and within n; POS_SLOT becomes its end. */
function inner(atoms: readonly Atom[], window: number, no: string, l: Labels): AsmItem[] {
  const q = atoms.length;
  const loop = l.fresh('glob_at'), done = l.fresh('glob_done');
  const match: AsmItem[] = [
    stx(DW, R10, FOUND_SLOT, R0),
    mov64Reg(R4, R1), alu64Reg('add', R4, R5), mov64Imm(R3, 0),
    ...mismatchInto(atoms),
    // r3: OR of byte differences and class misses (0..255), 0 on a match; a place before POS_SLOT is a mismatch too
    alu64Imm('add', R3, 255), alu64Imm('rsh', R3, 8),
    ldx(DW, R2, R10, POS_SLOT), mov64Reg(R4, R5), alu64Reg('sub', R4, R2), alu64Imm('rsh', R4, 63), alu64Reg('or', R3, R4),
  ];
  const keep: AsmItem[] = [
    // candidate = match ? i : NONE; found = min(found, candidate)
    alu64Imm('xor', R3, 1), mov64Imm(R2, NONE), alu64Reg('sub', R2, R5), alu64Reg('mul', R2, R3), mov64Imm(R3, NONE), alu64Reg('sub', R3, R2),
    ldx(DW, R0, R10, FOUND_SLOT), mov64Reg(R2, R0), alu64Reg('sub', R2, R3), mov64Reg(R4, R2), alu64Imm('arsh', R4, 63), alu64Reg('and', R2, R4),
    alu64Reg('add', R3, R2), mov64Reg(R0, R3),
    alu64Imm('add', R5, 1),
  ];
  const early = l.earlyExit(window - q + 1, match.length + keep.length + 7);
  return [
    mov64Imm(R0, NONE), mov64Imm(R5, 0),
    label(loop),
    jmpImm('jgt', R5, window - q, done),
    ...loopEnd(early, q, done),
    ...match,
    ...pastEnd(early, q),
    ...keep,
    ja(loop),
    label(done),
    jmpImm('jeq', R0, NONE, no),
    alu64Imm('add', R0, q), stx(DW, R10, POS_SLOT, R0),
  ];
}

/**
 * Jumps to `no` unless the string at r1 (its length, without the NUL, at
 * FILTER_LEN_SLOT, at most window - 1) matches the glob.
 */
export function emitGlob(pattern: string, window: number, no: string, l: Labels): AsmItem[] {
  const plan = planGlob(pattern);
  const segs = plan.segments;
  const first = segs[0]!;
  const inners = segs.slice(1, plan.openEnd ? undefined : -1).filter((s) => s.length > 0);
  const perIteration = 40 + 12 * Math.max(...inners.map((s) => s.length), 0);
  if (inners.length * (window + 1) * perIteration > GLOB_BUDGET) {
    throw new FilterCodegenError(`the glob "${pattern}" is too complex for the verifier over strings of up to ${window} bytes `
      + `(${inners.length} parts between stars, about ${inners.length * (window + 1) * perIteration} instructions to verify, at most ${GLOB_BUDGET})`);
  }
  if (first.length >= window) return [ja(no)];
  const out: AsmItem[] = [ldx(DW, R3, R10, FILTER_LEN_SLOT), jmpImm('jlt', R3, first.length, no), ...anchored(R1, first, no, l)];
  if (segs.length === 1) return [...out, ldx(DW, R3, R10, FILTER_LEN_SLOT), jmpImm('jne', R3, first.length, no)];
  out.push(st(DW, R10, POS_SLOT, first.length));
  for (const s of inners) out.push(...inner(s, window, no, l));
  if (plan.openEnd) return out;
  const last = segs[segs.length - 1]!;
  return [
    ...out,
    // the last segment ends at the string's end, after the inner ones
    ldx(DW, R3, R10, FILTER_LEN_SLOT), alu64Imm('add', R3, -last.length), jmpImm('jslt', R3, 0, no),
    ldx(DW, R2, R10, POS_SLOT), jmpReg('jslt', R3, R2, no),
    mov64Reg(R4, R1), alu64Reg('add', R4, R3),
    ...anchored(R4, last, no, l),
  ];
}
