// An event's filter (the kernel's filter_match_preds over its checked
// predicates) as BPF that runs on the record the program has just built:
// jump to `reject` when the kernel would drop the record, fall through when
// it keeps it. Predicates read the entry at r7 + RECORD_PREFIX_SIZE, the CPU
// and comm the prefix already holds (bpf_get_smp_processor_id,
// bpf_get_current_comm at the hit, as the kernel's `cpu` and `comm`), so no
// helper is called. &&/||/! compile to jumps with short-circuit: predicates
// have no side effects, so any order gives the kernel's answer.
import { countInMap } from './map-counter.js';
import { R0, R1, R10, R2, R3, R6, R7, sizeFieldFor, type Reg } from '../bpf/insn.js';
import {
  type AsmItem, type JmpName, Helper, alu64Imm, alu64Reg, annotate, call, isLabel, ja, jmpImm, jmpReg, label, ldImm64, ldx, mov64Imm, mov64Reg, st, stx,
} from '../bpf/asm.js';
import type { CheckedExpr, CheckedFilter, CheckedPredicate, Compare, PredicateTest } from '../grammar/filter/index.js';
import { regexMatch } from '../grammar/filter/regex.js';
import { FILTERED_MAP, PREFIX_COMM, PREFIX_CPU, RECORD_PREFIX_SIZE, TASK_COMM_LEN } from './abi.js';
import type { FetchProgram, ProbeProgram } from './ir.js';
import { BEFORE, BEFORE_WINDOW, planFilter, type FilterStage } from './filter-order.js';
import { emitStringMatch, FILTER_LEN_SLOT, FilterCodegenError, type Labels, type StringView } from './filter-strings.js';

export { FilterCodegenError } from './filter-strings.js';

/** kernel: BPF_COMPLEXITY_LIMIT_JMP_SEQ is 8192 pending states; the rest of the program keeps a margin. */
const PENDING_BUDGET = 7000;
/** kernel: BPF_COMPLEXITY_LIMIT_INSNS, 1M instructions processed; the rest of the program keeps a margin. */
const VERIFY_BUDGET = 950_000;
/**
 * What the verifier processed per instruction of a search loop's straight
 * run, measured on 6.18 (`check`): up to ~2.4 in a sleepable program, ~6.5 in
 * an atomic one (the perf path's states prune less). Rounded up: a filter
 * over the budget is refused here, not by the kernel.
 */
const VERIFY_FACTOR = { sleepable: 3, atomic: 7.5 } as const;

export interface FilterTarget extends Omit<Labels, 'earlyExit'> {
  readonly program: ProbeProgram;
  /** Bytes of the buffer r7 points to (the record can be no larger). */
  readonly capacity: number;
  /** Pending verifier states the filter's loops may leave (default PENDING_BUDGET; tests set 0 to force full-window loops). */
  readonly pendingBudget?: number;
  /** The bytes a dynamic string field can hold, when the record is not the program's own (an eprobe's attached event). */
  readonly dynamicWindow?: (field: string) => number;
}

const entry = (off: number) => RECORD_PREFIX_SIZE + off;
const fitsImm32 = (v: bigint) => v >= -(1n << 31n) && v < (1n << 31n);

/** Jumps that keep the predicate when `a OP b` holds, as signed or unsigned 64-bit compares. */
const HOLDS: Readonly<Record<Exclude<Compare, 'band'>, readonly [signed: JmpName, unsigned: JmpName]>> = {
  eq: ['jeq', 'jeq'], ne: ['jne', 'jne'], lt: ['jslt', 'jlt'], le: ['jsle', 'jle'], gt: ['jsgt', 'jgt'], ge: ['jsge', 'jge'],
};
const NEGATED: Readonly<Record<Exclude<Compare, 'band'>, Exclude<Compare, 'band'>>> = { eq: 'ne', ne: 'eq', lt: 'ge', le: 'gt', gt: 'le', ge: 'lt' };

/** Jump to `no` unless `reg OP value` (reg a 64-bit value, value as the kernel converted it). */
function compareTo(reg: Reg, compare: Compare, signed: boolean, value: bigint, no: string, l: Pick<Labels, 'fresh'>): AsmItem[] {
  const bits = BigInt.asUintN(64, value);
  if (compare === 'band') {
    const yes = l.fresh('band');
    const mask = BigInt.asIntN(64, bits);
    const test = fitsImm32(mask) ? [jmpImm('jset', reg, Number(mask), yes)] : [ldImm64(R2, bits), jmpReg('jset', reg, R2, yes)];
    return [...test, ja(no), label(yes)];
  }
  const k = signed ? BigInt.asIntN(64, value) : bits;
  const op = HOLDS[NEGATED[compare]][signed ? 0 : 1];
  // an immediate is sign-extended to 64 bits: unsigned values from 2^31 on need ld_imm64
  return fitsImm32(k) ? [jmpImm(op, reg, Number(k), no)] : [ldImm64(R2, bits), jmpReg(op, reg, R2, no)];
}

/** r1 = the field, widened to 64 bits with its signedness. */
function loadInteger(offset: number, width: 8 | 16 | 32 | 64, signed: boolean): AsmItem[] {
  const out: AsmItem[] = [ldx(sizeFieldFor((width / 8) as 1 | 2 | 4 | 8), R1, R7, entry(offset))];
  if (signed && width < 64) out.push(alu64Imm('lsh', R1, 64 - width), alu64Imm('arsh', R1, 64 - width));
  return out;
}

/** kernel: do_filter_scalar_cpumask with r1 the scalar (the mask has two CPUs or more, or none). */
function scalarInMask(compare: 'eq' | 'ne' | 'band', cpus: readonly number[], no: string, l: Pick<Labels, 'fresh'>): AsmItem[] {
  if (compare === 'eq') return [ja(no)];
  if (compare === 'ne') return [];
  const yes = l.fresh('cpu_in');
  return [...cpus.map((c) => jmpImm('jeq', R1, c, yes)), ja(no), label(yes)];
}

const movRecord = (off: number): AsmItem[] => [mov64Reg(R1, R7), alu64Imm('add', R1, off)];

/** The most bytes a dynamic field's string can have in our records (its room in the dynamic area). */
function dynamicWindow(program: ProbeProgram, field: string): number {
  const f = program.fetches.find((x) => x.argName === field);
  switch (f?.store.op) {
    case 'string': return program.maxStringSize;
    case 'comm': return TASK_COMM_LEN;
    case 'immstr': return f.store.readable ? Buffer.byteLength(f.store.value, 'latin1') + 1 : 0;
    default: throw new FilterCodegenError(`${field}: its record data is not the string the kernel records (symstr is symbolized by the reader), so the filter cannot test it in the program`);
  }
}

type StringTest = Extract<PredicateTest, { kind: 'string' }>;

/**
 * A zero length (a fault) in our own record. The kernel's matchers take len
 * 0 as "a NUL-terminated string" and read what is at the field's offset
 * (regex_match_full's strcmp, front's strncmp, middle's strstr); `end`
 * never matches (its len - 1 is negative), glob sees "". What is there: the next dynamic
 * datum when one follows; otherwise the bytes the previous filtered record
 * of this CPU left there, since a filtered event is built in the per-CPU
 * trace_buffered_event page and only copied to the ring if it passes. Our
 * record scratch is reused the same way (per CPU, or per task for sleepable
 * programs); but a string read that faulted there zeroed it
 * (bpf_probe_read_*_str clears its destination on an error,
 * strncpy_from_user does not): then "" where the kernel may still see the
 * previous record's bytes. The view's length is that C string's, NUL
 * included, as a datum's own: probe_read_kernel_str copying the bytes onto
 * themselves measures it (r3 = the offset on entry).
 */
function faultedDynamic(test: StringTest, p: CheckedPredicate, window: number, limit: number, have: string, empty: string, mismatch: string, no: string): AsmItem[] {
  if (test.match.kind === 'end') return [ja(mismatch)];
  // glob_match_len stops at len: a len of 0 is "" (kernels before its 2026 fix read the C string too)
  if (test.match.kind === 'glob') return [ja(empty)];
  return [
    ...movRecord(RECORD_PREFIX_SIZE), alu64Reg('add', R1, R3),
    mov64Imm(R2, window), mov64Reg(R3, R1),
    call(Helper.probe_read_kernel_str),
    mov64Reg(R2, R0),
    jmpImm('jsle', R2, 1, empty),
    jmpImm('jgt', R2, window, empty),
    // the call took r3: the offset again, bounded again for the verifier
    ldx(sizeFieldFor(4), R3, R7, entry(p.field.offset)),
    alu64Imm('and', R3, 0xffff),
    jmpImm('jgt', R3, limit, no),
    ja(have),
  ];
}

/**
 * r1 = the string's first byte; jumps to `empty` on a zero length the
 * matchers see as "" (a fault), to `mismatch` where they never match, and to
 * `no` on a length our records never hold.
 */
function stringView(t: FilterTarget & Pick<Labels, 'fresh'>, p: CheckedPredicate, test: StringTest, empty: string, mismatch: string, no: string): [AsmItem[], StringView, AsmItem[]] {
  switch (test.source) {
    case 'comm': return [movRecord(PREFIX_COMM), { len: TASK_COMM_LEN, window: TASK_COMM_LEN }, []];
    case 'static': return [movRecord(entry(p.field.offset)), { len: test.length, window: Math.max(0, t.capacity - entry(p.field.offset)) }, []];
    case 'dynamic': {
      const own = !t.dynamicWindow;
      const window = t.dynamicWindow ? t.dynamicWindow(p.field.name) : dynamicWindow(t.program, p.field.name);
      const have = t.fresh('str_have'), faulted = t.fresh('str_faulted');
      const limit = t.capacity - RECORD_PREFIX_SIZE - window;
      return [[
        ldx(sizeFieldFor(4), R2, R7, entry(p.field.offset)),
        mov64Reg(R3, R2), alu64Imm('and', R3, 0xffff), alu64Imm('rsh', R2, 16),
        // bounds the verifier can see; a record of ours never exceeds them
        jmpImm('jgt', R3, limit, no),
        jmpImm('jgt', R2, window, no),
        // (an attached event's record: its r8 is not ours to read past)
        jmpImm('jeq', R2, 0, own ? faulted : empty),
        label(have),
        stx(sizeFieldFor(8), R10, FILTER_LEN_SLOT, R2),
        ...movRecord(RECORD_PREFIX_SIZE), alu64Reg('add', R1, R3),
      ], { len: 'slot', window }, own ? [label(faulted), ...faultedDynamic(test, p, window, limit, have, empty, mismatch, no)] : []];
    }
    default:
      throw new FilterCodegenError(`${p.field.name}: a ${test.source} string field is not compiled to BPF (our records have none)`);
  }
}

function stringPredicate(t: FilterTarget & Labels, p: CheckedPredicate, test: StringTest, no: string): AsmItem[] {
  const pass = t.fresh('str_pass'), mismatch = t.fresh('str_mismatch'), empty = t.fresh('str_empty');
  const [setup, view, faulted] = stringView(t, p, test, empty, mismatch, no);
  // kernel: a faulted string has length 0 (an attached event's: the matchers see "")
  const emptyKeeps = regexMatch(test.match, '', 0) !== test.not;
  return [
    ...setup,
    ...emitStringMatch(view, test.match, mismatch, t),
    ja(test.not ? no : pass),
    ...faulted,
    label(mismatch), ja(test.not ? pass : no),
    label(empty), ja(emptyKeeps ? pass : no),
    label(pass),
  ];
}

function functionPredicate(p: CheckedPredicate, test: Extract<PredicateTest, { kind: 'function' }>, no: string, l: Pick<Labels, 'fresh'>): AsmItem[] {
  const load = loadInteger(p.field.offset, 64, false);
  if (!test.not) return [...load, ...compareTo(R1, 'ge', false, test.start, no, l), ...compareTo(R1, 'lt', false, test.end, no, l)];
  const pass = l.fresh('outside');
  return [...load, ...compareTo(R1, 'ge', false, test.start, pass, l), ...compareTo(R1, 'lt', false, test.end, pass, l), ja(no), label(pass)];
}

/** One predicate: falls through when it holds, jumps to `no` when not. */
function predicate(t: FilterTarget & Labels, p: CheckedPredicate, no: string): AsmItem[] {
  const test = p.test;
  switch (test.kind) {
    case 'never': return [ja(no)];
    case 'integer': return [...loadInteger(p.field.offset, test.width, test.signed), ...compareTo(R1, test.compare, test.signed, test.value, no, t)];
    case 'cpu': return [ldx(sizeFieldFor(4), R1, R7, PREFIX_CPU), ...compareTo(R1, test.compare, true, BigInt(test.value), no, t)];
    case 'cpu_in_mask': return [ldx(sizeFieldFor(4), R1, R7, PREFIX_CPU), ...scalarInMask(test.compare, test.cpus, no, t)];
    case 'integer_in_mask': return [
      ...loadInteger(p.field.offset, test.width, false), alu64Imm('lsh', R1, 32), alu64Imm('rsh', R1, 32),
      jmpImm('jge', R1, test.nrCpuIds, no), ...scalarInMask(test.compare, test.cpus, no, t),
    ];
    case 'string': return stringPredicate(t, p, test, no);
    case 'function': return functionPredicate(p, test, no, t);
    case 'cpumask':
    case 'cpumask_has_cpu':
      throw new FilterCodegenError(`${p.field.name}: cpumask fields are not compiled to BPF (our records have none)`);
  }
}

/** Code that ends in a jump to `yes` or `no`. */
function condition(t: FilterTarget & Labels, e: CheckedExpr, yes: string, no: string, text: Buffer): AsmItem[] {
  switch (e.kind) {
    case 'pred': {
      const { start, end } = e.pred.node.span;
      return [...annotate(`filter: ${text.subarray(start, end).toString('utf8')}`, predicate(t, e.pred, no)), ja(yes)];
    }
    case 'not': return condition(t, e.term, no, yes, text);
    case 'and':
    case 'or': {
      const out: AsmItem[] = [];
      e.terms.forEach((term, i) => {
        if (i === e.terms.length - 1) { out.push(...condition(t, term, yes, no, text)); return; }
        const next = t.fresh(e.kind);
        out.push(...(e.kind === 'and' ? condition(t, term, next, no, text) : condition(t, term, yes, next, text)), label(next));
      });
      return out;
    }
  }
}

const isJa = (it: AsmItem): boolean => !isLabel(it) && (it.code & 0xf7) === 0x05;

/** One pass: drops `ja L` when L is the next instruction, and code no jump or fall-through reaches (the verifier refuses it). */
function tidyOnce(items: readonly AsmItem[]): AsmItem[] {
  const targets = new Set(items.flatMap((it) => (!isLabel(it) && it.target !== undefined ? [it.target] : [])));
  const out: AsmItem[] = [];
  let dead = false;
  items.forEach((it, i) => {
    if (isLabel(it)) { if (targets.has(it.label)) dead = false; if (!dead) out.push(it); return; }
    if (dead) return;
    if (isJa(it)) {
      let j = i + 1;
      for (; j < items.length && isLabel(items[j]!); j++) if ((items[j] as { label: string }).label === it.target) return;
      dead = true;
    }
    out.push(it);
  });
  return out;
}

function tidy(items: AsmItem[]): AsmItem[] {
  for (;;) {
    const next = tidyOnce(items);
    if (next.length === items.length) return next;
    items = next;
  }
}

/** The filter: falls through when the kernel keeps the record, jumps to `reject` when it drops it. */
export function emitFilter(target: FilterTarget, filter: CheckedFilter, reject: string, shown = filter.text): AsmItem[] {
  const text = Buffer.from(filter.text, 'utf8');
  // A first pass counts the search loops and what the verifier spends on them.
  let loops = 0, cost = 0;
  condition({ ...target, earlyExit: (n, per) => { loops++; cost += n * per; return false; } }, filter.expr, 'k', 'r', text);
  const verify = Math.round(cost * VERIFY_FACTOR[target.program.sleepable ? 'sleepable' : 'atomic']);
  if (verify > VERIFY_BUDGET) {
    throw new FilterCodegenError(`its string searches would take the verifier about ${verify} instructions over strings of up to `
      + `${target.program.maxStringSize} bytes (its limit is 1M with the rest of the program): use fewer or shorter patterns`);
  }
  // A loop that leaves at the string's end leaves a pending state per position, and the
  // verifier walks the rest of the program from each: only when it is the only loop.
  const pending = target.pendingBudget ?? PENDING_BUDGET;
  const t: FilterTarget & Labels = { ...target, earlyExit: (n) => loops === 1 && n <= pending };
  const keep = t.fresh('filter_keep');
  const code = tidy([...condition(t, filter.expr, keep, reject, text), label(keep)]);
  // tidy keeps a label only where code reaches it
  if (code.some((it) => isLabel(it) && it.label === keep)) return code;
  // The filter never keeps a record (e.g. `cpu & 1`): the sending code after
  // it would be unreachable, which the verifier refuses; a compare it cannot
  // decide statically (the CPU is never 2^64 - 1) keeps it on the graph.
  return annotate(`filter: ${shown} (never true)`, [ldx(sizeFieldFor(4), R1, R7, PREFIX_CPU), jmpImm('jne', R1, -1, reject)]);
}

/** codegen.ts's map key slot. */
const KEY_SLOT = -4;

/** One stage's test, its refusal named after the event. */
function stageTest(t: FilterTarget, stage: FilterStage, whole: CheckedExpr, reject: string): AsmItem[] {
  try {
    if (stage.skips.length === 0 && stage.filter.expr === whole) return emitFilter(t, stage.filter, reject);
    // a part of the filter: a never-true annotation names its own predicates
    const text = Buffer.from(stage.filter.text, 'utf8');
    const shown = stage.filter.predicates.map((p) => text.subarray(p.node.span.start, p.node.span.end).toString('utf8')).join(' && ');
    const code = emitFilter(t, stage.filter, reject, shown);
    if (stage.after === BEFORE) return code;
    return stage.skips.length === 0 ? code : annotate(`filter, before fetching ${stage.skips.join(', ')}`, code);
  } catch (e) {
    if (!(e instanceof FilterCodegenError)) throw e;
    throw new FilterCodegenError(`${t.program.format.group}/${t.program.format.event}: ${e.message}`, { cause: e });
  }
}

/** filtered[eventId] += 1 (the profile counts a dropped record as a hit, as the kernel's nhit does), then return. */
function countFiltered(eventId: number, exit: string): AsmItem[] {
  return [...countInMap(FILTERED_MAP, KEY_SLOT, eventId, exit), ja(exit)];
}

/** Where the window before the record starts: below every fixed stack slot of codegen.ts and the filter (fp-4 .. fp-56). */
const BEFORE_WINDOW_AT = -(64 + BEFORE_WINDOW);

/**
 * The program's first test, before the record is reserved (filter-order.ts
 * says which conjuncts): r7 points to a stack window laid out as the record's
 * first BEFORE_WINDOW bytes, which gets the running CPU, common_pid,
 * common_type and the register and constant arguments the test names, by
 * the same code that stores them in the record. A hit it drops is counted
 * and the program returns, with no record reserved or built; otherwise r1
 * is ctx again. Nothing when the filter has no such conjunct.
 */
export function emitFilterBeforeRecord(t: FilterTarget, filter: CheckedFilter, eventId: number, exit: string,
  fetch: (f: FetchProgram) => AsmItem[]): AsmItem[] {
  const plan = planFilter(t.program, filter);
  const stage = plan.stages[0];
  if (stage?.after !== BEFORE) return [];
  const reject = t.fresh('filter_reject_before'), pass = t.fresh('filter_pass_before');
  const common = new Set(stage.filter.predicates.filter((p) => p.field.origin === 'common').map((p) => p.field.name));
  const at = (name: string) => entry(t.program.format.commonFields.find((f) => f.name === name)!.offset);
  const setup = annotate(`the fields it names into a stack window laid out as the record (fp${BEFORE_WINDOW_AT})`, [
    mov64Reg(R6, R1),
    mov64Reg(R7, R10), alu64Imm('add', R7, BEFORE_WINDOW_AT),
    // always: the never-true form of a test reads the CPU
    call(Helper.get_smp_processor_id), stx(sizeFieldFor(4), R7, PREFIX_CPU, R0),
    ...(common.has('common_pid') ? [call(Helper.get_current_pid_tgid), stx(sizeFieldFor(4), R7, at('common_pid'), R0)] : []),
    ...(common.has('common_type') ? [st(sizeFieldFor(2), R7, at('common_type'), eventId)] : []),
  ]);
  return [
    ...annotate('filter, before the record is reserved', setup),
    ...plan.beforeFetches.flatMap(fetch),
    ...stageTest(t, stage, filter.expr, reject),
    mov64Reg(R1, R6),
    ja(pass),
    label(reject),
    ...annotate('the filter drops the hit before its record exists: count it', countFiltered(eventId, exit)),
    label(pass),
  ];
}

/**
 * The fetches and the filter between building the prefix and sending the
 * record (filter-order.ts decides where each part of the filter runs; a
 * part emitFilterBeforeRecord tested is not tested again): a record the
 * filter drops is counted in filtered[eventId] (the record is scratch: nothing
 * to release); then the program returns. `exit` is the program's return-0 label; `fetch`
 * emits one fetch.
 */
export function emitFilteredFetches(t: FilterTarget, filter: CheckedFilter, eventId: number, exit: string,
  fetch: (f: FetchProgram) => AsmItem[], afterFetches: () => readonly AsmItem[] = () => []): AsmItem[] {
  const reject = t.fresh('filter_reject'), send = t.fresh('filter_keep_send');
  const plan = planFilter(t.program, filter);
  const out: AsmItem[] = [];
  plan.fetches.forEach((f, i) => {
    for (const s of plan.stages) if (s.after === i) out.push(...stageTest(t, s, filter.expr, reject));
    out.push(...fetch(f));
  });
  out.push(...afterFetches());
  for (const s of plan.stages) if (s.after === plan.fetches.length) out.push(...stageTest(t, s, filter.expr, reject));
  // everything was decided before the record: no reject path here (the verifier refuses unreachable code)
  if (plan.stages.every((s) => s.after === BEFORE)) return out;
  return [
    ...out,
    ja(send),
    label(reject),
    ...annotate('the filter drops the record: count the hit', countFiltered(eventId, exit)),
    label(send),
  ];
}
