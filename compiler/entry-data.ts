// Entry arguments in a return kprobe (6.9+: `r vfs_read count=$arg3`): the
// kernel saves them when the function is entered and reads them back at its
// return (trace_probe.c __store_entry_arg, FETCH_OP_EDATA), since the
// registers that held them are gone by then. A kretprobe BPF program cannot
// see the entry, so an entry program (a kprobe on the same function) saves
// the raw argument words in a hash map keyed by the task (pid_tgid) and the
// event, and the return program takes them out again (lookup, then delete),
// dereferencing them at the return as the kernel does. No entry seen (the
// probe attached while the call was running): no record, as the kernel makes
// no return event without its entry. A recursive call of the same function
// in one task overwrites the outer call's words (the kernel keeps one set
// per call).
import { R0, R1, R10, R2, R3, R4, R6, sizeFieldFor } from '../bpf/insn.js';
import { type AsmItem, Helper, alu64Imm, annotate, call, exit, ja, jmpImm, label, ldMapFd, ldx, mov64Imm, mov64Reg, st, stx } from '../bpf/asm.js';
import { MapType } from '../bpf/elf.js';
import type { MapSpec } from '../bpf/elf-writer.js';
import type { FetchArg, ProbeDefinition } from '../grammar/ast.js';
import { ARG_REGS, PT_REGS_OFFSET, STACK_REG, WORD_SIZE } from './arch/x86_64.js';

export const ENTRY_DATA_MAP = 'entry_data';
/** Calls in flight at once (tasks inside a probed function) whose entry words are kept. */
export const ENTRY_DATA_ENTRIES = 10240;

/** key: { u64 pid_tgid; u32 event; u32 pad } on the stack at fp + KEY_SLOT. */
const KEY_SLOT = -48;
const KEY_SIZE = 16;
/** The saved words, copied to the stack of the return program below the key: word k at fp + wordSlot(k). */
export const wordSlot = (k: number): number => KEY_SLOT - WORD_SIZE * (k + 1);

/** What an event's entry program saves: the 1-based argument numbers, in word order. */
export interface EntryData {
  readonly args: readonly number[];
}

const argsIn = (f: FetchArg, out: Set<number>): void => {
  if (f.kind === 'arg') out.add(f.index);
  else if (f.kind === 'deref') argsIn(f.inner, out);
};

/** A return kprobe's entry arguments, or undefined when it has none. */
export function entryDataOf(def: ProbeDefinition): EntryData | undefined {
  if (def.tracer !== 'kprobe' || !def.isReturn) return undefined;
  const used = new Set<number>();
  for (const a of def.args) argsIn(a.fetch, used);
  return used.size ? { args: [...used].sort((a, b) => a - b) } : undefined;
}

/** The stack slot the return program finds argument `index` (1-based) in. */
export function entryArgSlot(data: EntryData, index: number): number {
  const k = data.args.indexOf(index);
  if (k < 0) throw new Error(`$arg${index} was not saved at entry`);
  return wordSlot(k);
}

export const entryDataMap = (valueWords: number): MapSpec => ({
  name: ENTRY_DATA_MAP, type: MapType.HASH, keySize: KEY_SIZE, valueSize: valueWords * WORD_SIZE, maxEntries: ENTRY_DATA_ENTRIES,
});

/** fp + KEY_SLOT = { pid_tgid, eventId }; r0 clobbered. */
function buildKey(eventId: number): AsmItem[] {
  return [
    call(Helper.get_current_pid_tgid),
    stx(sizeFieldFor(8), R10, KEY_SLOT, R0),
    st(sizeFieldFor(4), R10, KEY_SLOT + 8, eventId),
    st(sizeFieldFor(4), R10, KEY_SLOT + 12, 0),
  ];
}

/**
 * The entry program (a kprobe on the function): each argument word as the
 * kernel's $argN reads it at entry — a register, or a stack slot above the
 * return address — into the map under this task's key.
 */
export function generateEntryProgram(data: EntryData, eventId: number): AsmItem[] {
  const out: AsmItem[] = [mov64Reg(R6, R1), ...buildKey(eventId)];
  data.args.forEach((index, k) => {
    const reg = ARG_REGS[index - 1];
    if (reg !== undefined) {
      out.push(ldx(sizeFieldFor(8), R1, R6, PT_REGS_OFFSET[reg]), stx(sizeFieldFor(8), R10, wordSlot(k), R1));
    } else {
      // kernel: regs_get_kernel_argument beyond the registers reads the stack
      out.push(
        ldx(sizeFieldFor(8), R3, R6, PT_REGS_OFFSET[STACK_REG]), alu64Imm('add', R3, (index - ARG_REGS.length) * WORD_SIZE),
        mov64Reg(R1, R10), alu64Imm('add', R1, wordSlot(k)), mov64Imm(R2, WORD_SIZE), call(Helper.probe_read_kernel),
      );
    }
  });
  // the words sit below the key, the last one lowest: the value starts there
  const value = wordSlot(data.args.length - 1);
  return [
    ...annotate(`save ${data.args.map((i) => `$arg${i}`).join(' ')} for the return`, out),
    ...annotate('entry_data[{pid_tgid, event}] = words', [
      ldMapFd(R1, ENTRY_DATA_MAP),
      mov64Reg(R2, R10), alu64Imm('add', R2, KEY_SLOT),
      mov64Reg(R3, R10), alu64Imm('add', R3, value),
      mov64Imm(R4, 0),
      call(Helper.map_update_elem),
    ]),
    mov64Imm(R0, 0), exit(),
  ];
}

/**
 * The return program's side: this task's words for the event onto the stack
 * (word k at wordSlot(k)), then out of the map; none means no record.
 */
export function emitEntryDataLoad(data: EntryData, eventId: number, exitLabel: string, fresh: (p: string) => string): AsmItem[] {
  const found = fresh('entry_found');
  const n = data.args.length;
  const copy: AsmItem[] = [];
  // the map value is the words lowest-slot first: word n-1 at value offset 0
  for (let k = 0; k < n; k++) copy.push(ldx(sizeFieldFor(8), R1, R0, (n - 1 - k) * WORD_SIZE), stx(sizeFieldFor(8), R10, wordSlot(k), R1));
  return annotate(`entry arguments ${data.args.map((i) => `$arg${i}`).join(' ')}: taken out of entry_data`, [
    ...buildKey(eventId),
    ldMapFd(R1, ENTRY_DATA_MAP),
    mov64Reg(R2, R10), alu64Imm('add', R2, KEY_SLOT),
    call(Helper.map_lookup_elem),
    jmpImm('jne', R0, 0, found),
    ja(exitLabel),
    label(found),
    ...copy,
    ldMapFd(R1, ENTRY_DATA_MAP),
    mov64Reg(R2, R10), alu64Imm('add', R2, KEY_SLOT),
    call(Helper.map_delete_elem),
  ]);
}
