// A hist trigger as BPF, run on the record the program has just built
// (kernel: event_hist_trigger): the trigger's own filter, the compound key
// built on the stack, then the entry's sums added in place (atomic adds on a
// plain hash map: one entry per key, whatever CPU hits it), or a new entry
// made with BPF_NOEXIST; a full map counts a drop, as tracing_map_insert
// does. Registers r6 (ctx), r7 (record) and r8 (dynamic offset) are kept.
//
// Stack: the key at HIST_STACK_BASE, the new entry's value after it (the
// kernel's HIST_KEY_SIZE_MAX of 384 bytes plus at most 48 value bytes end
// at fp-80), an expression's saved operands at fp-80..fp-57, below the slots
// codegen.ts and the filters use, fp-40 and up.
import { countInMap } from './map-counter.js';
import { R0, R1, R10, R2, R3, R4, R7, Size, sizeFieldFor, type Reg } from '../bpf/insn.js';
import {
  type AsmInsn, type AsmItem, Helper, alu64Imm, alu64Reg, annotate, call, ja, jmpImm, label, ldImm64, ldMapFd, ldx, mov64Imm, mov64Reg, neg64, st, stx,
} from '../bpf/asm.js';
import { Class, Mode } from '../bpf/insn.js';
import type { HistField } from '../grammar/trigger/index.js';
import { HIST_DIV_SHIFT, MAX_FILTER_STR_VAL, TriggerUnsupportedError } from '../grammar/trigger/index.js';
import { FILTERED_MAP, PREFIX_COMM, PREFIX_CPU, PREFIX_TS, RECORD_PREFIX_SIZE } from './abi.js';
import type { CheckedFilter } from '../grammar/filter/index.js';
import type { FilterTarget } from './filter-codegen.js';
import { emitFilter } from './filter-codegen.js';
import { HIST_DROPS_MAP, HIST_SEQ_MAP, STACK_KEY_FRAMES, histMapName, tablePlan, type HistPlan } from './hist-layout.js';
import type { ProbeProgram } from './ir.js';
import { recordCapacity } from './lower.js';

const HIST_STACK_BASE = -512;
/** uapi: BPF_NOEXIST, BPF_ADD (atomic op), and the errno a racing insert gets. */
const BPF_NOEXIST = 1;
const BPF_ATOMIC_ADD = 0x00;
/** BPF_ADD | BPF_FETCH: src gets the old value. */
const BPF_ATOMIC_FETCH_ADD = 0x01;
const EEXIST = 17;
const DROP_SLOT = -4;

const fitsImm32 = (v: bigint) => v >= -(1n << 31n) && v < (1n << 31n);

/** lock *(u64 *)(dst + off) += src */
const atomicAdd64 = (dst: Reg, off: number, src: Reg): AsmInsn => ({ code: Class.STX | Mode.ATOMIC | Size.DW, dst, src, off, imm: BPF_ATOMIC_ADD });

/** src = fetch-and-add *(u64 *)(dst + off) += src */
const atomicFetchAdd64 = (dst: Reg, off: number, src: Reg): AsmInsn => ({ code: Class.STX | Mode.ATOMIC | Size.DW, dst, src, off, imm: BPF_ATOMIC_FETCH_ADD });

/** r1 = a u64 constant operand into reg (through r4 when it does not fit an immediate). */
function aluConst(op: 'div' | 'mul', reg: Reg, v: bigint): AsmItem[] {
  return fitsImm32(v) ? [alu64Imm(op, reg, Number(v))] : [ldImm64(R4, BigInt.asUintN(64, v)), alu64Reg(op, reg, R4)];
}

/** kernel: hist_field_log2 — ilog2(roundup_pow_of_two(v)) on r1: 0 for v <= 1, else fls64(v - 1). */
function log2(fresh: (p: string) => string): AsmItem[] {
  const big = fresh('log2_big'), done = fresh('log2_done');
  const out: AsmItem[] = [jmpImm('jgt', R1, 1, big), mov64Imm(R1, 0), ja(done), label(big), alu64Imm('sub', R1, 1), mov64Imm(R2, 0)];
  for (const bits of [32, 16, 8, 4, 2, 1]) {
    const skip = fresh('log2_skip');
    out.push(mov64Reg(R3, R1), alu64Imm('rsh', R3, bits), jmpImm('jeq', R3, 0, skip), alu64Imm('add', R2, bits), mov64Reg(R1, R3), label(skip));
  }
  out.push(alu64Reg('add', R2, R1), mov64Reg(R1, R2), label(done));
  return out;
}

/** Where an expression keeps its left operand while the right one is computed, one u64 per nesting level (at most three operators). */
const EXPR_SLOTS = [-80, -72, -64] as const;

/** What computing a value needs besides the field: fresh labels, and whether the trigger's timestamps are in usecs. */
interface ValueContext {
  readonly fresh: (p: string) => string;
  /** kernel: attrs->ts_in_usecs — one `.usecs` puts every common_timestamp of the trigger in usecs. */
  readonly tsInUsecs: boolean;
}

/** r1 = v */
const loadConst = (v: bigint): AsmItem[] => (fitsImm32(v) && v >= 0n ? [mov64Imm(R1, Number(v))] : [ldImm64(R1, BigInt.asUintN(64, v))]);

/** r1 = r1 / divisor as the kernel's hist_field_get_div_fn chose to divide by a constant. */
function divByConstant(divisor: bigint, c: ValueContext): AsmItem[] {
  if ((divisor & (divisor - 1n)) === 0n || divisor > 1n << HIST_DIV_SHIFT) return aluConst('div', R1, divisor);
  // kernel: div_by_mult_and_shift, exact only below 1 << HIST_DIV_SHIFT, a plain division above
  const mult = (1n << HIST_DIV_SHIFT) / divisor;
  const big = c.fresh('div_big'), done = c.fresh('div_done');
  return [
    mov64Reg(R2, R1), alu64Imm('rsh', R2, Number(HIST_DIV_SHIFT)), jmpImm('jne', R2, 0, big),
    alu64Imm('mul', R1, Number(mult)), alu64Imm('add', R1, Number((1n << HIST_DIV_SHIFT) - 1n)), alu64Imm('rsh', R1, Number(HIST_DIV_SHIFT)), ja(done),
    label(big), ...aluConst('div', R1, divisor), label(done),
  ];
}

/** r1 = an expression's value (kernel: hist_field_plus, _minus, _mult, _div, _unary_minus on u64). */
function exprValue(f: HistField, c: ValueContext, depth: number): AsmItem[] {
  const [a, b] = f.operands!;
  if (f.operator === 'neg') return [...numericValue(a!, c, depth), neg64(R1)];
  const slot = EXPR_SLOTS[depth];
  if (slot === undefined) throw new TriggerUnsupportedError(`${f.name}: an expression nested deeper than the kernel's three operators`);
  if (f.operator === '/' && b!.source === 'const') return [...numericValue(a!, c, depth), ...divByConstant(b!.constant!, c)];
  const out: AsmItem[] = [...numericValue(a!, c, depth + 1), stx(sizeFieldFor(8), R10, slot, R1), ...numericValue(b!, c, depth + 1), mov64Reg(R2, R1), ldx(sizeFieldFor(8), R1, R10, slot)];
  switch (f.operator) {
    case '+': out.push(alu64Reg('add', R1, R2)); break;
    case '-': out.push(alu64Reg('sub', R1, R2)); break;
    case '*': out.push(alu64Reg('mul', R1, R2)); break;
    case '/': {
      // kernel: hist_field_div returns -1 for a zero divisor (BPF would give 0)
      const nonzero = c.fresh('div_nonzero'), done = c.fresh('div_done');
      out.push(jmpImm('jne', R2, 0, nonzero), ldImm64(R1, (1n << 64n) - 1n), ja(done), label(nonzero), alu64Reg('div', R1, R2), label(done));
      break;
    }
  }
  return out;
}

/** r1 = the field's value as the kernel's hist_fn_call computes it (a number). */
function numericValue(f: HistField, c: ValueContext, depth = 0): AsmItem[] {
  const out: AsmItem[] = [];
  switch (f.source) {
    case 'const': return loadConst(f.constant!);
    case 'expr': return exprValue(f, c, depth);
    case 'cpu': out.push(ldx(sizeFieldFor(4), R1, R7, PREFIX_CPU)); break;
    case 'timestamp':
      out.push(ldx(sizeFieldFor(8), R1, R7, PREFIX_TS));
      // kernel: ns2usecs rounds to the nearest microsecond
      if (c.tsInUsecs) out.push(alu64Imm('add', R1, 500), alu64Imm('div', R1, 1000));
      break;
    case 'field': {
      const size = f.size as 1 | 2 | 4 | 8;
      out.push(ldx(sizeFieldFor(size), R1, R7, RECORD_PREFIX_SIZE + f.field!.offset));
      if (f.signed && size < 8) out.push(alu64Imm('lsh', R1, 64 - 8 * size), alu64Imm('arsh', R1, 64 - 8 * size));
      break;
    }
    case 'stacktrace': throw new TriggerUnsupportedError('stacktrace as a hist key');
  }
  if (f.modifier === 'log2') out.push(...log2(c.fresh));
  if (f.modifier === 'buckets') out.push(...aluConst('div', R1, f.buckets!), ...aluConst('mul', R1, f.buckets!));
  return out;
}

/** A __data_loc string key: at most MAX_FILTER_STR_VAL - 1 bytes and a NUL; a faulted (empty) string leaves the zeros. */
function stringKey(f: HistField, at: number, fresh: (p: string) => string): AsmItem[] {
  if (f.field?.filterType !== 'dyn_string') throw new TriggerUnsupportedError(`${f.name}: a ${f.field?.type ?? 'string'} field as a hist key`);
  const empty = fresh('hist_str_empty');
  return [
    ldx(sizeFieldFor(4), R3, R7, RECORD_PREFIX_SIZE + f.field.offset),
    mov64Reg(R2, R3), alu64Imm('rsh', R2, 16),
    jmpImm('jeq', R2, 0, empty),
    alu64Imm('and', R3, 0xffff), alu64Reg('add', R3, R7), alu64Imm('add', R3, RECORD_PREFIX_SIZE),
    mov64Reg(R1, R10), alu64Imm('add', R1, at),
    mov64Imm(R2, MAX_FILTER_STR_VAL),
    call(Helper.probe_read_kernel_str),
    label(empty),
  ];
}

/**
 * A stacktrace key: the task's kernel stack (bpf_get_task_stack on the
 * current task: a uprobe's or kprobe's pt_regs are where the probe hit, not
 * the kernel stack the kernel's trigger saves), STACK_KEY_FRAMES deep, the
 * rest left zero; the runtime cuts it where the kernel's would start.
 */
function stackKey(at: number): AsmItem[] {
  return [
    call(Helper.get_current_task_btf), mov64Reg(R1, R0),
    mov64Reg(R2, R10), alu64Imm('add', R2, at), mov64Imm(R3, 8 * STACK_KEY_FRAMES), mov64Imm(R4, 0),
    call(Helper.get_task_stack),
  ];
}

/** The code of one hist trigger on the program's event. */
function emitHist(p: ProbeProgram, plan: HistPlan): AsmItem[] {
  const t = plan.trigger;
  const { layout } = plan;
  let n = 0;
  const fresh = (prefix: string) => `hist${plan.index}_${prefix}_${n++}`;
  const vc: ValueContext = { fresh, tsInUsecs: t.tsInUsecs };
  const done = fresh('done'), add = fresh('add'), raced = fresh('raced');
  // the table this trigger adds to: its own, or its named owner's (entry numbers and drops with it)
  const owner = tablePlan(plan);
  const table = owner.index;
  const keyAt = HIST_STACK_BASE;
  const valAt = HIST_STACK_BASE + layout.keySize;
  const out: AsmItem[] = [];
  if (t.filter) {
    out.push(...annotate(`hist filter: ${t.filter.text}`, emitFilter({ program: p, capacity: recordCapacity(p), fresh }, t.filter, done)));
  }
  const key: AsmItem[] = [];
  for (let at = 0; at < layout.keySize; at += 8) key.push(st(sizeFieldFor(8), R10, keyAt + at, 0));
  t.keys.forEach((k, i) => {
    const at = keyAt + layout.keyOffsets[i]!;
    key.push(...(k.string ? stringKey(k, at, fresh) : k.source === 'stacktrace' ? stackKey(at) : [...numericValue(k, vc), stx(sizeFieldFor(8), R10, at, R1)]));
  });
  out.push(...annotate('hist key', key));
  const value: AsmItem[] = [st(sizeFieldFor(8), R10, valAt, 1)];
  t.vals.forEach((v, i) => value.push(...numericValue(v, vc), stx(sizeFieldFor(8), R10, valAt + 8 * (i + 1), R1)));
  if (layout.commOffset !== undefined) {
    for (const half of [0, 8]) value.push(ldx(sizeFieldFor(8), R1, R7, PREFIX_COMM + half), stx(sizeFieldFor(8), R10, valAt + layout.commOffset + half, R1));
  }
  out.push(...annotate('hist value: hitcount 1 and this hit\'s values', value));
  const lookup = (): AsmItem[] => [ldMapFd(R1, histMapName(table)), mov64Reg(R2, R10), alu64Imm('add', R2, keyAt), call(Helper.map_lookup_elem)];
  out.push(...annotate('an existing entry: add to it', [...lookup(), jmpImm('jne', R0, 0, add)]));
  const noSeq = fresh('no_seq');
  out.push(...annotate('a new entry (BPF_NOEXIST); a full map drops the hit', [
    st(sizeFieldFor(8), R10, valAt + layout.seqOffset, 0),
    st(sizeFieldFor(4), R10, DROP_SLOT, table),
    ldMapFd(R1, HIST_SEQ_MAP), mov64Reg(R2, R10), alu64Imm('add', R2, DROP_SLOT), call(Helper.map_lookup_elem),
    jmpImm('jeq', R0, 0, noSeq),
    mov64Imm(R1, 1), atomicFetchAdd64(R0, 0, R1),
    stx(sizeFieldFor(8), R10, valAt + layout.seqOffset, R1),
    label(noSeq),
    ldMapFd(R1, histMapName(table)), mov64Reg(R2, R10), alu64Imm('add', R2, keyAt), mov64Reg(R3, R10), alu64Imm('add', R3, valAt),
    mov64Imm(R4, BPF_NOEXIST), call(Helper.map_update_elem),
    jmpImm('jeq', R0, 0, done),
    jmpImm('jeq', R0, -EEXIST, raced),
    st(sizeFieldFor(4), R10, DROP_SLOT, table),
    ldMapFd(R1, HIST_DROPS_MAP), mov64Reg(R2, R10), alu64Imm('add', R2, DROP_SLOT), call(Helper.map_lookup_elem),
    jmpImm('jeq', R0, 0, done),
    mov64Imm(R1, 1), atomicAdd64(R0, 0, R1),
    ja(done),
    label(raced),
    ...lookup(),
    jmpImm('jeq', R0, 0, done),
  ]));
  const sums: AsmItem[] = [label(add)];
  // a per-CPU entry is this CPU's alone: a plain add; a shared one takes an atomic add
  const percpu = owner.sums === 'percpu';
  for (let i = 0; i <= t.vals.length; i++) {
    sums.push(ldx(sizeFieldFor(8), R1, R10, valAt + 8 * i));
    sums.push(...(percpu ? [ldx(sizeFieldFor(8), R2, R0, 8 * i), alu64Reg('add', R2, R1), stx(sizeFieldFor(8), R0, 8 * i, R2)] : [atomicAdd64(R0, 8 * i, R1)]));
  }
  out.push(...annotate('entry sums += this hit\'s', sums), label(done));
  return annotate(`hist trigger ${plan.index}: ${plan.text}`, out);
}

/** Every hist trigger of the program's event, in the order they were written (paused ones collect nothing). */
export function emitHistTriggers(p: ProbeProgram, plans: readonly HistPlan[]): AsmItem[] {
  return plans.filter((h) => !h.trigger.pause).flatMap((h) => emitHist(p, h));
}

/**
 * The event's filter on the whole record, after its triggers ran (a
 * trigger sees every hit, the event's filter only decides what is sent): a
 * record it drops is counted in
 * filtered[eventId] (the profile's hits), and the program returns.
 */
export function emitRecordFilterGate(t: FilterTarget, filter: CheckedFilter, eventId: number, exit: string): AsmItem[] {
  const reject = t.fresh('filter_reject'), send = t.fresh('filter_keep_send');
  return [
    ...emitFilter(t, filter, reject),
    ja(send),
    label(reject),
    ...annotate('the filter drops the record: count the hit', [
      ...countInMap(FILTERED_MAP, DROP_SLOT, eventId, exit),
      ja(exit),
    ]),
    label(send),
  ];
}
