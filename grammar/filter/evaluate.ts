// The reference evaluator: what the kernel's filter_match_preds() answers for
// one record (kernel: filter_pred_* in trace_events_filter.c). Pure; it is
// the oracle for generated code. Strings are byte strings (one char a byte).
import type { CheckedExpr, CheckedPredicate, Compare, PredicateTest } from './checked.js';
import { regexMatch } from './regex.js';

/** kernel: TASK_COMM_LEN, USTRING_BUF_SIZE. */
const TASK_COMM_LEN = 16;
const USTRING_BUF_SIZE = 1024;

export interface FilterRecord {
  /** The record as the kernel builds it: common header, fields, then the dynamic (__data_loc) area. */
  readonly data: Uint8Array;
  /** The CPU the event fires on (raw_smp_processor_id). */
  readonly cpu: number;
  /** current->comm, bytes (at most 15 are kept). */
  readonly comm: string;
  /** The NUL-terminated string at a `char *` field's address, or undefined on a fault. */
  readonly readString?: (address: bigint, user: boolean) => string | undefined;
}

function readUint(data: Uint8Array, offset: number, width: number): bigint {
  let v = 0n;
  for (let i = width / 8 - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[offset + i] ?? 0);
  return v;
}

/**
 * The record's bytes from `start` on: the kernel's matchers stop at `len`
 * or at a NUL as each one does (a glob, or a len of 0, reads to the NUL).
 */
const rest = (data: Uint8Array, start: number): string => Buffer.from(data.subarray(start)).toString('latin1');

function compareValues(c: Compare, a: bigint, b: bigint): boolean {
  switch (c) {
    case 'eq': return a === b;
    case 'ne': return a !== b;
    case 'lt': return a < b;
    case 'le': return a <= b;
    case 'gt': return a > b;
    case 'ge': return a >= b;
    case 'band': return (a & b) !== 0n;
  }
}

/** The string a string predicate looks at and the len the kernel passes; undefined on a pointer fault. */
function stringOf(p: CheckedPredicate, t: Extract<PredicateTest, { kind: 'string' }>, r: FilterRecord): [string, number] | undefined {
  const off = p.field.offset;
  switch (t.source) {
    case 'static': return [rest(r.data, off), t.length];
    case 'comm': return [(r.comm.slice(0, TASK_COMM_LEN - 1)).padEnd(TASK_COMM_LEN, '\0'), TASK_COMM_LEN];
    case 'dynamic':
    case 'relative': {
      const item = Number(readUint(r.data, off, 32));
      const base = t.source === 'relative' ? off + 4 : 0;
      return [rest(r.data, base + (item & 0xffff)), item >>> 16];
    }
    default: {
      const s = r.readString?.(readUint(r.data, off, 64), t.source === 'user_pointer');
      if (s === undefined) return undefined;
      const z = s.indexOf('\0');
      const str = (z < 0 ? s : s.slice(0, z)).slice(0, USTRING_BUF_SIZE - 1);
      return [str, str.length + 1];
    }
  }
}

function maskBits(r: FilterRecord, offset: number, nbits: number): Set<number> {
  const loc = Number(readUint(r.data, offset, 32)) & 0xffff;
  const set = new Set<number>();
  for (let cpu = 0; cpu < nbits; cpu++) if ((r.data[loc + (cpu >> 3)] ?? 0) & (1 << (cpu & 7))) set.add(cpu);
  return set;
}

/** kernel: do_filter_scalar_cpumask (the mask has two CPUs or more, or none). */
const scalarInMask = (c: 'eq' | 'ne' | 'band', cpu: number, cpus: readonly number[]) => (c === 'eq' ? false : c === 'ne' ? true : cpus.includes(cpu));

function evaluatePredicate(p: CheckedPredicate, r: FilterRecord): boolean {
  const t = p.test;
  switch (t.kind) {
    case 'never': return false;
    case 'integer': {
      const raw = readUint(r.data, p.field.offset, t.width);
      return compareValues(t.compare, t.signed ? BigInt.asIntN(t.width, raw) : raw, t.value);
    }
    case 'cpu': return compareValues(t.compare, BigInt(r.cpu), BigInt(t.value));
    case 'cpu_in_mask': return scalarInMask(t.compare, r.cpu, t.cpus);
    case 'integer_in_mask': {
      const cpu = Number(BigInt.asUintN(32, readUint(r.data, p.field.offset, t.width)));
      return cpu < t.nrCpuIds && scalarInMask(t.compare, cpu, t.cpus);
    }
    case 'cpumask': {
      const have = maskBits(r, p.field.offset, t.nrCpuIds);
      const equal = have.size === t.cpus.length && t.cpus.every((c) => have.has(c));
      return t.compare === 'eq' ? equal : t.compare === 'ne' ? !equal : t.cpus.some((c) => have.has(c));
    }
    case 'cpumask_has_cpu': {
      const have = maskBits(r, p.field.offset, t.nrCpuIds);
      const only = have.has(t.cpu) && have.size === 1;
      return t.compare === 'eq' ? only : t.compare === 'ne' ? !only : have.has(t.cpu);
    }
    case 'string': {
      const s = stringOf(p, t, r);
      return s !== undefined && regexMatch(t.match, s[0], s[1]) !== t.not;
    }
    case 'function': {
      const a = readUint(r.data, p.field.offset, 64);
      return (a >= t.start && a < t.end) !== t.not;
    }
  }
}

function evaluateExpr(e: CheckedExpr, r: FilterRecord): boolean {
  switch (e.kind) {
    case 'pred': return evaluatePredicate(e.pred, r);
    case 'not': return !evaluateExpr(e.term, r);
    case 'and': return e.terms.every((t) => evaluateExpr(t, r));
    case 'or': return e.terms.some((t) => evaluateExpr(t, r));
  }
}

/** True when the kernel keeps the record (filter_match_preds returns 1). */
export const evaluateFilter = (filter: { readonly expr: CheckedExpr }, record: FilterRecord): boolean => evaluateExpr(filter.expr, record);
