// Instruction corpora for the encoder/disassembler tests: every form the DSL
// builds, every opcode of the ISA with both sources and classes, and seeded
// random slots (which also exercise what LLVM 14 cannot decode).
import * as A from '../../bpf/asm.js';
import { AluOp, Class, type Insn, JmpOp, LD_IMM64, Mode, type Reg, Size, Source } from '../../bpf/insn.js';
import { prng } from '../lib/prng.js';

export { prng } from '../lib/prng.js';

const SIZES = [Size.B, Size.H, Size.W, Size.DW] as const;
const IMMS = [0, 1, -1, 7, -8, 0x7fffffff, -0x80000000, 255, 65536];
const OFFS = [0, 8, -8, 0x7fff, -0x8000, 112];

/** Every DSL form, with a label-heavy control flow around it. */
export function everyDslForm(): A.AsmItem[] {
  const out: A.AsmItem[] = [A.label('start')];
  const regs: Reg[] = [0, 1, 5, 9, 10];
  for (const op of Object.keys(A.ALU_OPS) as A.AluName[]) {
    for (const imm of IMMS.slice(0, 4)) {
      out.push(A.alu64Imm(op, 1, imm), A.alu32Imm(op, 2, imm));
    }
    out.push(A.alu64Reg(op, 3, 4), A.alu32Reg(op, 5, 6));
  }
  for (const d of regs) for (const s of regs) out.push(A.mov64Reg(d, s), A.mov32Reg(d, s));
  for (const imm of IMMS) out.push(A.mov64Imm(7, imm), A.mov32Imm(8, imm));
  out.push(A.neg64(1), A.neg32(2));
  for (const bits of [16, 32, 64] as const) out.push(A.toBe(3, bits), A.toLe(4, bits));
  for (const size of SIZES) {
    for (const off of OFFS) {
      out.push(A.ldx(size, 1, 10, off), A.stx(size, 10, off, 2), A.st(size, 10, off, -3));
    }
  }
  for (const v of [0n, 1n, 0xffffffffn, 0x100000000n, 0xdeadbeefcafef00dn, -1n]) out.push(A.ldImm64(3, v));
  out.push(A.label('mid'));
  for (const op of Object.keys(A.JMP_OPS) as A.JmpName[]) {
    out.push(A.jmpImm(op, 1, 3, 'start'), A.jmpReg(op, 1, 2, 'mid'), A.jmp32Imm(op, 3, -1, 'end'), A.jmp32Reg(op, 4, 5, 'end'));
  }
  out.push(A.ja('mid'), A.ja('end'));
  for (const h of Object.values(A.Helper)) out.push(A.call(h));
  out.push(A.label('end'), A.mov64Imm(0, 0), A.exit());
  return out;
}

function raw(code: number, dst: number, src: number, off: number, imm: number, imm64?: bigint): Insn {
  const i: Insn = { code, dst: dst as Reg, src, off, imm };
  if (imm64 !== undefined) i.imm64 = imm64;
  return i;
}

/** Every opcode byte of the ISA in every class, both sources, plus atomics and pseudo loads. */
export function everyOpcode(): Insn[] {
  const out: Insn[] = [];
  for (const cls of [Class.ALU, Class.ALU64]) {
    for (const op of Object.values(AluOp)) {
      for (const src of [Source.K, Source.X]) {
        const imm = op === AluOp.END ? 32 : -5;
        out.push(raw(cls | op | src, 1, src ? 2 : 0, 0, imm));
      }
    }
  }
  for (const cls of [Class.JMP, Class.JMP32]) {
    for (const op of Object.values(JmpOp)) {
      for (const src of [Source.K, Source.X]) out.push(raw(cls | op | src, 1, src ? 2 : 0, op === JmpOp.CALL || op === JmpOp.EXIT ? 0 : 1, op === JmpOp.CALL ? 14 : 3));
    }
  }
  for (const size of SIZES) {
    for (const mode of Object.values(Mode)) {
      for (const cls of [Class.LD, Class.LDX, Class.ST, Class.STX]) {
        const code = cls | mode | size;
        if (code === LD_IMM64) continue;
        out.push(raw(code, 1, 2, -16, cls === Class.STX && mode === Mode.ATOMIC ? 0 : 4));
      }
    }
  }
  // BPF_ATOMIC operations (RFC 9669 §5.3), both widths.
  for (const imm of [0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1]) {
    for (const size of [Size.W, Size.DW]) out.push(raw(Class.STX | Mode.ATOMIC | size, 10, 3, -8, imm));
  }
  // ld_imm64 with each pseudo src (uapi/linux/bpf.h BPF_PSEUDO_*).
  for (let src = 0; src <= 6; src++) out.push(raw(LD_IMM64, 2, src, 0, 0, src === 0 ? 42n : BigInt(src * 3)));
  // Calls with pseudo sources (bpf-to-bpf, kfunc).
  for (const src of [1, 2]) out.push(raw(Class.JMP | JmpOp.CALL, 0, src, 0, 1));
  out.push(raw(Class.JMP | JmpOp.EXIT, 0, 0, 0, 0));
  return out;
}

/** Seeded random 8-byte slots (registers kept to r0-r10 so the text is meaningful). */
export function randomInsns(seed: number, n: number): Insn[] {
  const rnd = prng(seed);
  const out: Insn[] = [];
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  for (let k = 0; k < n; k++) {
    const code = int(0, 255);
    // ld_imm64 would swallow the next slot; make it a proper one half the time.
    const off = rnd() < 0.5 ? int(-4, 4) : int(-0x8000, 0x7fff);
    const imm = rnd() < 0.5 ? int(-64, 64) : int(-0x80000000, 0x7fffffff);
    // ld_imm64: mostly well-formed; sometimes with off != 0 or r12+, which LLVM decodes as one unknown slot.
    if (code === LD_IMM64) out.push(raw(code, rnd() < 0.2 ? int(11, 15) : int(0, 10), int(0, 6), rnd() < 0.2 ? int(-2, 2) : 0, 0, BigInt.asUintN(64, BigInt(imm) * 0x10001n)));
    else {
      out.push(raw(code, int(0, 10), int(0, 10), off, imm));
    }
  }
  return out;
}
