// Where a hist trigger's key and value live in its BPF hash map, shared by
// the program that fills the map and the runtime that prints it. The key is
// the kernel's compound key (kernel: create_key_field, add_to_key): each
// field 8-byte aligned, numbers as u64 (sign-extended as the kernel's
// hist_field_s32 and friends), strings cut to MAX_FILTER_STR_VAL - 1 bytes
// with their NUL, the rest zero. The value is hitcount then each value's
// sum as u64, then the comm of the task that made the entry when a key is
// `.execname` (kernel: hist_trigger_elt_data_init, save_comm).
import type { HistTrigger } from '../grammar/trigger/index.js';
import { keySizeOf } from '../grammar/trigger/index.js';
import { TASK_COMM_LEN } from './abi.js';

/** Per-CPU u64 per hist trigger: entries the full map refused (the hist file's `Dropped:`). */
export const HIST_DROPS_MAP = 'hist_drops';
/**
 * ARRAY of one u64 per hist trigger: the count of entries made, each new
 * entry stamped with it, so the runtime can replay the kernel's insertion
 * order (its tracing_map's slot order decides how ties print).
 */
export const HIST_SEQ_MAP = 'hist_seq';
/** The hash map of hist trigger `index` (numbered from 0 over the whole object). */
export const histMapName = (index: number): string => `hist_${index}`;

export interface HistLayout {
  /** Each key's offset in the compound key, in key order. */
  readonly keyOffsets: readonly number[];
  readonly keySize: number;
  /** Offset of the comm (TASK_COMM_LEN bytes) in the value, when a key is `.execname`. */
  readonly commOffset?: number;
  /** Offset of the entry's creation number (u64, from HIST_SEQ_MAP) in the value. */
  readonly seqOffset: number;
  readonly valueSize: number;
}

/**
 * Frames a stacktrace key captures: the task's whole kernel stack from the
 * BPF program down, of which the runtime keeps the kernel's
 * HIST_STACKTRACE_DEPTH frames below the probe's dispatcher (runtime/hist/stack-key.ts).
 */
export const STACK_KEY_FRAMES = 32;
/** Bytes of BPF stack a hist trigger's key and value may take (compiler/hist-codegen.ts: fp-512 up to fp-80). */
export const HIST_STACK_BUDGET = 432;

export function histLayout(t: HistTrigger): HistLayout {
  const keyOffsets: number[] = [];
  let keySize = 0;
  for (const k of t.keys) { keyOffsets.push(keySize); keySize += k.source === 'stacktrace' ? 8 * STACK_KEY_FRAMES : keySizeOf(k); }
  const sums = 8 * (1 + t.vals.length);
  const execname = t.keys.some((k) => k.modifier === 'execname');
  const seqOffset = sums + (execname ? TASK_COMM_LEN : 0);
  return { keyOffsets, keySize, seqOffset, valueSize: seqOffset + 8, ...(execname ? { commOffset: sums } : {}) };
}

/** One hist trigger of an event, as the compiler and the runtime both see it. */
export interface HistPlan {
  readonly group: string;
  readonly event: string;
  /** The trigger as written (after `GRP/EVENT:`), for messages. */
  readonly text: string;
  readonly trigger: HistTrigger;
  /** Number over the object: its map is histMapName(index), its drops HIST_DROPS_MAP[index]. */
  readonly index: number;
  readonly layout: HistLayout;
  /**
   * `name=`: the first trigger of that name, whose table (map, entry
   * numbers, drops) this one adds its event's hits to and prints (kernel:
   * event_hist_trigger_named_ops, one hist_data for all).
   */
  readonly owner?: HistPlan;
  /**
   * How entries are summed: 'atomic', one value per key added to with
   * atomic adds from every CPU (a HASH map); 'percpu', one value per key
   * and CPU, added to without atomics and summed when read (a PERCPU_HASH).
   */
  readonly sums: HistSums;
}

export type HistSums = 'atomic' | 'percpu';

/** The plan whose map holds the trigger's table: its named owner's, or its own. */
export const tablePlan = (p: HistPlan): HistPlan => p.owner ?? p;

/** The trigger as its event's hist file prints it: a named one shows its owner's table and fields, with its own filter and pause. */
export function shownTrigger(p: HistPlan): HistTrigger {
  if (!p.owner) return p.trigger;
  const { filter: _f, ...owner } = p.owner.trigger;
  return { ...owner, ...(p.trigger.name !== undefined ? { name: p.trigger.name } : {}), pause: p.trigger.pause, ...(p.trigger.filter ? { filter: p.trigger.filter } : {}) };
}
