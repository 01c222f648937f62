// One per-event u64 counter in an array map keyed by the event id (misses,
// filtered hits, hist drops): the lookup-and-add sequence every counter shares.
import { R0, R1, R2, R10, sizeFieldFor } from '../bpf/insn.js';
import { type AsmItem, Helper, alu64Imm, call, jmpImm, ldMapFd, ldx, mov64Reg, st, stx } from '../bpf/asm.js';

/** map[eventId] += 1, the key built at fp + keySlot; a failed lookup jumps to `exit`. Clobbers r0-r2. */
export function countInMap(map: string, keySlot: number, eventId: number, exit: string): AsmItem[] {
  return [
    st(sizeFieldFor(4), R10, keySlot, eventId),
    mov64Reg(R2, R10), alu64Imm('add', R2, keySlot),
    ldMapFd(R1, map),
    call(Helper.map_lookup_elem),
    jmpImm('jeq', R0, 0, exit),
    ldx(sizeFieldFor(8), R1, R0, 0), alu64Imm('add', R1, 1), stx(sizeFieldFor(8), R0, 0, R1),
  ];
}
