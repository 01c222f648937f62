// A small eBPF interpreter for the instructions filter code uses (loads,
// stores, 64-bit ALU, jumps, ld_imm64, exit): enough to run a filter on a
// record without a kernel. Memory is two regions, the record buffer and the
// stack; any access outside them throws, so a test also catches a read the
// verifier would refuse at run time.
import { Class, JmpOp, AluOp, Mode, SIZE_BYTES, Source, isWide, type Insn, type Size } from '../../../bpf/insn.js';
import { Helper } from '../../../bpf/asm.js';

const RECORD_BASE = 0x1000_0000n;
const STACK_TOP = 0x2000_0000n;
const STACK_SIZE = 512n;
const M64 = (1n << 64n) - 1n;

interface Region { readonly base: bigint; readonly bytes: Uint8Array }

function locate(regions: readonly Region[], addr: bigint, n: number): [Uint8Array, number] {
  for (const r of regions) {
    if (addr >= r.base && addr + BigInt(n) <= r.base + BigInt(r.bytes.length)) return [r.bytes, Number(addr - r.base)];
  }
  throw new RangeError(`access of ${n} bytes at 0x${addr.toString(16)} outside record and stack`);
}

function load(regions: readonly Region[], addr: bigint, n: number): bigint {
  const [b, at] = locate(regions, addr, n);
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[at + i]!);
  return v;
}

function store(regions: readonly Region[], addr: bigint, n: number, v: bigint): void {
  const [b, at] = locate(regions, addr, n);
  for (let i = 0; i < n; i++) b[at + i] = Number((v >> BigInt(8 * i)) & 0xffn);
}

const s64 = (v: bigint) => BigInt.asIntN(64, v);

function alu(op: number, a: bigint, b: bigint): bigint {
  switch (op) {
    case AluOp.ADD: return (a + b) & M64;
    case AluOp.SUB: return (a - b) & M64;
    case AluOp.MUL: return (a * b) & M64;
    case AluOp.OR: return a | b;
    case AluOp.AND: return a & b;
    case AluOp.XOR: return a ^ b;
    case AluOp.LSH: return (a << (b & 63n)) & M64;
    case AluOp.RSH: return a >> (b & 63n);
    case AluOp.ARSH: return BigInt.asUintN(64, s64(a) >> (b & 63n));
    case AluOp.MOV: return b;
    default: throw new Error(`alu op 0x${op.toString(16)} not interpreted`);
  }
}

function taken(op: number, a: bigint, b: bigint): boolean {
  switch (op) {
    case JmpOp.JA: return true;
    case JmpOp.JEQ: return a === b;
    case JmpOp.JNE: return a !== b;
    case JmpOp.JGT: return a > b;
    case JmpOp.JGE: return a >= b;
    case JmpOp.JLT: return a < b;
    case JmpOp.JLE: return a <= b;
    case JmpOp.JSET: return (a & b) !== 0n;
    case JmpOp.JSGT: return s64(a) > s64(b);
    case JmpOp.JSGE: return s64(a) >= s64(b);
    case JmpOp.JSLT: return s64(a) < s64(b);
    case JmpOp.JSLE: return s64(a) <= s64(b);
    default: throw new Error(`jump op 0x${op.toString(16)} not interpreted`);
  }
}

export interface RunResult { readonly r0: bigint; readonly steps: number }

/** Memory as a helper stub sees it. */
export interface Memory {
  load(addr: bigint, n: number): bigint;
  store(addr: bigint, n: number, v: bigint): void;
}

/** What a run adds for code that calls helpers: more memory, preset registers, the helpers themselves. */
export interface RunEnv {
  readonly regions?: readonly Region[];
  readonly regs?: Readonly<Record<number, bigint>>;
  /** Helper `id` with r1-r5 in `r`; returns r0 (r1-r5 are then clobbered as the ABI allows). */
  readonly call?: (id: number, r: readonly bigint[], mem: Memory) => bigint;
}

export type { Region };

/**
 * Helpers filter code itself calls, when the run gives no `call`:
 * probe_read_kernel_str (it measures a faulted string's C string by copying
 * it onto itself): copies up to r2 bytes from r3 to r1, stops after the NUL,
 * NUL-terminates a full buffer, returns the bytes copied with the NUL.
 */
function builtinCall(id: number, r: readonly bigint[], mem: Memory): bigint {
  if (id !== Helper.probe_read_kernel_str) throw new Error(`helper ${id} not interpreted`);
  const [dst, size, src] = [r[1]!, Number(r[2]!), r[3]!];
  if (size <= 0) return BigInt.asUintN(64, -22n);
  for (let i = 0; i < size; i++) {
    const c = i === size - 1 ? 0n : mem.load(src + BigInt(i), 1);
    mem.store(dst + BigInt(i), 1, c);
    if (c === 0n) return BigInt(i + 1);
  }
  return BigInt(size);
}

/** Runs `insns` with r7 = the record buffer, r10 = the stack top; returns r0 at exit. */
export function runFilterCode(insns: readonly Insn[], record: Uint8Array, maxSteps = 5_000_000, env: RunEnv = {}): RunResult {
  const slotToIndex = new Map<number, number>();
  let slot = 0;
  insns.forEach((insn, i) => { slotToIndex.set(slot, i); slot += isWide(insn) ? 2 : 1; });
  const indexToSlot = [...slotToIndex.entries()].reduce<number[]>((a, [s, i]) => { a[i] = s; return a; }, []);
  const regions: Region[] = [{ base: RECORD_BASE, bytes: record }, { base: STACK_TOP - STACK_SIZE, bytes: new Uint8Array(Number(STACK_SIZE)) }, ...(env.regions ?? [])];
  const mem: Memory = { load: (a, n) => load(regions, a, n), store: (a, n, v) => store(regions, a, n, v) };
  const r: bigint[] = new Array<bigint>(11).fill(0n);
  for (const [k, v] of Object.entries(env.regs ?? {})) r[Number(k)] = v;
  r[7] = RECORD_BASE;
  r[10] = STACK_TOP;
  let pc = 0;
  for (let steps = 0; steps < maxSteps; steps++) {
    const insn = insns[pc];
    if (!insn) throw new Error(`fell off the program at instruction ${pc}`);
    const cls = insn.code & 0x07;
    const src = (insn.code & 0x08) === Source.X ? r[insn.src]! : BigInt.asUintN(64, BigInt(insn.imm));
    let next = pc + 1;
    if (cls === Class.ALU64) r[insn.dst] = alu(insn.code & 0xf0, r[insn.dst]!, src);
    else if (cls === Class.LD && isWide(insn)) r[insn.dst] = BigInt.asUintN(64, insn.imm64 ?? 0n);
    else if (cls === Class.LDX && (insn.code & 0xe0) === Mode.MEM) r[insn.dst] = load(regions, (r[insn.src]! + BigInt(insn.off)) & M64, SIZE_BYTES[(insn.code & 0x18) as Size]);
    else if (cls === Class.STX) store(regions, (r[insn.dst]! + BigInt(insn.off)) & M64, SIZE_BYTES[(insn.code & 0x18) as Size], r[insn.src]!);
    else if (cls === Class.ST) store(regions, (r[insn.dst]! + BigInt(insn.off)) & M64, SIZE_BYTES[(insn.code & 0x18) as Size], BigInt.asUintN(64, BigInt(insn.imm)));
    else if (cls === Class.JMP && (insn.code & 0xf0) === JmpOp.EXIT) return { r0: r[0]!, steps };
    else if (cls === Class.JMP && (insn.code & 0xf0) === JmpOp.CALL) {
      r[0] = BigInt.asUintN(64, (env.call ?? builtinCall)(insn.imm, r, mem));
      for (let i = 1; i <= 5; i++) r[i] = 0xdeadn;
    }
    else if (cls === Class.JMP) {
      if (taken(insn.code & 0xf0, r[insn.dst]!, src)) {
        const to = slotToIndex.get(indexToSlot[pc]! + 1 + insn.off);
        if (to === undefined) throw new Error(`jump from ${pc} into the middle of an instruction`);
        next = to;
      }
    } else throw new Error(`instruction 0x${insn.code.toString(16)} not interpreted`);
    pc = next;
  }
  throw new Error('the filter code did not stop');
}
