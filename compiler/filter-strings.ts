// String predicates in BPF (kernel: regex_match_full/front/middle/end on the
// string a filter_pred_string/strloc/comm hands them). The string is a view:
// r1 its first byte, its length either a constant or on the stack at
// FILTER_LEN_SLOT, and a window of bytes the verifier is told it may read.
// Fast paths are straight-line code; `middle` is one bounded loop whose
// body has no data-dependent branch but its exit, so the verifier keeps one
// pending state per iteration. Registers: r0-r5 only (r6-r9 belong to the
// program around the filter).
import { R0, R1, R10, R2, R3, R4, R5, sizeFieldFor } from '../bpf/insn.js';
import { type AsmItem, alu64Imm, alu64Reg, ja, jmpImm, jmpReg, label, ldx, mov64Imm, mov64Reg, stx } from '../bpf/asm.js';
import { emitGlob } from './filter-glob.js';
import type { StringMatch } from '../grammar/filter/index.js';
import { KprobeBpfError } from '../lib/errors.js';

/** A filter the program cannot evaluate within what the verifier accepts: refused, never silently dropped. */
export class FilterCodegenError extends KprobeBpfError {}

/** Below the map key and fetch slots of codegen.ts (fp-4 .. fp-32). */
export const FILTER_LEN_SLOT = -40;
/** kernel: BPF_COMPLEXITY_LIMIT_INSNS is 1M processed instructions; a search may spend this much of it. */
const SEARCH_BUDGET = 400_000;

export interface StringView {
  /** r1 = the string's first byte (already emitted by the caller). */
  /** The kernel's len: a constant, or 'slot' (on the stack at FILTER_LEN_SLOT, 1..window). */
  readonly len: number | 'slot';
  /** Bytes from r1 on the program may read. */
  readonly window: number;
}

export interface Labels {
  fresh(prefix: string): string;
  /**
   * Whether a loop may leave as soon as the string ends: each of its
   * iterations then leaves the verifier one pending state, and a program may
   * hold at most BPF_COMPLEXITY_LIMIT_JMP_SEQ (8192) of them. Without, the
   * loop runs the whole window with the end folded into its arithmetic.
   */
  earlyExit(iterations: number, perIteration: number): boolean;
}

/**
 * A search loop's end test, at the top of its body (r5 the position): with an
 * early exit, leave for `done` once `q` bytes from r5 pass `limit` (the
 * length at FILTER_LEN_SLOT); otherwise nothing here and `pastEnd` later.
 */
export function loopEnd(early: boolean, q: number, done: string): AsmItem[] {
  if (!early) return [];
  return [ldx(sizeFieldFor(8), R3, R10, FILTER_LEN_SLOT), mov64Reg(R4, R5), alu64Imm('add', R4, q), jmpReg('jgt', R4, R3, done)];
}

/** Without an early exit: r3 |= 1 when q bytes from r5 pass the length (r2 clobbered). */
export function pastEnd(early: boolean, q: number): AsmItem[] {
  if (early) return [];
  return [ldx(sizeFieldFor(8), R2, R10, FILTER_LEN_SLOT), alu64Imm('add', R2, -q), alu64Reg('sub', R2, R5), alu64Imm('rsh', R2, 63), alu64Reg('or', R3, R2)];
}

const byte = (s: string, i: number): number => (i < s.length ? s.charCodeAt(i) : 0);
const B = sizeFieldFor(1);
const loadLen = (dst: typeof R2): AsmItem[] => [ldx(sizeFieldFor(8), dst, R10, FILTER_LEN_SLOT)];

/** regex_match_full: len ? strncmp(str, p, len) == 0 : strcmp(str, p) == 0. Jumps to `no` on a mismatch. */
function full(v: StringView, p: string, no: string, l: Labels): AsmItem[] {
  const yes = l.fresh('full_yes');
  const out: AsmItem[] = v.len === 'slot' ? loadLen(R2) : [];
  for (let i = 0; i <= p.length; i++) {
    if (typeof v.len === 'number' && v.len !== 0 && i >= v.len) return [...out, ja(yes), label(yes)];
    if (v.len === 'slot') out.push(jmpImm('jle', R2, i, yes));
    // past the window every byte reads as the NUL
    if (i >= v.window) return [...out, ...(byte(p, i) === 0 ? [] : [ja(no)]), label(yes)];
    out.push(ldx(B, R3, R1, i), jmpImm('jne', R3, byte(p, i), no));
  }
  return [...out, label(yes)];
}

/** regex_match_front: (len && len < plen) ? 0 : strncmp(str, p, plen) == 0. */
function front(v: StringView, p: string, no: string): AsmItem[] {
  const out: AsmItem[] = [];
  if (v.len === 'slot') out.push(...loadLen(R2), jmpImm('jlt', R2, p.length, no));
  else if (v.len !== 0 && v.len < p.length) return [ja(no)];
  if (p.length > v.window) return [...out, ja(no)];
  for (let i = 0; i < p.length; i++) out.push(ldx(B, R3, R1, i), jmpImm('jne', R3, byte(p, i), no));
  return out;
}

/** regex_match_end: the plen bytes before str[len - 1] equal p (len - 1 >= plen). */
function end(v: StringView, p: string, no: string): AsmItem[] {
  if (typeof v.len === 'number') {
    const n = v.len - 1;
    if (n < p.length || n > v.window) return [ja(no)];
    return Array.from(p, (_, k) => [ldx(B, R3, R1, n - p.length + k), jmpImm('jne', R3, byte(p, k), no)]).flat();
  }
  const out: AsmItem[] = [...loadLen(R2), jmpImm('jlt', R2, p.length + 1, no), jmpImm('jgt', R2, v.window, no),
    mov64Reg(R4, R1), alu64Reg('add', R4, R2), alu64Imm('add', R4, -1 - p.length)];
  for (let k = 0; k < p.length; k++) out.push(ldx(B, R3, R4, k), jmpImm('jne', R3, byte(p, k), no));
  return out;
}

/**
 * regex_match_middle with a len (strnstr over len bytes): a position i
 * matches when i + plen <= len and the plen bytes there equal p. r0 stays
 * 1 while no position matched; each iteration folds its mismatch into it
 * without a branch.
 */
function middle(v: StringView, p: string, no: string, l: Labels): AsmItem[] {
  if (p.length === 0) return [];
  if (typeof v.len === 'number' && v.len !== 0 && v.len < p.length) return [ja(no)];
  const last = Math.min(v.window, typeof v.len === 'number' && v.len !== 0 ? v.len : v.window) - p.length;
  if (last < 0) return [ja(no)];
  const perIteration = 11 + 3 * p.length;
  if ((last + 1) * perIteration > SEARCH_BUDGET) {
    throw new FilterCodegenError(`the pattern "${p}" is too long to search for in-program in strings of up to ${v.window} bytes `
      + `(about ${(last + 1) * perIteration} instructions for the verifier, at most ${SEARCH_BUDGET})`);
  }
  const loop = l.fresh('middle_at'), done = l.fresh('middle_done');
  const early = l.earlyExit(last + 1, perIteration) && v.len === 'slot';
  const body: AsmItem[] = [];
  for (let k = 0; k < p.length; k++) body.push(ldx(B, R2, R4, k), alu64Imm('xor', R2, byte(p, k)), alu64Reg('or', R3, R2));
  return [
    mov64Imm(R0, 1), mov64Imm(R5, 0),
    label(loop),
    jmpImm('jgt', R5, last, done),
    ...loopEnd(early, p.length, done),
    mov64Reg(R4, R1), alu64Reg('add', R4, R5), mov64Imm(R3, 0),
    ...body,
    // r3 is the OR of byte differences (0..255): (r3 + 255) >> 8 is 1 exactly on a mismatch
    alu64Imm('add', R3, 255), alu64Imm('rsh', R3, 8),
    ...(v.len === 'slot' ? pastEnd(early, p.length) : []),
    alu64Reg('and', R0, R3),
    alu64Imm('add', R5, 1), ja(loop),
    label(done),
    jmpImm('jne', R0, 0, no),
  ];
}

/**
 * Code that jumps to `no` when the view does not match (before the
 * predicate's negation) and falls through when it does.
 */
export function emitStringMatch(v: StringView, m: StringMatch, no: string, l: Labels): AsmItem[] {
  switch (m.kind) {
    case 'full': return full(v, m.pattern, no, l);
    case 'front': return front(v, m.pattern, no);
    case 'end': return end(v, m.pattern, no);
    case 'middle': return middle(v, m.pattern, no, l);
    case 'glob': return [...globLength(v, m.pattern, l), ...emitGlob(m.pattern, v.window, no, l)];
  }
}

/**
 * FILTER_LEN_SLOT = the string's length without its NUL, which glob_match
 * reads up to: len - 1 for a dynamic string (our records keep its NUL), the
 * first NUL of a comm (it always has one within TASK_COMM_LEN).
 */
function globLength(v: StringView, pattern: string, l: Labels): AsmItem[] {
  if (v.len === 'slot') return [...loadLen(R2), alu64Imm('add', R2, -1), stx(sizeFieldFor(8), R10, FILTER_LEN_SLOT, R2)];
  if (v.len !== v.window) {
    throw new FilterCodegenError(`the glob "${pattern}" on a char[${v.len}] field is not compiled to BPF (glob_match reads on past the field when it holds no NUL)`);
  }
  const found = l.fresh('strlen_done');
  const out: AsmItem[] = [];
  for (let k = 0; k < v.len; k++) out.push(mov64Imm(R3, k), ldx(B, R2, R1, k), jmpImm('jeq', R2, 0, found));
  return [...out, mov64Imm(R3, v.len - 1), label(found), stx(sizeFieldFor(8), R10, FILTER_LEN_SLOT, R3)];
}
