// The stacktrace, traceon and traceoff triggers as BPF (kernel:
// trace_events_trigger.c). One switch for the whole trace, as the kernel's
// tracing_on is one per trace instance: an ARRAY map of one u64, 0 while
// recording (so a fresh map records), that every program reads where the
// kernel reserves its ring-buffer event. A trigger with a count uses one
// u64 of TRIGGER_USED_MAP: the times it fired, compared with the count
// (traceon/traceoff count only the times they switched, as the kernel's
// traceon_count_trigger returns early when tracing is already on).
//
// When the kernel runs an event's triggers (trace_events_trigger.c,
// update_cond_flag): an event whose triggers all act without the record
// (traceon with no filter) runs them before the event is reserved; any
// other trigger (a filter, a hist, or a post trigger: stacktrace and
// traceoff, which act after the event's commit, so the event that turns
// tracing off is still recorded) makes all of the event's triggers run on
// the record, after it was reserved, so the switch is read before them.
// Post triggers run newest first, as the kernel's list holds them. A
// stacktrace is its own record (STACK_ENTRY_TYPE) sent after the event's,
// when recording then.
import { R0, R1, R2, R3, R4, R5, R7, R10, sizeFieldFor } from '../bpf/insn.js';
import { Class, Mode, Size } from '../bpf/insn.js';
import {
  type AsmInsn, type AsmItem, Helper, alu64Imm, annotate, call, ja, jmpImm, jmpReg, label, ldImm64, ldMapFd, ldx, mov64Imm, mov64Reg, st, stx,
} from '../bpf/asm.js';
import type { CountTrigger } from '../grammar/trigger/index.js';
import { MapType } from '../bpf/elf.js';
import type { MapSpec } from '../bpf/elf-writer.js';
import { MISSES_MAP, RECORD_PREFIX_SIZE, RINGBUF_MAP } from './abi.js';
import { countInMap } from './map-counter.js';
import { emitRecordPrefix, perfEventOutput } from './codegen.js';
import { emitFilter } from './filter-codegen.js';
import type { ProbeProgram } from './ir.js';
import { recordCapacity } from './lower.js';

/** ARRAY of one u64: nonzero while recording is off (traceoff fired). */
export const TRACING_OFF_MAP = 'tracing_off';
/** ARRAY of one u64 per counted trigger: the times it fired. */
export const TRIGGER_USED_MAP = 'trigger_used';
/** common_type of a stack record (no event of ours has it: ids count from 1). */
export const STACK_ENTRY_TYPE = 0xfffe;
/** Frames a stack record holds (the trigger's own frames above the probe's dispatcher included). */
export const STACK_FRAMES = 64;
/**
 * A stack record's entry: struct trace_entry (8 bytes, the event's flags,
 * preempt count and pid), u32 bytes of frames, u32 the event's id, then
 * the frames as bpf_get_task_stack writes them.
 */
export const STACK_ENTRY = { BYTES: 8, EVENT: 12, FRAMES: 16 } as const;
export const STACK_RECORD_SIZE = RECORD_PREFIX_SIZE + STACK_ENTRY.FRAMES + 8 * STACK_FRAMES;

/** Stack slots below codegen's and the filters' (fp-56 and up) and above a hist key and value (at most fp-80). */
const OFF_SLOT = -64;
const FIRE_SLOT = -72;
const HEADER_SLOT = -80;
const KEY_SLOT = -4;

/** One stacktrace/traceon/traceoff trigger of an event. */
export interface CountPlan {
  readonly group: string;
  readonly event: string;
  readonly text: string;
  readonly trigger: CountTrigger;
  /** Its u64 in TRIGGER_USED_MAP (numbered over the object). */
  readonly index: number;
}

/** kernel: update_cond_flag — the event's triggers need the record (a filter, a hist, a post trigger). */
export const triggersNeedRecord = (counts: readonly CountPlan[], hists: number): boolean =>
  hists > 0 || counts.some((c) => c.trigger.filter !== undefined || isPost(c));

/** kernel: EVENT_CMD_FL_POST_TRIGGER (stacktrace, traceoff). */
export const isPost = (c: CountPlan): boolean => c.trigger.kind !== 'traceon';
/** The bit of FIRE_SLOT a post trigger sets when its filter passes. */
const fireBit = (c: CountPlan): number => (c.trigger.kind === 'stacktrace' ? 1 : 2);

export const hasSwitch = (counts: readonly CountPlan[]): boolean => counts.some((c) => c.trigger.kind !== 'stacktrace');

export function countMapsOf(counts: readonly CountPlan[]): MapSpec[] {
  return [
    ...(hasSwitch(counts) ? [{ name: TRACING_OFF_MAP, type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 }] : []),
    ...(counts.length > 0 ? [{ name: TRIGGER_USED_MAP, type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: counts.length }] : []),
  ];
}

/** lock *(u64 *)(dst + off) += src */
const atomicAdd64 = (dst: typeof R0, off: number, src: typeof R0): AsmInsn => ({ code: Class.STX | Mode.ATOMIC | Size.DW, dst, src, off, imm: 0 });

/** r0 = &map[key] or jump to `missing`; clobbers r1-r5. */
const lookup = (map: string, key: number, missing: string): AsmItem[] => [
  st(sizeFieldFor(4), R10, KEY_SLOT, key), mov64Reg(R2, R10), alu64Imm('add', R2, KEY_SLOT), ldMapFd(R1, map), call(Helper.map_lookup_elem),
  jmpImm('jeq', R0, 0, missing),
];

/** r1 = the switch (nonzero: recording off). */
function readSwitch(fresh: (p: string) => string): AsmItem[] {
  const done = fresh('switch_read');
  return [...lookup(TRACING_OFF_MAP, 0, done), ldx(sizeFieldFor(8), R1, R0, 0), ja(`${done}_have`), label(done), mov64Imm(R1, 0), label(`${done}_have`)];
}

/** The count check: a trigger that fired `count` times jumps to `skip`; else its use is counted. */
function countUse(c: CountPlan, skip: string): AsmItem[] {
  if (c.trigger.count === undefined) return [];
  return [
    ...lookup(TRIGGER_USED_MAP, c.index, skip),
    ldx(sizeFieldFor(8), R1, R0, 0),
    ldImm64(R2, c.trigger.count), jmpReg('jge', R1, R2, skip),
    mov64Imm(R1, 1), atomicAdd64(R0, 0, R1),
  ];
}

interface TriggerTarget {
  readonly program: ProbeProgram;
  readonly fresh: (p: string) => string;
}

/** kernel: traceon_trigger / traceoff_trigger (and their _count forms): act only when switching. */
function emitOnOff(t: TriggerTarget, c: CountPlan, filtered = true): AsmItem[] {
  const skip = t.fresh(`${c.trigger.kind}_skip`);
  const off = c.trigger.kind === 'traceoff';
  const out: AsmItem[] = [];
  if (c.trigger.filter && filtered) out.push(...emitFilter({ program: t.program, capacity: recordCapacity(t.program), fresh: t.fresh }, c.trigger.filter, skip));
  out.push(...readSwitch(t.fresh), jmpImm(off ? 'jne' : 'jeq', R1, 0, skip), ...countUse(c, skip),
    ...lookup(TRACING_OFF_MAP, 0, skip), mov64Imm(R1, off ? 1 : 0), stx(sizeFieldFor(8), R0, 0, R1), label(skip));
  return annotate(`${c.trigger.kind} trigger: ${c.text}`, out);
}

/**
 * What runs before the record for an event whose triggers do not need it
 * (the kernel's unconditional triggers, then its reserve failing while
 * off), or for an event without triggers in a trace with a switch: exit
 * while recording is off. For an event whose triggers need the record: the
 * switch as the reservation saw it, kept in OFF_SLOT, and no stacktrace
 * fired yet.
 */
export function emitBeforeRecord(p: ProbeProgram, counts: readonly CountPlan[], needRecord: boolean, switched: boolean, exit: string, fresh: (p: string) => string): AsmItem[] {
  const t = { program: p, fresh };
  if (needRecord) {
    return annotate('recording on or off as the event is reserved; no stacktrace yet', [
      ...(switched ? readSwitch(fresh) : [mov64Imm(R1, 0)]),
      stx(sizeFieldFor(8), R10, OFF_SLOT, R1), st(sizeFieldFor(8), R10, FIRE_SLOT, 0),
    ]);
  }
  if (!switched) return [];
  return [...counts.flatMap((c) => emitOnOff(t, c)), ...annotate('recording off: no record', [...readSwitch(fresh), jmpImm('jne', R1, 0, exit)])];
}

/** The event's triggers on its record (r7; its entry header saved for a stacktrace record). */
export function emitCountTriggers(p: ProbeProgram, counts: readonly CountPlan[], fresh: (p: string) => string): AsmItem[] {
  const t = { program: p, fresh };
  const out: AsmItem[] = [];
  for (const c of counts) {
    if (!isPost(c)) { out.push(...emitOnOff(t, c)); continue; }
    const skip = fresh(`${c.trigger.kind}_filtered`);
    const body: AsmItem[] = [];
    if (c.trigger.filter) body.push(...emitFilter({ program: p, capacity: recordCapacity(p), fresh }, c.trigger.filter, skip));
    body.push(ldx(sizeFieldFor(8), R1, R10, FIRE_SLOT), alu64Imm('or', R1, fireBit(c)), stx(sizeFieldFor(8), R10, FIRE_SLOT, R1), label(skip));
    out.push(...annotate(`${c.trigger.kind} trigger (its filter now, its action after the event): ${c.text}`, body));
  }
  if (counts.some((c) => c.trigger.kind === 'stacktrace')) {
    out.push(...annotate('the entry header a stack record repeats', [ldx(sizeFieldFor(8), R1, R7, RECORD_PREFIX_SIZE), stx(sizeFieldFor(8), R10, HEADER_SLOT, R1)]));
  }
  return out;
}

/** Before the record is sent: recording was off when it was reserved, so it is not sent. */
export function emitRecordGate(after: string, fresh: (p: string) => string): AsmItem[] {
  const keep = fresh('recording_on');
  return annotate('recording was off at the reservation: the record is dropped', [
    ldx(sizeFieldFor(8), R1, R10, OFF_SLOT), jmpImm('jeq', R1, 0, keep), ja(after), label(keep),
  ]);
}

/**
 * After the event's record (kernel: event_triggers_post_call), newest
 * first: each post trigger whose filter passed. r6 is ctx; an atomic
 * program's r7 is still its scratch record.
 */
export function emitPostTriggers(p: ProbeProgram, counts: readonly CountPlan[], eventId: number, switched: boolean, exit: string, fresh: (p: string) => string): AsmItem[] {
  const out: AsmItem[] = [];
  for (const c of [...counts].reverse().filter(isPost)) {
    const next = fresh(`post_${c.trigger.kind}_done`);
    out.push(ldx(sizeFieldFor(8), R1, R10, FIRE_SLOT), alu64Imm('and', R1, fireBit(c)), jmpImm('jeq', R1, 0, next));
    if (c.trigger.kind === 'traceoff') out.push(...emitOnOff({ program: p, fresh }, c, false));
    else out.push(...emitStackRecord(p, c, eventId, switched, next, fresh));
    out.push(label(next));
  }
  return out;
}

/**
 * The stacktrace trigger, its count allowing and recording on: the task's
 * kernel stack as a record of its own.
 */
function emitStackRecord(p: ProbeProgram, c: CountPlan, eventId: number, switched: boolean, exit: string, fresh: (p: string) => string): AsmItem[] {
  const got = fresh('stack_reserved');
  const frames = RECORD_PREFIX_SIZE + STACK_ENTRY.FRAMES;
  const out: AsmItem[] = [...countUse(c, exit)];
  if (switched) out.push(...readSwitch(fresh), jmpImm('jne', R1, 0, exit));
  if (p.ringbuf) {
    // a full ring loses the stack record: counted as a miss of its event, as the event's own record is
    out.push(ldMapFd(R1, RINGBUF_MAP), mov64Imm(R2, STACK_RECORD_SIZE), mov64Imm(R3, 0), call(Helper.ringbuf_reserve), jmpImm('jne', R0, 0, got),
      ...countInMap(MISSES_MAP, KEY_SLOT, eventId, exit), ja(exit), label(got), mov64Reg(R7, R0));
  }
  out.push(
    ...emitRecordPrefix(),
    ldx(sizeFieldFor(8), R1, R10, HEADER_SLOT), stx(sizeFieldFor(8), R7, RECORD_PREFIX_SIZE, R1),
    st(sizeFieldFor(2), R7, RECORD_PREFIX_SIZE, STACK_ENTRY_TYPE),
    st(sizeFieldFor(4), R7, RECORD_PREFIX_SIZE + STACK_ENTRY.EVENT, eventId),
    call(Helper.get_current_task_btf), mov64Reg(R1, R0),
    mov64Reg(R2, R7), alu64Imm('add', R2, frames), mov64Imm(R3, 8 * STACK_FRAMES), mov64Imm(R4, 0),
    call(Helper.get_task_stack),
    jmpImm('jsge', R0, 0, `${got}_n`), mov64Imm(R0, 0), label(`${got}_n`),
    stx(sizeFieldFor(4), R7, RECORD_PREFIX_SIZE + STACK_ENTRY.BYTES, R0),
  );
  if (p.ringbuf) out.push(mov64Reg(R1, R7), mov64Imm(R2, 0), call(Helper.ringbuf_submit));
  else {
    const sent = fresh('stack_sent');
    out.push(...perfEventOutput([mov64Imm(R5, STACK_RECORD_SIZE)]), jmpImm('jeq', R0, 0, sent), ...countInMap(MISSES_MAP, KEY_SLOT, eventId, sent), label(sent));
  }
  return annotate(`stacktrace trigger: ${c.text}`, out);
}
