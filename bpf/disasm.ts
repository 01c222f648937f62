// Disassembler whose text is what LLVM 14's `llvm-objdump -d` prints for the same
// bytes (BPFInstPrinter syntax: `r1 = *(u64 *)(r6 + 112)`, `if r1 == 0 goto +3 <out>`,
// `r1 = 0 ll`, `w1 += w2`...).
//
// Which bit patterns LLVM 14 decodes, and which fields it ignores, follow its
// TableGen decoder (BPFInstrInfo.td of release 14), measured here with
// llvm-objdump over every opcode byte and field variation:
//   - registers 0-11 decode (r11 exists in LLVM), 12-15 make the insn unknown;
//   - ALU K ignores src/off, ALU X ignores off/imm; neg ignores src/off/imm;
//     END needs imm exactly 16/32/64; there is no mod;
//   - jumps: K ignores src, X ignores imm; `ja` and `call` ignore everything
//     but their operand; `exit` needs imm 0; `callx rN` takes N from imm;
//     there is no jset and no JMP32 ja/call/exit;
//   - ld_imm64 needs off 0 (else it is an unknown 8-byte slot); src 0 prints
//     `rD = IMM ll` (64-bit signed), other srcs `ld_pseudo rD, SRC, IMM32`;
//   - 64-bit atomics: imm bits 4-7 pick add/or/and/xor (low nibble 1 = fetch form,
//     anything else the `lock` form), 0xe1 xchg, 0xf1 cmpxchg; 32-bit atomics only
//     decode add (bits 4-7 zero), always as `lock ... +=`; bits above 7 are ignored;
//   - no store-immediate (ST class), no sign-extending loads, no ABS/IND of u64.
// Everything else prints `<unknown>` (strict mode, the default) or, with
// `strict: false`, the spelling newer LLVM uses where there is one.
//
// Annotated mode prints each instruction's `comment` as a `; <text>` line above
// the run of instructions it starts (the compiler's --disasm).

import { AluOp, Class, encode, type Insn, JmpOp, LD_IMM64, Mode, type Reg, Size, SLOT_BYTES, slots, Source } from './insn.js';
import type { SectionSymbol } from './object-model.js';

const SIZE_NAME: Record<number, string> = { [Size.W]: 'u32', [Size.H]: 'u16', [Size.B]: 'u8', [Size.DW]: 'u64' };

/** ALU operator spellings of BPFInstrInfo.td (op -> `dst OP= src`); MOD has none in LLVM 14. */
const ALU_TEXT: Record<number, string | undefined> = {
  [AluOp.ADD]: '+=',
  [AluOp.SUB]: '-=',
  [AluOp.MUL]: '*=',
  [AluOp.DIV]: '/=',
  [AluOp.OR]: '|=',
  [AluOp.AND]: '&=',
  [AluOp.LSH]: '<<=',
  [AluOp.RSH]: '>>=',
  [AluOp.XOR]: '^=',
  [AluOp.MOV]: '=',
  [AluOp.ARSH]: 's>>=',
};

/** Conditional jump spellings; JSET has none in LLVM 14. */
const JMP_TEXT: Record<number, string | undefined> = {
  [JmpOp.JEQ]: '==',
  [JmpOp.JGT]: '>',
  [JmpOp.JGE]: '>=',
  [JmpOp.JNE]: '!=',
  [JmpOp.JSGT]: 's>',
  [JmpOp.JSGE]: 's>=',
  [JmpOp.JLT]: '<',
  [JmpOp.JLE]: '<=',
  [JmpOp.JSLT]: 's<',
  [JmpOp.JSLE]: 's<=',
};

/** 64-bit atomic operators by imm bits 4-7 (BPF_ADD, BPF_OR, BPF_AND, BPF_XOR). */
const ATOMIC_OPS: Record<number, { sym: string; name: string } | undefined> = {
  0x0: { sym: '+=', name: 'add' },
  0x4: { sym: '|=', name: 'or' },
  0x5: { sym: '&=', name: 'and' },
  0xa: { sym: '^=', name: 'xor' },
};

export const UNKNOWN = '<unknown>';

const reg = (n: number): string => `r${n}`;
const wreg = (n: number): string => `w${n}`;
/** `+ 8`, `- 8`, `+ 0`: memory offsets as BPFInstPrinter::printMemOperand writes them. */
const memOff = (off: number): string => (off < 0 ? ` - ${-off}` : ` + ${off}`);
/** Branch offsets as printBrTargetOperand writes them: `+3`, `-3`, `+0`. */
const brOff = (off: number): string => (off < 0 ? `${off}` : `+${off}`);
/** LLVM's GPR decoder knows r0-r11. */
const okReg = (n: number): boolean => n <= 11;

export interface TextOptions {
  /** true (default): exactly LLVM 14, `<unknown>` for what it cannot decode. */
  strict?: boolean;
}

/** Newer-LLVM spellings for what LLVM 14 cannot decode (used when strict is false). */
function extendedText(i: Insn): string | undefined {
  const cls = i.code & 0x07;
  const op = i.code & 0xf0;
  const x = (i.code & Source.X) !== 0;
  if ((cls === Class.ALU64 || cls === Class.ALU) && op === AluOp.MOD) {
    const r = cls === Class.ALU64 ? reg : wreg;
    return `${r(i.dst)} %= ${x ? r(i.src) : i.imm}`;
  }
  if ((cls === Class.JMP || cls === Class.JMP32) && op === JmpOp.JSET) {
    const r = cls === Class.JMP ? reg : wreg;
    return `if ${r(i.dst)} & ${x ? r(i.src) : i.imm} goto ${brOff(i.off)}`;
  }
  if (cls === Class.ST && (i.code & 0xe0) === Mode.MEM) {
    return `*(${SIZE_NAME[i.code & 0x18]} *)(${reg(i.dst)}${memOff(i.off)}) = ${i.imm}`;
  }
  if (cls === Class.JMP32 && op === JmpOp.JA) return `gotol ${brOff(i.imm)}`;
  return undefined;
}

/** The text of one instruction, without address or bytes. */
export function insnText(i: Insn, opts: TextOptions = {}): string {
  const t = llvm14Text(i);
  if (t !== undefined) return t;
  if (opts.strict === false) return extendedText(i) ?? UNKNOWN;
  return UNKNOWN;
}

/** True when LLVM 14 treats this ld_imm64 as a 16-byte instruction. */
export function isDecodableLdImm64(i: Pick<Insn, 'code' | 'dst' | 'off'>): boolean {
  return i.code === LD_IMM64 && i.off === 0 && okReg(i.dst);
}

function llvm14Text(i: Insn): string | undefined {
  switch (i.code & 0x07) {
    case Class.ALU64:
      return aluText(i, true);
    case Class.ALU:
      return aluText(i, false);
    case Class.JMP:
      return jmpText(i, true);
    case Class.JMP32:
      return jmpText(i, false);
    case Class.LDX:
      if ((i.code & 0xe0) !== Mode.MEM || !okReg(i.dst) || !okReg(i.src)) return undefined;
      return `${reg(i.dst)} = *(${SIZE_NAME[i.code & 0x18]} *)(${reg(i.src)}${memOff(i.off)})`;
    case Class.STX:
      return stxText(i);
    case Class.LD:
      return ldText(i);
    default:
      return undefined; // ST: LLVM 14 has no store-immediate instructions
  }
}

function stxText(i: Insn): string | undefined {
  const mode = i.code & 0xe0;
  const size = i.code & 0x18;
  if (!okReg(i.dst) || !okReg(i.src)) return undefined;
  const d = reg(i.dst);
  const s = reg(i.src);
  const o = memOff(i.off);
  if (mode === Mode.MEM) return `*(${SIZE_NAME[size]} *)(${d}${o}) = ${s}`;
  if (mode !== Mode.ATOMIC) return undefined;
  const hi = (i.imm >> 4) & 0xf;
  const lo = i.imm & 0xf;
  if (size === Size.W) return hi === 0 ? `lock *(u32 *)(${d}${o}) += ${s}` : undefined;
  if (size !== Size.DW) return undefined;
  if (hi === 0xe) return lo === 1 ? `${s} = xchg_64(${d}${o}, ${s})` : undefined;
  if (hi === 0xf) return lo === 1 ? `r0 = cmpxchg_64(${d}${o}, r0, ${s})` : undefined;
  const op = ATOMIC_OPS[hi];
  if (!op) return undefined;
  return lo === 1 ? `${s} = atomic_fetch_${op.name}((u64 *)(${d}${o}), ${s})` : `lock *(u64 *)(${d}${o}) ${op.sym} ${s}`;
}

function ldText(i: Insn): string | undefined {
  if (i.code === LD_IMM64) {
    if (!isDecodableLdImm64(i)) return undefined;
    const v = i.imm64 ?? BigInt.asUintN(32, BigInt(i.imm));
    if (i.src === 0) return `${reg(i.dst)} = ${BigInt.asIntN(64, v)} ll`;
    return `ld_pseudo\t${reg(i.dst)}, ${i.src}, ${BigInt.asUintN(32, v)}`;
  }
  const mode = i.code & 0xe0;
  const size = i.code & 0x18;
  if (size === Size.DW) return undefined;
  if (mode === Mode.ABS) return `r0 = *(${SIZE_NAME[size]} *)skb[${i.imm}]`;
  if (mode === Mode.IND) return okReg(i.src) ? `r0 = *(${SIZE_NAME[size]} *)skb[${reg(i.src)}]` : undefined;
  return undefined;
}

function aluText(i: Insn, wide: boolean): string | undefined {
  const op = i.code & 0xf0;
  const x = (i.code & Source.X) !== 0;
  const r = wide ? reg : wreg;
  if (!okReg(i.dst)) return undefined;
  if (op === AluOp.NEG) return x ? undefined : `${r(i.dst)} = -${r(i.dst)}`;
  if (op === AluOp.END) {
    if (wide || ![16, 32, 64].includes(i.imm)) return undefined;
    return `${reg(i.dst)} = ${x ? 'be' : 'le'}${i.imm} ${reg(i.dst)}`;
  }
  const text = ALU_TEXT[op];
  if (text === undefined) return undefined;
  if (x && !okReg(i.src)) return undefined;
  return `${r(i.dst)} ${text} ${x ? r(i.src) : i.imm}`;
}

function jmpText(i: Insn, wide: boolean): string | undefined {
  const op = i.code & 0xf0;
  const x = (i.code & Source.X) !== 0;
  if (wide) {
    if (op === JmpOp.JA) return x ? undefined : `goto ${brOff(i.off)}`;
    if (op === JmpOp.CALL) {
      if (!x) return `call ${i.imm}`;
      return i.imm >= 0 && okReg(i.imm) ? `callx ${reg(i.imm)}` : undefined;
    }
    if (op === JmpOp.EXIT) return !x && i.imm === 0 ? 'exit' : undefined;
  }
  const text = JMP_TEXT[op];
  if (text === undefined || !okReg(i.dst) || (x && !okReg(i.src))) return undefined;
  const r = wide ? reg : wreg;
  return `if ${r(i.dst)} ${text} ${x ? r(i.src) : i.imm} goto ${brOff(i.off)}`;
}

/** True when objdump follows this instruction's text with a `<symbol>` for its target. */
const isBranch = (text: string): boolean => text.startsWith('if ') || text.startsWith('goto ');

export interface DisasmRelocation {
  insnIndex: number;
  symbol: string;
}

export interface DisasmOptions extends TextOptions {
  /** Function symbol printed as `0000000000000000 <name>:` (llvm-objdump's header). */
  name?: string;
  /**
   * Byte address of the first instruction within its section (default 0): with
   * it, one program of a section holding several prints as llvm-objdump prints
   * that function (header address, instruction numbers, branch and relocation
   * addresses are all section-relative).
   */
  address?: number;
  /** Print the raw bytes column as `llvm-objdump -d` does by default. */
  rawBytes?: boolean;
  /** Labels (name -> instruction index, as assemble() returns them), printed as objdump prints symbols and after jumps as `<label>`. The first label at an index wins. */
  labels?: ReadonlyMap<string, number>;
  /** Relocations by instruction index, printed after their instruction as `llvm-objdump -dr` does. */
  relocations?: readonly DisasmRelocation[];
  /** Print each instruction's comment as a `; text` line above it. */
  annotate?: boolean;
  /**
   * Every symbol of the program's section (other functions and their labels
   * included), byte addresses within the section. objdump names a branch
   * target after the closest of them, so a jump to the program's end or
   * beyond names a neighbour; without them only `name` and `labels` are known.
   */
  sectionSymbols?: readonly SectionSymbol[];
  /**
   * The whole section (program at `address`). objdump decodes with the rest of
   * the section in view, so the last instruction of a program may take bytes of
   * the next one (an ld_imm64 in the last slot, a zero run ending mid-slot).
   */
  sectionBytes?: Uint8Array;
}

const hex16 = (n: bigint): string => n.toString(16).padStart(16, '0');
const U64 = (n: number | bigint): bigint => BigInt.asUintN(64, BigInt(n));

/** `<name>` or `<name+0x10>`: llvm-objdump names an address after the closest symbol at or below it (addresses are u64). */
function symbolize(symbols: readonly (readonly [bigint, string])[], addr: bigint): string | undefined {
  let best: readonly [bigint, string] | undefined;
  for (const s of symbols) if (s[0] <= addr && (!best || s[0] >= best[0])) best = s;
  if (!best) return undefined;
  return best[0] === addr ? best[1] : `${best[1]}+0x${(addr - best[0]).toString(16)}`;
}

/** One instruction as LLVM 14 splits the bytes at `at`. */
interface Decoded {
  size: 1 | 8 | 16;
  insn: Insn;
  text: string;
}

/**
 * Decodes at byte `at` the way BPFDisassembler::getInstruction does: fewer than
 * 8 bytes left is a 1-byte `<unknown>`; a decodable ld_imm64 with 16 bytes left
 * takes 16; everything else 8.
 */
function decodeAt(v: DataView, at: number, opts: TextOptions): Decoded {
  if (v.byteLength - at < SLOT_BYTES) {
    return { size: 1, insn: { code: v.getUint8(at), dst: 0, src: 0, off: 0, imm: 0 }, text: UNKNOWN };
  }
  const regs = v.getUint8(at + 1);
  const insn: Insn = { code: v.getUint8(at), dst: (regs & 0xf) as Reg, src: regs >> 4, off: v.getInt16(at + 2, true), imm: v.getInt32(at + 4, true) };
  if (insn.code === LD_IMM64) {
    if (!isDecodableLdImm64(insn) || v.byteLength - at < 2 * SLOT_BYTES) return { size: 8, insn, text: UNKNOWN };
    insn.imm64 = (BigInt(v.getUint32(at + SLOT_BYTES + 4, true)) << 32n) | BigInt(v.getUint32(at + 4, true));
    return { size: 16, insn, text: insnText(insn, opts) };
  }
  return { size: 8, insn, text: insnText(insn, opts) };
}

/**
 * llvm-objdump (without --disassemble-zeroes) replaces a run of 8 or more zero
 * bytes at an instruction start by `...`, skipping it in multiples of 4
 * (countSkippableZeroBytes); returns the bytes to skip, or 0.
 */
function skippableZeros(bytes: Uint8Array, at: number, end: number): number {
  let n = 0;
  while (at + n < end && bytes[at + n] === 0) n++;
  return n < 8 ? 0 : n & ~3;
}

/** Byte offset of each caller instruction (to place labels, relocations and comments), and the comments by offset. */
function instructionOffsets(input: Uint8Array | readonly Insn[], view: DataView, opts: TextOptions): { offsets: number[]; commentAt: Map<number, string> } {
  const offsets: number[] = [];
  const commentAt = new Map<number, string>();
  if (input instanceof Uint8Array) {
    for (let at = 0; at + SLOT_BYTES <= input.length; ) {
      offsets.push(at);
      at += decodeAt(view, at, opts).size === 16 ? 16 : 8;
    }
    return { offsets, commentAt };
  }
  let at = 0;
  for (const i of input) {
    offsets.push(at);
    if (i.comment !== undefined) commentAt.set(at, i.comment);
    at += slots(i) * SLOT_BYTES;
  }
  return { offsets, commentAt };
}

/** The names objdump knows: where each region starts (one symbol per address, the first name wins) and what branch targets are named after. */
interface Symbols {
  symAt: Map<number, string>;
  /** Region starts, ascending; each gets a `<name>:` header when it has a name. */
  regions: number[];
  /** (address, name) pairs branch targets are symbolized with. */
  named: (readonly [bigint, string])[];
}

function programSymbols(opts: DisasmOptions, offsetOf: (idx: number) => number, length: number, base: bigint): Symbols {
  const symAt = new Map<number, string>();
  if (opts.name !== undefined) symAt.set(0, opts.name);
  for (const [name, idx] of opts.labels ?? []) {
    const at = offsetOf(idx);
    if (!symAt.has(at)) symAt.set(at, name);
  }
  const starts = [...symAt.keys()].sort((x, y) => x - y);
  const named = opts.sectionSymbols
    ? [...opts.sectionSymbols].sort((x, y) => x.address - y.address).map((s) => [U64(s.address), s.name] as const)
    : starts.map((at) => [base + BigInt(at), symAt.get(at)!] as const);
  // A symbol at the end names a jump target but starts nothing: objdump prints
  // no header for an empty range (disassembleObject skips Start >= End).
  const inside = starts.filter((at) => at < length);
  return { symAt, regions: inside.length && inside[0] === 0 ? inside : [0, ...inside], named };
}

/** Everything one disassembly pass reads. */
interface Pass {
  opts: DisasmOptions;
  /** The program's bytes. */
  bytes: Uint8Array;
  /** The program, then the rest of its section: what the decoder may read. */
  seen: Uint8Array;
  seenView: DataView;
  base: bigint;
  commentAt: Map<number, string>;
  symbols: Symbols;
  relocs: { at: number; symbol: string }[];
  nextReloc: number;
  out: string[];
}

/** One instruction's lines at `at` (its comment, the instruction, the relocations below its end); returns its size. */
function instructionLines(p: Pass, at: number): number {
  const d = decodeAt(p.seenView, at, p.opts);
  const comment = p.commentAt.get(at);
  if (p.opts.annotate && comment !== undefined) for (const line of comment.split('\n')) p.out.push(`; ${line}`);
  let text = d.text;
  if (isBranch(text)) {
    const sym = symbolize(p.symbols.named, U64(p.base + BigInt(at + (1 + d.insn.off) * SLOT_BYTES)));
    if (sym !== undefined) text += ` <${sym}>`;
  }
  const raw = p.opts.rawBytes ? `${Array.from(p.seen.subarray(at, at + d.size), (b) => b.toString(16).padStart(2, '0')).join(' ')}\t` : '';
  p.out.push(`${((p.base + BigInt(at)) / BigInt(SLOT_BYTES)).toString().padStart(8)}:\t${raw}${text}`);
  // objdump prints every relocation below the end of this instruction, at its section offset.
  while (p.nextReloc < p.relocs.length && p.relocs[p.nextReloc]!.at < at + d.size) {
    p.out.push(`\t\t${hex16(p.base + BigInt(p.relocs[p.nextReloc]!.at))}:  R_BPF_64_64\t${p.relocs[p.nextReloc]!.symbol}`);
    p.nextReloc++;
  }
  return d.size;
}

/** One region: its `<name>:` header, then instructions and zero runs up to `end`. */
function regionLines(p: Pass, start: number, end: number): void {
  const name = p.symbols.symAt.get(start);
  if (name !== undefined) {
    if (p.out.length > 0) p.out.push('');
    p.out.push(`${hex16(p.base + BigInt(start))} <${name}>:`);
  }
  for (let at = start; at < end; ) {
    // With -r, objdump stops a zero run at the next relocation so it stays visible.
    const r = p.relocs[p.nextReloc];
    const skip = skippableZeros(p.bytes, at, r && r.at >= at ? Math.min(end, r.at) : end);
    if (skip) {
      p.out.push('\t\t...');
      at += skip;
      continue;
    }
    at += instructionLines(p, at);
  }
}

/**
 * Disassembles a program the way `llvm-objdump -d [--no-show-raw-insn] [-r]` prints
 * one function: header line, then `%8d:\t[bytes\t]text` per instruction (the
 * number is the byte address / 8), a blank line plus `<label>:` header at each
 * label, relocation lines after their instruction. Returns the lines (no
 * trailing newline). Given Insn[] it disassembles their encoding, keeping their comments.
 */
export function disassemble(input: Uint8Array | readonly Insn[], opts: DisasmOptions = {}): string[] {
  const bytes = input instanceof Uint8Array ? input : encode(input);
  const { offsets, commentAt } = instructionOffsets(input, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), opts);
  const offsetOf = (idx: number): number => offsets[idx] ?? bytes.length;
  const base = U64(opts.address ?? 0);
  const tail = opts.sectionBytes?.subarray((opts.address ?? 0) + bytes.length) ?? new Uint8Array(0);
  const seen = tail.length ? Uint8Array.from([...bytes, ...tail]) : bytes;
  const symbols = programSymbols(opts, offsetOf, bytes.length, base);
  const relocs = (opts.relocations ?? []).map((r) => ({ at: offsetOf(r.insnIndex), symbol: r.symbol })).sort((x, y) => x.at - y.at);
  const p: Pass = { opts, bytes, seen, seenView: new DataView(seen.buffer, seen.byteOffset, seen.byteLength), base, commentAt, symbols, relocs, nextReloc: 0, out: [] };
  symbols.regions.forEach((start, k) => regionLines(p, start, symbols.regions[k + 1] ?? bytes.length));
  return p.out;
}

/** What disassembleProgram needs of a program: ObjectProgram (elf-reader) and ProgramSpec (elf-writer) both fit. */
export interface DisasmProgram {
  name: string;
  /** Byte offset within its section (ObjectProgram.offset); the `address` default. */
  offset?: number;
  /** Every symbol of its section; the `sectionSymbols` default. */
  sectionSymbols?: readonly SectionSymbol[];
  /** Its section's bytes; the `sectionBytes` default. */
  sectionBytes?: Uint8Array;
  insns?: readonly Insn[];
  labels?: ReadonlyMap<string, number>;
  relocations?: readonly DisasmRelocation[];
}

/**
 * One program as `llvm-objdump -d` prints its function: header, labels, and
 * (when given) relocation lines, at its offset in its section; relocations
 * default to the insns' `ref`s.
 */
export function disassembleProgram(p: DisasmProgram, opts: Omit<DisasmOptions, 'name' | 'labels'> = {}): string[] {
  const insns = p.insns ?? [];
  const relocations = p.relocations ?? insns.flatMap((i, k) => (i.ref ? [{ insnIndex: k, symbol: i.ref.symbol }] : []));
  const address = opts.address ?? p.offset;
  const sectionSymbols = opts.sectionSymbols ?? p.sectionSymbols;
  const sectionBytes = opts.sectionBytes ?? p.sectionBytes;
  return disassemble(insns, {
    ...opts,
    ...(address !== undefined ? { address } : {}),
    ...(sectionSymbols !== undefined ? { sectionSymbols } : {}),
    ...(sectionBytes !== undefined ? { sectionBytes } : {}),
    name: p.name,
    labels: p.labels ?? new Map(),
    relocations: opts.relocations ?? relocations,
  });
}
