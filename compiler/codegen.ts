// IR -> BPF. One program per probe event. The record is assembled in a per-CPU
// scratch map value and sent with bpf_perf_event_output; a sleepable program
// (uprobes) builds it in the task's own scratch (task storage: a per-CPU one
// could be reused by another task while this one sleeps on a page fault), and
// every uprobe program (sleepable or not, unless sleepable programs are off:
// ProbeProgram.ringbuf) copies the used length into a BPF ring buffer with
// bpf_ringbuf_output; the verifier refuses PERF_EVENT_ARRAY maps in sleepable programs (verifier.c
// check_map_prog_compatibility: "Sleepable programs can only use array, hash,
// ringbuf and local storage maps"). Copying out is what keeps a record with
// a short string short in the ring: a reservation's size must be a constant,
// so reserving in place would take the largest record's room every time.
// bpf_ringbuf_reserve_dynptr takes a size known only at run time, but only
// before the record is built, so it too needs the scratch and a copy
// (bpf_dynptr_write), in three helper calls to bpf_ringbuf_output's one:
// measured with kernel.bpf_stats_enabled on 6.18 (a uprobe with a string,
// 3 runs each, interleaved), 746-913 ns a hit with bpf_ringbuf_output against
// 1064-1668 with the dynptr, and 1416-2422 for the old in-place 4 KiB reservation.
//
// Register roles (the BPF calling convention fixes most of the allocation:
// helpers clobber r1-r5, r6-r9 survive calls, r10 is the frame pointer):
//   r6  ctx (struct pt_regs *), needed by reads and by perf_event_output
//   r7  record base (map value): prefix at +0, trace entry at +RECORD_PREFIX_SIZE
//   r8  dynamic data offset from the entry start (only when the event has strings)
//   r9  the trace entry's address (record + prefix), when the program places
//       enough dynamic data for one register to pay off (see usesEntryBase)
//   r1-r5 temporaries between calls; a fetched value lives in r3, the helpers' source argument
// Stack: fp-4 the map key, fp-16 the word a dereference reads into (also the
// byte a sleepable string fetch faults a page in with), fp-24 the address of
// the string being fetched (sleepable only, kept across its retries), fp-32
// the char ** of an array of strings.
import { countInMap } from './map-counter.js';
import {
  R0, R1, R10, R2, R3, R4, R5, R6, R7, R8, R9, sizeFieldFor, type Reg,
} from '../bpf/insn.js';
import {
  type AsmItem, Helper, alu64Imm, alu64Reg, annotate, annotateFrom, call, exit, ja, jmpImm, label, ldImm64, ldKsym, ldMapFd, ldx,
  mov32Imm, mov64Imm, mov64Reg, st, stx,
} from '../bpf/asm.js';
import {
  EVENTS_MAP, FIELD_STRING_FUNC, FIELD_STRING_IP, FIELD_STRING_RETIP, MISSES_MAP, PREFIX_COMM, PREFIX_CPU, PREFIX_TGID,
  PREFIX_TS, RECORD_PREFIX_SIZE, RINGBUF_BYTES, RINGBUF_MAP, SCRATCH_MAP, TASK_COMM_LEN, TASK_SCRATCH_MAP, type EventFormat,
} from './abi.js';
import { KPROBE_OPCODE_SIZE, PT_REGS_OFFSET } from './arch/x86_64.js';
import { emitTraceContext } from './codegen-flags.js';
import { DEFAULT_TRACE_CONTEXT_RULES, type TraceContextRules } from './codegen-flags-rules.js';
import type { FetchProgram, FetchSource, MemSpace, ProbeProgram, StoreOp } from './ir.js';
import { recordCapacity } from './lower.js';
import type { CheckedFilter } from '../grammar/filter/index.js';
import type { CoreAccess } from '../bpf/btf-core.js';
import { emitFilterBeforeRecord, emitFilteredFetches } from './filter-codegen.js';
import { emitRecordFilterGate } from './hist-codegen.js';
import { emitScopeCheck } from './filter-scope.js';
import { emitAttached, emitEventField } from './eprobe.js';
import { emitFtraceSite, emitTrampolineRetIp } from './trampoline-codegen.js';
import { emitEntryDataLoad } from './entry-data.js';

/** The reader of the BPF ring buffer is woken once a quarter of it waits to be read. */
const ringbufWakeupBytes = (ringBytes: number): number => ringBytes / 4;
/** kernel: a __data_loc field is u32 (length << 16 | offset from the entry start). */
const DATA_LOC_LEN_SHIFT = 16;
/** uapi/linux/bpf.h: ringbuf_query's BPF_RB_AVAIL_DATA, submit's BPF_RB_NO_WAKEUP / BPF_RB_FORCE_WAKEUP. */
const BPF_RB_AVAIL_DATA = 0;
const BPF_RB_NO_WAKEUP = 1;
const BPF_RB_FORCE_WAKEUP = 2;

const KEY_SLOT = -4;
const DEREF_SLOT = -16;
const STRING_ADDR_SLOT = -24;
const ARRAY_BASE_SLOT = -32;
/** x86-64 PAGE_SIZE - 1: addr | PAGE_MASK_LOW + 1 is the next page. */
const PAGE_MASK_LOW = 4095;
const WORD = 8;
/** perf_event_output's flags: the ring of the CPU we run on (BPF_F_CURRENT_CPU). */
const BPF_F_CURRENT_CPU = 0xffffffff;
/** uapi/linux/bpf.h: task_storage_get makes the task's value (zeroed) when it has none. */
const BPF_LOCAL_STORAGE_GET_F_CREATE = 1;

const NOFAULT_READ_HELPER: Readonly<Record<MemSpace, number>> = {
  // bpf_probe_read picks user or kernel memory by address on x86, as the
  // kernel's kprobe fetch does (probe_mem_read with non-overlapping address spaces)
  auto: Helper.probe_read,
  kernel: Helper.probe_read_kernel,
  user: Helper.probe_read_user,
};
/**
 * Reads per program kind: a sleepable program reads user memory with
 * bpf_copy_from_user, which faults pages in like the kernel's uprobe fetch
 * (trace_uprobe.c probe_mem_read: copy_from_user) and zero-fills on error.
 */
const READ_HELPER: Readonly<Record<'sleepable' | 'atomic', Readonly<Record<MemSpace, number>>>> = {
  atomic: NOFAULT_READ_HELPER,
  sleepable: { ...NOFAULT_READ_HELPER, user: Helper.copy_from_user },
};
const flavor = (p: ProbeProgram): 'sleepable' | 'atomic' => (p.sleepable ? 'sleepable' : 'atomic');
const READ_STR_HELPER: Readonly<Record<MemSpace, number>> = {
  auto: Helper.probe_read_str,
  kernel: Helper.probe_read_kernel_str,
  user: Helper.probe_read_user_str,
};

const IMM32_MIN = -(1n << 31n);
const IMM32_END = 1n << 31n;
const fitsImm32 = (v: bigint) => v >= IMM32_MIN && v < IMM32_END;
const entry = (off: number) => RECORD_PREFIX_SIZE + off;

/** A common or probe field's offset in the trace entry, as the layout placed it. */
function fieldOffset(format: EventFormat, name: string): number {
  // (no joined copy of the two lists: this runs several times per program)
  const f = format.commonFields.find((x) => x.name === name) ?? format.probeFields.find((x) => x.name === name);
  if (!f) throw new Error(`${format.group}/${format.event}: the layout has no ${name} field`);
  return f.offset;
}

/** Per-program code generation state: labels are made here, each unique within the program. */
class Emitter {
  private labels = 0;
  private readonly named = new Set<string>();
  readonly items: AsmItem[] = [];
  /** r9 holds the entry's address: each dynamic destination costs 2 instructions instead of 3. */
  readonly entryBase: boolean;
  /** Where every early exit and the end of the program jump: return 0. */
  readonly exitLabel: string;
  /** __data_loc words a dereference fault may have left pending (pushDerefFault), one each: settled once every fetch is done. */
  readonly pendingLocs: number[] = [];
  constructor(readonly program: ProbeProgram, readonly ringBytes: number = RINGBUF_BYTES) {
    this.entryBase = dynamicDestinations(program) >= 3;
    this.exitLabel = this.unique('out');
  }
  /** A new label for a code shape that can repeat: prefix_N. */
  fresh(prefix: string): string { return `${prefix}_${this.labels++}`; }
  /** A label for a shape that occurs once per program; a second request is a codegen bug. */
  unique(name: string): string {
    if (this.named.has(name)) throw new Error(`codegen: label ${name} requested twice in ${this.program.name}`);
    this.named.add(name);
    return name;
  }
  push(...items: AsmItem[]): void { this.items.push(...items); }
}

// The fetch path pushes into one array per fetch (`out`): each stage used to
// return its own array, spread into its caller's, so every instruction of a
// fetch was copied two or three times (issue 13). The order of the pushes and
// of the labels made (e.fresh) is the order the arrays were joined in.

/** dst = a 64-bit constant, as one instruction when it fits. */
function pushLoadConst(out: AsmItem[], dst: Reg, v: bigint): void {
  out.push(fitsImm32(v) ? mov64Imm(dst, Number(v)) : ldImm64(dst, BigInt.asUintN(64, v)));
}

function loadConst(dst: Reg, v: bigint): AsmItem[] {
  const out: AsmItem[] = [];
  pushLoadConst(out, dst, v);
  return out;
}

/**
 * dst += a struct member's offset that libbpf relocates (CO-RE): always one
 * `add` with the offset as immediate, even 0, for libbpf to patch.
 */
function pushMemberOffset(out: AsmItem[], dst: Reg, v: bigint, core: CoreAccess | undefined): void {
  if (!core) pushAddConst(out, dst, v);
  else out.push({ ...alu64Imm('add', dst, Number(v)), core });
}

function pushAddConst(out: AsmItem[], dst: Reg, v: bigint): void {
  if (v === 0n) return;
  if (fitsImm32(v)) out.push(alu64Imm('add', dst, Number(v)));
  else out.push(ldImm64(R1, BigInt.asUintN(64, v)), alu64Reg('add', dst, R1));
}

function addConst(dst: Reg, v: bigint): AsmItem[] {
  const out: AsmItem[] = [];
  pushAddConst(out, dst, v);
  return out;
}

/** Stage 1: the first value, into r3. */
function pushSource(out: AsmItem[], e: Emitter, src: FetchSource): void {
  switch (src.op) {
    case 'reg': out.push(ldx(sizeFieldFor(8), R3, R6, src.ptRegsOffset)); return;
    case 'imm': pushLoadConst(out, R3, src.value); return;
    case 'ksym': out.push(ldKsym(R3, src.symbol)); pushAddConst(out, R3, src.offset); return;
    // kernel: translate_user_vaddr — the probed address minus the probe's file
    // offset is where the file is mapped; __probe_ip/__probe_func already holds it.
    case 'foffs': {
      const ip = fieldOffset(e.program.format, e.program.format.isReturn ? FIELD_STRING_FUNC : FIELD_STRING_IP);
      out.push(ldx(sizeFieldFor(8), R3, R7, entry(ip)));
      pushAddConst(out, R3, src.fileOffset - src.probeFileOffset);
      return;
    }
    case 'comm':
    case 'immstr':
      return;
    case 'event-field': {
      const raw = e.program.attached?.raw;
      if (!raw) throw new Error(`${e.program.name}: $${src.name} outside an event probe`);
      for (const i of emitEventField(src, raw)) out.push(i);
      return;
    }
    // fentry/fexit/tp_btf: the context is the trampoline's u64 slots
    case 'ctx': out.push(ldx(sizeFieldFor(8), R3, R6, src.offset)); return;
    case 'entry-word': out.push(ldx(sizeFieldFor(8), R3, R10, src.slot)); return;
  }
}

/**
 * Stage 2: r3 = *(unsigned long *)(r3 + offset), zero when the read faults;
 * with `onFault`, a fault jumps there instead (the kernel's fetch stops at a
 * failed dereference: process_fetch_insn_bottom returns before its store).
 */
function pushDeref(out: AsmItem[], e: Emitter, offset: bigint, space: MemSpace, core?: CoreAccess, onFault?: string): void {
  pushMemberOffset(out, R3, offset, core);
  out.push(
    mov64Reg(R1, R10), alu64Imm('add', R1, DEREF_SLOT),
    mov64Imm(R2, WORD),
    call(READ_HELPER[flavor(e.program)][space]),
  );
  if (onFault !== undefined) out.push(jmpImm('jslt', R0, 0, onFault));
  out.push(ldx(sizeFieldFor(8), R3, R10, DEREF_SLOT));
}

/**
 * Length bits of a __data_loc a dereference fault left pending: no datum is
 * that long (MAX_STRING_SIZE is 4096), so the settling code tells them apart.
 */
const PENDING_LEN = 0xffff;

/**
 * A dynamic fetch whose dereference faulted, as store_trace_args leaves it
 * (6.4+ and the stable kernels the fix went to: "record 0-length data_loc in
 * fetch_store_string*() if fails" made only the string read itself record
 * length 0): the __data_loc the kernel set before fetching stays, pointing
 * at the current dynamic offset with what remains of the dynamic area as its
 * length, so the trace prints the next dynamic datum, or (fault) if none
 * follows. The length is known only when every fetch is done: the word is
 * marked pending here and settled then (settlePending). Elements after
 * the faulted one the kernel leaves unwritten (the buffer's old bytes): they
 * print (fault) here.
 */
function pushDerefFault(out: AsmItem[], e: Emitter, at: string, locs: readonly number[], done?: string): void {
  out.push(label(at), mov64Reg(R1, R8), alu64Imm('or', R1, PENDING_LEN << DATA_LOC_LEN_SHIFT), stx(sizeFieldFor(4), R7, entry(locs[0]!), R1));
  for (const loc of locs.slice(1)) out.push(stx(sizeFieldFor(4), R7, entry(loc), R8));
  if (done !== undefined) out.push(ja(done));
  e.pendingLocs.push(locs[0]!);
}

/** Each pending __data_loc gets its length: from its offset to the end of the dynamic data (r8). */
function settlePending(e: Emitter): AsmItem[] {
  const out: AsmItem[] = [];
  for (const loc of e.pendingLocs) {
    const settled = e.fresh('loc_settled');
    out.push(
      ldx(sizeFieldFor(4), R1, R7, entry(loc)),
      mov64Reg(R2, R1), alu64Imm('rsh', R2, DATA_LOC_LEN_SHIFT),
      jmpImm('jne', R2, PENDING_LEN, settled),
      alu64Imm('and', R1, 0xffff),
      mov64Reg(R2, R8), alu64Reg('sub', R2, R1), alu64Imm('lsh', R2, DATA_LOC_LEN_SHIFT), alu64Reg('or', R2, R1),
      stx(sizeFieldFor(4), R7, entry(loc), R2),
      label(settled),
    );
  }
  return out;
}

/** Stage 4 on a value in `reg`, in the container's width (kernel: fetch_apply_bitfield). */
function pushBitfield(out: AsmItem[], reg: Reg, f: FetchProgram): void {
  const bf = f.bitfield;
  if (!bf) return;
  const spare = 64 - bf.containerSize * 8;
  out.push(alu64Imm('lsh', reg, bf.lshift + spare), alu64Imm('rsh', reg, bf.rshift + spare));
}

/**
 * Stores a dynamic datum whose length is in r0 (0 = fault) at the current
 * dynamic offset, writing its __data_loc (len << 16 | offset) into the field.
 */
function pushDataLoc(out: AsmItem[], fieldOffset: number): void {
  out.push(
    mov64Reg(R1, R0), alu64Imm('lsh', R1, DATA_LOC_LEN_SHIFT), alu64Reg('or', R1, R8),
    stx(sizeFieldFor(4), R7, entry(fieldOffset), R1),
    alu64Reg('add', R8, R0),
  );
}

/** A dynamic datum of known length (0 = the kernel's fault) at the current dynamic offset. */
function pushDataLocConst(out: AsmItem[], fieldOffset: number, len: number): void {
  if (len === 0) {
    out.push(stx(sizeFieldFor(4), R7, entry(fieldOffset), R8));
    return;
  }
  out.push(
    mov64Reg(R1, R8), alu64Imm('or', R1, len << DATA_LOC_LEN_SHIFT),
    stx(sizeFieldFor(4), R7, entry(fieldOffset), R1),
    alu64Imm('add', R8, len),
  );
}

/** r1 = where the next dynamic datum goes (record base + prefix + r8). */
function pushDynamicDest(out: AsmItem[], e: Emitter): void {
  if (e.entryBase) out.push(mov64Reg(R1, R9), alu64Reg('add', R1, R8));
  else out.push(mov64Reg(R1, R7), alu64Reg('add', R1, R8), alu64Imm('add', R1, RECORD_PREFIX_SIZE));
}

/**
 * How many times the program computes a dynamic destination: setting r9 up
 * costs 2 instructions and saves 1 each time, so it pays from 3 on.
 */
function dynamicDestinations(p: ProbeProgram): number {
  let n = 0;
  for (const f of p.fetches) {
    const st = f.store;
    if (st.op === 'string') n += (f.count ?? 1) * (p.sleepable && st.space === 'user' ? 3 : 1);
    else if (st.op === 'comm' || st.op === 'symstr' || (st.op === 'immstr' && st.readable)) n += 1;
  }
  return n;
}

/** Reads the string at r3 into dynamic data; a fault records length 0, as the kernel does. */
function pushString(out: AsmItem[], e: Emitter, space: MemSpace, fieldOffset: number): void {
  if (e.program.sleepable && space === 'user') {
    pushFaultingUserString(out, e, fieldOffset);
    return;
  }
  pushDynamicDest(out, e);
  out.push(mov64Imm(R2, e.program.maxStringSize), call(READ_STR_HELPER[space]));
  pushClampLength(out, e, e.program.maxStringSize);
  pushDataLoc(out, fieldOffset);
}

/**
 * A user string in a sleepable program, read as the kernel's
 * strncpy_from_user would (it faults pages in): the no-fault read first; only
 * when it fails, the string's first page is faulted in with a 1-byte
 * bpf_copy_from_user and the read retried, then the next page likewise (a
 * string of at most MAX_STRING_SIZE bytes spans two pages). A page that
 * cannot be faulted in leaves the read failing: the kernel's (fault).
 */
function pushFaultingUserString(out: AsmItem[], e: Emitter, fieldOffset: number): void {
  const max = e.program.maxStringSize;
  const done = e.fresh('str_done');
  // the first read still has the address in r3 (r1/r2 set-up leaves it); retries reload it
  const read = (last: boolean, first: boolean): void => {
    pushDynamicDest(out, e);
    out.push(mov64Imm(R2, max));
    if (!first) out.push(ldx(sizeFieldFor(8), R3, R10, STRING_ADDR_SLOT));
    out.push(call(Helper.probe_read_user_str));
    if (!last) out.push(jmpImm('jsge', R0, 0, done));
  };
  const faultIn = (nextPage: boolean): void => {
    out.push(
      mov64Reg(R1, R10), alu64Imm('add', R1, DEREF_SLOT),
      mov64Imm(R2, 1),
      ldx(sizeFieldFor(8), R3, R10, STRING_ADDR_SLOT),
    );
    if (nextPage) out.push(alu64Imm('or', R3, PAGE_MASK_LOW), alu64Imm('add', R3, 1));
    out.push(call(Helper.copy_from_user));
  };
  out.push(stx(sizeFieldFor(8), R10, STRING_ADDR_SLOT, R3));
  read(false, true);
  faultIn(false);
  read(false, false);
  faultIn(true);
  read(true, false);
  out.push(label(done));
  pushClampLength(out, e, max);
  pushDataLoc(out, fieldOffset);
}

/**
 * A string helper's result as a length: a negative error is a huge unsigned
 * value, so one compare both maps faults to 0 and gives the verifier r0's
 * upper bound, which keeps the growing dynamic offset provably in bounds.
 */
function pushClampLength(out: AsmItem[], e: Emitter, max: number): void {
  const ok = e.fresh('len_ok');
  out.push(jmpImm('jle', R0, max, ok), mov64Imm(R0, 0), label(ok));
}

/** Where a dynamic fetch's dereference fault goes, and where the fetch ends. */
interface DerefFault { readonly at: string; readonly done: string }

function pushStore(out: AsmItem[], e: Emitter, f: FetchProgram, store: StoreOp, fault?: DerefFault): void {
  const field = entry(f.fieldOffset);
  switch (store.op) {
    case 'raw':
      if (f.source.op === 'imm' && !f.bitfield && f.derefs.length === 0 && store.size <= 4) {
        out.push(st(sizeFieldFor(store.size as 1 | 2 | 4), R7, field, Number(BigInt.asIntN(32, f.source.value))));
        return;
      }
      pushBitfield(out, R3, f);
      out.push(stx(sizeFieldFor(store.size as 1 | 2 | 4 | 8), R7, field, R3));
      return;
    case 'mem': {
      const bytes = store.size * (f.count ?? 1);
      pushMemberOffset(out, R3, store.offset, store.core);
      out.push(
        mov64Reg(R1, R7), alu64Imm('add', R1, field),
        mov64Imm(R2, bytes),
        call(READ_HELPER[flavor(e.program)][store.space]),
      );
      if (f.bitfield) {
        const sz = sizeFieldFor(store.size as 1 | 2 | 4 | 8);
        out.push(ldx(sz, R1, R7, field));
        pushBitfield(out, R1, f);
        out.push(stx(sz, R7, field, R1));
      }
      return;
    }
    case 'string': {
      if (f.count === undefined) {
        pushMemberOffset(out, R3, store.offset, store.core);
        pushString(out, e, store.space, f.fieldOffset);
        return;
      }
      // an array of char *: element i's pointer is read from val + offset + 8i
      out.push(stx(sizeFieldFor(8), R10, ARRAY_BASE_SLOT, R3));
      const locs = Array.from({ length: f.count }, (_, i) => f.fieldOffset + i * f.elemSize);
      // a fault of the array's own address is element 0's
      const faults = locs.map((_, i) => (i === 0 && fault ? fault.at : e.fresh('elem_fault')));
      const done = fault?.done ?? e.fresh('fetch_done');
      for (let i = 0; i < f.count; i++) {
        if (i !== 0) out.push(ldx(sizeFieldFor(8), R3, R10, ARRAY_BASE_SLOT));
        pushDeref(out, e, store.offset + BigInt(i * WORD), store.space, undefined, faults[i]);
        pushString(out, e, store.space, locs[i]!);
      }
      out.push(ja(done));
      // the last block falls through to `done`
      faults.forEach((at, i) => pushDerefFault(out, e, at, locs.slice(i), i < faults.length - 1 ? done : undefined));
      if (!fault) out.push(label(done));
      return;
    }
    case 'comm':
      pushDynamicDest(out, e);
      out.push(
        mov64Imm(R2, TASK_COMM_LEN),
        mov64Reg(R3, R7), alu64Imm('add', R3, PREFIX_COMM),
        call(Helper.probe_read_kernel_str),
      );
      pushClampLength(out, e, TASK_COMM_LEN);
      pushDataLoc(out, f.fieldOffset);
      return;
    case 'immstr': {
      if (!store.readable) {
        pushDataLocConst(out, f.fieldOffset, 0);
        return;
      }
      const bytes = Buffer.concat([Buffer.from(store.value), Buffer.alloc(1)]);
      pushDynamicDest(out, e);
      let at = 0;
      for (; at + 4 <= bytes.length; at += 4) out.push(st(sizeFieldFor(4), R1, at, bytes.readInt32LE(at)));
      for (; at < bytes.length; at++) out.push(st(sizeFieldFor(1), R1, at, bytes[at]!));
      pushDataLocConst(out, f.fieldOffset, bytes.length);
      return;
    }
    case 'symstr':
      // the address goes into dynamic data; the runtime renders it as the kernel's "sym+off/size"
      pushDynamicDest(out, e);
      out.push(stx(sizeFieldFor(8), R1, 0, R3));
      pushDataLocConst(out, f.fieldOffset, WORD);
      return;
  }
}

/**
 * A dynamic datum whose address is read from memory: a fault of those reads
 * leaves the kernel's pending __data_loc (pushDerefFault; a string array's
 * element reads are pushStore's own).
 */
const derefsIntoDynamic = (f: FetchProgram): boolean => (f.store.op === 'string' || f.store.op === 'symstr') && f.derefs.length > 0;

/** One fetch's instructions appended to `out`, the first annotated with the argument (as annotate() does to a run). */
function pushFetch(out: AsmItem[], e: Emitter, f: FetchProgram): void {
  const start = out.length;
  const fault = derefsIntoDynamic(f) ? { at: e.fresh('deref_fault'), done: e.fresh('fetch_done') } : undefined;
  pushSource(out, e, f.source);
  for (const d of f.derefs) pushDeref(out, e, d.offset, d.space, d.core, fault?.at);
  pushStore(out, e, f, f.store, fault);
  if (fault && f.count === undefined) out.push(ja(fault.done)), pushDerefFault(out, e, fault.at, [f.fieldOffset]);
  if (fault) out.push(label(fault.done));
  annotateFrom(`${f.argName}=${f.argText}`, out, start);
}

function emitFetch(e: Emitter, f: FetchProgram): AsmItem[] {
  const out: AsmItem[] = [];
  pushFetch(out, e, f);
  return out;
}

/** __probe_ip, or __probe_func and __probe_ret_ip, at the offsets the layout gave them. */
function emitProbeIp(e: Emitter, p: ProbeProgram): AsmItem[] {
  if (p.format.tracer === 'eprobe') return []; // eprobes: no __probe_ip
  const ip = p.probeIp;
  const first = entry(fieldOffset(p.format, p.format.isReturn ? FIELD_STRING_FUNC : FIELD_STRING_IP));
  const value: AsmItem[] = (() => {
    switch (ip.op) {
      case 'ksym': return [ldKsym(R1, ip.symbol), ...addConst(R1, ip.offset), stx(sizeFieldFor(8), R7, first, R1)];
      case 'imm': return [...loadConst(R1, ip.value), stx(sizeFieldFor(8), R7, first, R1)];
      case 'reg-ip': return [ldx(sizeFieldFor(8), R1, R6, PT_REGS_OFFSET.ip), stx(sizeFieldFor(8), R7, first, R1)];
      case 'kprobe-addr': return [ldx(sizeFieldFor(8), R1, R6, PT_REGS_OFFSET.ip), ...addConst(R1, -BigInt(KPROBE_OPCODE_SIZE)), stx(sizeFieldFor(8), R7, first, R1)];
      // kernel 5.15+ (uprobes 6.6+): bpf_get_func_ip gives the probed function's address
      case 'func-ip': return [mov64Reg(R1, R6), call(Helper.get_func_ip), stx(sizeFieldFor(8), R7, first, R0)];
      case 'ftrace-site': return emitFtraceSite(ip, first, DEREF_SLOT, (x) => e.fresh(x));
    }
  })();
  // ksym + large offset would clobber r1 in addConst; offsets are small, but keep r1 for the value
  if (ip.op === 'ksym' && !fitsImm32(ip.offset)) throw new Error(`probe offset ${ip.offset} too large`);
  if (!p.format.isReturn) return annotate(FIELD_STRING_IP, value);
  const retIp = entry(fieldOffset(p.format, FIELD_STRING_RETIP));
  return [
    ...annotate(FIELD_STRING_FUNC, value),
    ...annotate(FIELD_STRING_RETIP, p.retIp?.op === 'trampoline-frame'
      ? emitTrampolineRetIp(p.retIp, retIp, DEREF_SLOT, (x) => e.fresh(x))
      : [ldx(sizeFieldFor(8), R1, R6, PT_REGS_OFFSET.ip), stx(sizeFieldFor(8), R7, retIp, R1)]),
  ];
}

/** misses[eventId] += 1 (the profile's misses); r0 is clobbered. */
function countMiss(e: Emitter, eventId: number): AsmItem[] {
  return countInMap(MISSES_MAP, KEY_SLOT, eventId, e.exitLabel);
}

/** How a program gets the memory its record is built in: into r7, ctx into r6. */
type AcquireRecord = (e: Emitter, eventId: number) => AsmItem[];
/** How it hands the record over; r8 holds the dynamic offset when the event has dynamic data. */
type SubmitRecord = (e: Emitter, eventId: number, dynamic: boolean, after: string) => AsmItem[];

/** r5 (perf) or r3 (ring) = the record's used length: prefix, fixed entry, then dynamic data up to r8. */
function usedLength(e: Emitter, dst: Reg, dynamic: boolean): AsmItem[] {
  return dynamic
    ? [mov64Reg(dst, R8), alu64Imm('add', dst, RECORD_PREFIX_SIZE)]
    : [mov64Imm(dst, RECORD_PREFIX_SIZE + e.program.format.entrySize)];
}

/** perf_event_output(ctx r6, &events, BPF_F_CURRENT_CPU, record r7, size): `size` puts the record's length in r5. */
export function perfEventOutput(size: readonly AsmItem[]): AsmItem[] {
  return [mov64Reg(R1, R6), ldMapFd(R2, EVENTS_MAP), mov32Imm(R3, BPF_F_CURRENT_CPU | 0), mov64Reg(R4, R7), ...size, call(Helper.perf_event_output)];
}

/**
 * The record prefix (compiler/abi.ts) at r7: time, tgid, cpu, comm, as
 * every record of ours starts; `pidAt`, when given, also gets the pid
 * (the entry's common_pid). Clobbers r0-r5.
 */
export function emitRecordPrefix(pidAt?: number): AsmItem[] {
  return [
    call(Helper.ktime_get_ns),
    stx(sizeFieldFor(8), R7, PREFIX_TS, R0),
    call(Helper.get_current_pid_tgid),
    ...(pidAt !== undefined ? [stx(sizeFieldFor(4), R7, pidAt, R0)] : []),
    alu64Imm('rsh', R0, 32),
    stx(sizeFieldFor(4), R7, PREFIX_TGID, R0),
    call(Helper.get_smp_processor_id),
    stx(sizeFieldFor(4), R7, PREFIX_CPU, R0),
    mov64Reg(R1, R7), alu64Imm('add', R1, PREFIX_COMM),
    mov64Imm(R2, TASK_COMM_LEN),
    call(Helper.get_current_comm),
  ];
}

/** A helper's nonzero result means the ring was full and the record dropped: count it as a miss of this event. */
function missOnFailure(e: Emitter, eventId: number, after: string): AsmItem[] {
  return annotate('a full ring drops the record: count it as a miss of this event', [
    jmpImm('jeq', R0, 0, after),
    ...countMiss(e, eventId),
  ]);
}

/**
 * Where the record is built: a per-CPU scratch value, or, for a sleepable
 * program, the task's own, which no other task can touch while this one
 * sleeps. The task's is made on its first hit (zeroed; every byte sent is
 * written first), freed by the kernel when the task exits or the map goes.
 */
const ACQUIRE_RECORD: Readonly<Record<'sleepable' | 'atomic', AcquireRecord>> = {
  atomic: (e) => annotate('record = scratch[0]', [
    mov64Reg(R6, R1),
    st(sizeFieldFor(4), R10, KEY_SLOT, 0),
    mov64Reg(R2, R10), alu64Imm('add', R2, KEY_SLOT),
    ldMapFd(R1, SCRATCH_MAP),
    call(Helper.map_lookup_elem),
    jmpImm('jeq', R0, 0, e.exitLabel),
    mov64Reg(R7, R0),
  ]),
  sleepable: (e, eventId) => [
    ...annotate('record = task_storage_get(&task_scratch, current, 0, F_CREATE)', [
      mov64Reg(R6, R1),
      call(Helper.get_current_task_btf),
      mov64Reg(R2, R0),
      ldMapFd(R1, TASK_SCRATCH_MAP),
      mov64Imm(R3, 0),
      mov64Imm(R4, BPF_LOCAL_STORAGE_GET_F_CREATE),
      call(Helper.task_storage_get),
    ]),
    // no memory for the task's scratch: the record is lost, and said so
    ...annotate('no scratch for this task: count it as a miss of this event', [
      jmpImm('jne', R0, 0, e.unique('record_scratch')),
      ...countMiss(e, eventId),
      ja(e.exitLabel),
    ]),
    label('record_scratch'),
    mov64Reg(R7, R0),
  ],
};

/**
 * Where the record goes: the perf ring of this CPU, or the BPF ring buffer
 * (ProbeProgram.ringbuf; a sleepable program must: the verifier refuses it a
 * PERF_EVENT_ARRAY). Waking the ring buffer's reader on every record (flags 0
 * when it keeps up) costs a wakeup per hit; like the perf rings' watermark,
 * it is woken only once a quarter of the ring is waiting: it also drains on
 * its poll timeout.
 */
const SUBMIT_RECORD: Readonly<Record<'perf' | 'ringbuf', SubmitRecord>> = {
  perf: (e, eventId, dynamic, after) => [
    ...annotate('perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, record, size)', perfEventOutput(usedLength(e, R5, dynamic))),
    ...missOnFailure(e, eventId, after),
  ],
  ringbuf: (e, eventId, dynamic, after) => {
    const chosen = e.fresh('wake_chosen');
    return [
      ...annotate('ringbuf_output(&records, record, size, ringbuf_query(&records, BPF_RB_AVAIL_DATA) < ring/4 ? BPF_RB_NO_WAKEUP : BPF_RB_FORCE_WAKEUP)', [
        ldMapFd(R1, RINGBUF_MAP),
        mov64Imm(R2, BPF_RB_AVAIL_DATA),
        call(Helper.ringbuf_query),
        mov64Imm(R4, BPF_RB_NO_WAKEUP),
        jmpImm('jlt', R0, ringbufWakeupBytes(e.ringBytes), chosen),
        mov64Imm(R4, BPF_RB_FORCE_WAKEUP),
        label(chosen),
        ldMapFd(R1, RINGBUF_MAP),
        mov64Reg(R2, R7),
        ...usedLength(e, R3, dynamic),
        call(Helper.ringbuf_output),
      ]),
      ...missOnFailure(e, eventId, after),
    ];
  },
};

/** What shapes one event's program besides its fetches. */
export interface ProgramOptions {
  /** Decides which records are sent (the event's filter). */
  readonly filter?: CheckedFilter;
  /** Only the task group in the scope map (trace -p / -c) makes records. */
  readonly scoped?: boolean;
  /** Scoped to the -c command and the processes it starts (SCOPE_KIDS_MAP, filled by the fork program). */
  readonly scopeChildren?: boolean;
  /** How the flags column is computed (compiler/codegen-flags-rules.ts). */
  readonly traceContext?: TraceContextRules;
  /** Size of the BPF ring buffer map (default RINGBUF_BYTES): a quarter of it waiting wakes the reader. */
  readonly ringBytes?: number;
  /**
   * The event's triggers (compiler/hist-codegen.ts), run on the whole record
   * before the event's filter, as the kernel runs triggers that need the
   * record whatever the event's filter says (so the filter then runs on the
   * whole record too); they keep r6, r7 and r8.
   */
  readonly triggers?: readonly AsmItem[];
  /** --no-trace: no record leaves the program (the triggers still run). */
  readonly noTrace?: boolean;
  /**
   * The stacktrace/traceon/traceoff triggers' stages (compiler/trigger-codegen.ts):
   * code before anything is reserved (given the exit label), a gate before
   * the record is sent (given where to go instead),
   * and code after it (the stack record).
   */
  readonly countStages?: {
    readonly before: (exit: string) => readonly AsmItem[];
    readonly gate?: (after: string) => readonly AsmItem[];
    readonly after?: (exit: string) => readonly AsmItem[];
  };
}

/**
 * The whole program for one probe event; `eventId` becomes common_type; a
 * filter decides which records are sent; the flags column follows the
 * kernel's rules.
 */
export function generateProgram(p: ProbeProgram, eventId: number, opts: ProgramOptions = {}): AsmItem[] {
  const { filter, scoped = false, traceContext: rules = DEFAULT_TRACE_CONTEXT_RULES, ringBytes = RINGBUF_BYTES } = opts;
  const e = new Emitter(p, ringBytes);
  if (scoped) e.push(...emitScopeCheck(e.exitLabel, (x) => e.fresh(x), opts.scopeChildren ?? false));
  const stages = opts.countStages;
  // ctx kept in r6 across the map lookups, then back in r1 for what follows
  if (stages) e.push(mov64Reg(R6, R1), ...stages.before(e.exitLabel), mov64Reg(R1, R6));
  const after = stages?.after && !opts.noTrace ? e.unique('after_record') : e.exitLabel;
  const dynamic = p.fetches.some((f) => ['string', 'comm', 'immstr', 'symstr'].includes(f.store.op));
  const target = { program: p, capacity: recordCapacity(p), fresh: (x: string) => e.fresh(x) };
  // the filter's tests on the CPU, common_pid and registers run before anything is reserved (filter-order.ts)
  if (filter && !opts.triggers && !opts.noTrace) e.push(...emitFilterBeforeRecord(target, filter, eventId, e.exitLabel, (f) => emitFetch(e, f)));
  e.push(...ACQUIRE_RECORD[flavor(p)](e, eventId));
  if (p.entryData) e.push(...emitEntryDataLoad(p.entryData, eventId, e.exitLabel, (x) => e.fresh(x)));
  e.push(...annotate('prefix: time, tgid, cpu, comm; common_type, common_pid', [
    ...emitRecordPrefix(entry(fieldOffset(p.format, 'common_pid'))),
    // common_type, with common_flags and common_preempt_count zero (emitTraceContext sets a uprobe's)
    st(sizeFieldFor(4), R7, entry(fieldOffset(p.format, 'common_type')), eventId),
  ]));
  e.push(...emitAttached(p, (x) => e.fresh(x), e.exitLabel));
  e.push(...emitTraceContext(p.format, entry(0), DEREF_SLOT, rules, p.context === 'pt_regs'));
  e.push(...emitProbeIp(e, p));
  if (dynamic) e.push(mov64Imm(R8, p.format.entrySize));
  if (e.entryBase) e.push(mov64Reg(R9, R7), alu64Imm('add', R9, RECORD_PREFIX_SIZE));
  if (opts.triggers || opts.noTrace) {
    for (const f of p.fetches) pushFetch(e.items, e, f);
    e.push(...settlePending(e));
    if (opts.triggers) e.push(...opts.triggers);
    if (opts.noTrace) {
      e.push(label(e.exitLabel), mov64Imm(R0, 0), exit());
      return e.items;
    }
    if (filter) e.push(...emitRecordFilterGate(target, filter, eventId, after));
    if (stages?.gate) e.push(...stages.gate(after));
  } else if (filter) {
    // the filter's numeric tests may run between fetches (filter-order.ts), the rest on the whole record
    e.push(...emitFilteredFetches(target, filter, eventId, e.exitLabel, (f) => emitFetch(e, f), () => settlePending(e)));
  } else {
    for (const f of p.fetches) pushFetch(e.items, e, f);
    e.push(...settlePending(e));
  }
  e.push(...SUBMIT_RECORD[p.ringbuf ? 'ringbuf' : 'perf'](e, eventId, dynamic, after));
  if (after !== e.exitLabel) e.push(label(after), ...stages!.after!(e.exitLabel));
  e.push(label(e.exitLabel), mov64Imm(R0, 0), exit());
  return e.items;
}
