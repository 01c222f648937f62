// BPF instruction encoding (RFC 9669, "BPF Instruction Set Architecture").
//
// One slot is 8 bytes, little-endian on x86-64:
//
//   byte 0      byte 1           bytes 2-3     bytes 4-7
//   +--------+--------+--------+-------------+-----------------+
//   | opcode | src:4  | dst:4  | off (s16)   | imm (s32)       |
//   +--------+--------+--------+-------------+-----------------+
//
// The opcode byte of a load/store (classes LD, LDX, ST, STX):
//   +-----+----+-----+
//   | MDE | sz | cls |     mode:3 | size:2 | class:3
//   +-----+----+-----+
// and of an arithmetic or jump (classes ALU, ALU64, JMP, JMP32):
//   +------+---+-----+
//   |  op  | s | cls |     op:4 | source:1 | class:3
//   +------+---+-----+
//
// `ld_imm64` (LD|IMM|DW) is the one wide instruction: two slots, the second has
// opcode 0 and carries the upper 32 bits of the constant in its imm.
// Nothing here knows about probes, maps or syscalls.
import type { CoreAccess } from './btf-core.js';

/** Instruction class, the low 3 bits of the opcode (RFC 9669 §3.3). */
export const Class = {
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  JMP32: 0x06,
  ALU64: 0x07,
} as const;
export type Class = (typeof Class)[keyof typeof Class];

/** Access size of loads and stores, bits 3-4 (RFC 9669 §5.1). */
export const Size = {
  W: 0x00, // 4 bytes
  H: 0x08, // 2 bytes
  B: 0x10, // 1 byte
  DW: 0x18, // 8 bytes
} as const;
export type Size = (typeof Size)[keyof typeof Size];

/** Bytes moved by each access size. */
export const SIZE_BYTES: Readonly<Record<Size, 1 | 2 | 4 | 8>> = {
  [Size.W]: 4,
  [Size.H]: 2,
  [Size.B]: 1,
  [Size.DW]: 8,
};

/** The opcode's size-field bits (Size.B/H/W/DW) for a width in bytes (what the compiler usually has in hand). */
export function sizeFieldFor(bytes: 1 | 2 | 4 | 8): Size {
  return SIZE_FIELD[bytes];
}
/** One table, not an object literal per call (the code generator asks for every load and store). */
const SIZE_FIELD = { 1: Size.B, 2: Size.H, 4: Size.W, 8: Size.DW } as const;

/** Load/store mode, bits 5-7 (RFC 9669 §5.1). */
export const Mode = {
  IMM: 0x00,
  ABS: 0x20,
  IND: 0x40,
  MEM: 0x60,
  MEMSX: 0x80,
  ATOMIC: 0xc0,
} as const;
export type Mode = (typeof Mode)[keyof typeof Mode];

/** Arithmetic operation, bits 4-7 of an ALU/ALU64 opcode (RFC 9669 §4.1). */
export const AluOp = {
  ADD: 0x00,
  SUB: 0x10,
  MUL: 0x20,
  DIV: 0x30,
  OR: 0x40,
  AND: 0x50,
  LSH: 0x60,
  RSH: 0x70,
  NEG: 0x80,
  MOD: 0x90,
  XOR: 0xa0,
  MOV: 0xb0,
  ARSH: 0xc0,
  END: 0xd0,
} as const;
export type AluOp = (typeof AluOp)[keyof typeof AluOp];

/** Jump operation, bits 4-7 of a JMP/JMP32 opcode (RFC 9669 §4.3). */
export const JmpOp = {
  JA: 0x00,
  JEQ: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  JSET: 0x40,
  JNE: 0x50,
  JSGT: 0x60,
  JSGE: 0x70,
  CALL: 0x80,
  EXIT: 0x90,
  JLT: 0xa0,
  JLE: 0xb0,
  JSLT: 0xc0,
  JSLE: 0xd0,
} as const;
export type JmpOp = (typeof JmpOp)[keyof typeof JmpOp];

/** Operand source, bit 3: K = imm, X = src register (RFC 9669 §3.3). */
export const Source = {
  K: 0x00,
  X: 0x08,
} as const;
export type Source = (typeof Source)[keyof typeof Source];

/** Byte-swap direction for AluOp.END, carried in the source bit (RFC 9669 §4.2). */
export const Endian = {
  LE: 0x00, // to little-endian (a truncation on x86)
  BE: 0x08, // to big-endian (a swap on x86)
} as const;
export type Endian = (typeof Endian)[keyof typeof Endian];

/** src_reg values of ld_imm64 that libbpf/the kernel give meaning to (uapi/linux/bpf.h). */
export const Pseudo = {
  NONE: 0,
  MAP_FD: 1, // BPF_PSEUDO_MAP_FD: imm = map fd
  MAP_VALUE: 2, // BPF_PSEUDO_MAP_VALUE: imm = map fd, imm2 = offset
  BTF_ID: 3, // BPF_PSEUDO_BTF_ID: imm = btf id of a ksym (what libbpf rewrites typed ksyms to)
  FUNC: 4, // BPF_PSEUDO_FUNC
  MAP_IDX: 5,
  MAP_IDX_VALUE: 6,
} as const;

/** src_reg values of a call (uapi/linux/bpf.h). */
export const PseudoCall = {
  HELPER: 0,
  CALL: 1, // BPF_PSEUDO_CALL, bpf-to-bpf
  KFUNC: 2, // BPF_PSEUDO_KFUNC_CALL
} as const;

/** BPF registers: r0 return value, r1-r5 arguments (clobbered by calls), r6-r9 callee-saved, r10 read-only frame pointer. */
export type Reg = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;
export const R0: Reg = 0;
export const R1: Reg = 1;
export const R2: Reg = 2;
export const R3: Reg = 3;
export const R4: Reg = 4;
export const R5: Reg = 5;
export const R6: Reg = 6;
export const R7: Reg = 7;
export const R8: Reg = 8;
export const R9: Reg = 9;
export const R10: Reg = 10;
/** The frame pointer; the stack is the 512 bytes below it (kernel: MAX_BPF_STACK). */
export const FP: Reg = R10;
export const MAX_BPF_STACK = 512;

/** What an ld_imm64 is relocated against: a map, or an extern (`__ksym`) symbol. */
export interface Relocation {
  kind: 'map' | 'extern';
  symbol: string;
}

/**
 * One instruction. `ld_imm64` is a single Insn whose 64-bit constant is `imm64`
 * (it encodes to two slots); for it, `imm` is ignored.
 */
export interface Insn {
  code: number;
  dst: Reg;
  /** src register, or a pseudo value (Pseudo, PseudoCall) for ld_imm64/call. */
  src: number;
  off: number;
  imm: number;
  imm64?: bigint;
  ref?: Relocation;
  /** Source annotation carried to the annotated disassembly. */
  comment?: string;
  /** CO-RE: the immediate is this field's byte offset, for libbpf to patch (a .BTF.ext core_relo record). */
  core?: CoreAccess;
}

export const LD_IMM64 = Class.LD | Mode.IMM | Size.DW; // 0x18

export function isWide(insn: Pick<Insn, 'code'>): boolean {
  return insn.code === LD_IMM64;
}

/** Number of 8-byte slots an instruction occupies. */
export function slots(insn: Pick<Insn, 'code'>): 1 | 2 {
  return isWide(insn) ? 2 : 1;
}

export const SLOT_BYTES = 8;

function checkField(name: string, v: number, lo: number, hi: number, insn: Insn): void {
  if (!Number.isInteger(v) || v < lo || v > hi) {
    throw new RangeError(`bpf: ${name} ${v} out of range [${lo}, ${hi}] in insn code 0x${insn.code.toString(16)}`);
  }
}

function writeSlot(view: DataView, at: number, code: number, dst: number, src: number, off: number, imm: number): void {
  view.setUint8(at, code);
  view.setUint8(at + 1, (dst & 0xf) | ((src & 0xf) << 4));
  view.setInt16(at + 2, off, true);
  view.setInt32(at + 4, imm | 0, true);
}

/** Encodes instructions to bytes: 8 bytes a slot, ld_imm64 16. */
export function encode(insns: readonly Insn[]): Uint8Array {
  let n = 0;
  for (const i of insns) n += slots(i);
  const out = new Uint8Array(n * SLOT_BYTES);
  encodeInto(insns, new DataView(out.buffer), 0);
  return out;
}

/**
 * Encodes instructions into `view` from byte `start` (the object writer
 * writes them straight into the file's buffer); returns the end.
 */
export function encodeInto(insns: readonly Insn[], view: DataView, start: number): number {
  let at = start;
  for (const i of insns) {
    // the range checks inline, the message built only when one fails
    const { code, dst, src, off } = i;
    // (a masked or sign-extended copy equals the value only for an integer in range; NaN never)
    if ((code & 0xff) !== code || (dst & 0xf) !== dst || (src & 0xf) !== src || ((off << 16) >> 16) !== off) {
      checkField('code', code, 0, 0xff, i);
      checkField('dst', dst, 0, 15, i);
      checkField('src', src, 0, 15, i);
      checkField('off', off, -0x8000, 0x7fff, i);
    }
    if (code === LD_IMM64) {
      const v = BigInt.asUintN(64, i.imm64 ?? BigInt(i.imm));
      const lo = Number(v & 0xffffffffn);
      const hi = Number(v >> 32n);
      writeSlot(view, at, i.code, i.dst, i.src, i.off, lo);
      writeSlot(view, at + SLOT_BYTES, 0, 0, 0, 0, hi);
      at += 2 * SLOT_BYTES;
    } else {
      // imm is a signed 32-bit field; accept its unsigned spelling too (e.g. 0xffffffff).
      const imm = i.imm;
      if (!(imm >= -0x80000000 && imm <= 0xffffffff && Math.floor(imm) === imm)) checkField('imm', imm, -0x80000000, 0xffffffff, i);
      writeSlot(view, at, i.code, i.dst, i.src, i.off, i.imm);
      at += SLOT_BYTES;
    }
  }
  return at;
}

/** Decodes bytes back to instructions (ld_imm64 joined into one Insn). */
export function decode(bytes: Uint8Array): Insn[] {
  if (bytes.length % SLOT_BYTES !== 0) throw new RangeError(`bpf: ${bytes.length} bytes is not a whole number of instructions`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Insn[] = [];
  for (let at = 0; at < bytes.length; at += SLOT_BYTES) {
    const code = view.getUint8(at);
    const regs = view.getUint8(at + 1);
    const insn: Insn = {
      code,
      dst: (regs & 0xf) as Reg,
      src: regs >> 4,
      off: view.getInt16(at + 2, true),
      imm: view.getInt32(at + 4, true),
    };
    if (code === LD_IMM64) {
      if (at + 2 * SLOT_BYTES > bytes.length) throw new RangeError(`bpf: ld_imm64 at byte ${at} is missing its second slot`);
      const lo = BigInt(view.getUint32(at + 4, true));
      const hi = BigInt(view.getUint32(at + SLOT_BYTES + 4, true));
      insn.imm64 = (hi << 32n) | lo;
      at += SLOT_BYTES;
    }
    out.push(insn);
  }
  return out;
}

/** Slot index of each instruction (ld_imm64 counts 2). */
export function slotOffsets(insns: readonly Pick<Insn, 'code'>[]): number[] {
  const out: number[] = [];
  let s = 0;
  for (const i of insns) {
    out.push(s);
    s += slots(i);
  }
  return out;
}
