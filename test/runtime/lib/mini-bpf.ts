// Just enough of bpf(2) for the runtime tests to stand in for the compiler
// and loader: a PERF_EVENT_ARRAY map wired to our perf rings, and one
// hand-assembled kprobe-type program that emits a record in our layout
// (compiler/format.ts RECORD_PREFIX, then the kernel's trace entry for
// `p:GRP/EVENT PATH:OFF i=%di:s32`). Test-only: the real path is the loader.
import { addressOf, bpf, closeFd, mapUpdateU32 } from '../../../runtime/sys/index.js';
import { PREFIX_COMM, PREFIX_CPU, PREFIX_TGID, PREFIX_TS, RECORD_PREFIX_SIZE } from '../../../compiler/format.js';

const BPF_MAP_CREATE = 0;
const BPF_PROG_LOAD = 5;
const BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4;
const BPF_PROG_TYPE_KPROBE = 2;
export function createPerfEventArray(entries: number): number {
  const a = Buffer.alloc(72);
  a.writeUInt32LE(BPF_MAP_TYPE_PERF_EVENT_ARRAY, 0);
  a.writeUInt32LE(4, 4);
  a.writeUInt32LE(4, 8);
  a.writeUInt32LE(entries, 12);
  return bpf(BPF_MAP_CREATE, a, 'BPF_MAP_CREATE');
}

/** One BPF instruction (RFC 9669 encoding). */
function insn(op: number, dst: number, src: number, off: number, imm: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = op;
  b[1] = (src << 4) | dst;
  b.writeInt16LE(off, 2);
  b.writeInt32LE(imm | 0, 4);
  return b;
}
const mov64 = (d: number, s: number) => insn(0xbf, d, s, 0, 0);
const movImm32 = (d: number, imm: number) => insn(0xb4, d, 0, 0, imm);
const movImm = (d: number, imm: number) => insn(0xb7, d, 0, 0, imm);
const addImm = (d: number, imm: number) => insn(0x07, d, 0, 0, imm);
const rshImm = (d: number, imm: number) => insn(0x77, d, 0, 0, imm);
const call = (h: number) => insn(0x85, 0, 0, 0, h);
const stxDW = (d: number, s: number, off: number) => insn(0x7b, d, s, off, 0);
const stxW = (d: number, s: number, off: number) => insn(0x63, d, s, off, 0);
const stW = (d: number, off: number, imm: number) => insn(0x62, d, 0, off, imm);
const ldxDW = (d: number, s: number, off: number) => insn(0x79, d, s, off, 0);
const exit = () => insn(0x95, 0, 0, 0, 0);
const ldMapFd = (d: number, fd: number) => Buffer.concat([insn(0x18, d, 1, 0, fd), insn(0, 0, 0, 0, 0)]);

/** pt_regs offsets (arch/x86/include/asm/ptrace.h). */
const PT_REGS_DI = 112;
const PT_REGS_IP = 128;
/** Helper ids (include/uapi/linux/bpf.h). */
const H = { ktime_get_ns: 5, get_smp_processor_id: 8, get_current_pid_tgid: 14, get_current_comm: 16, perf_event_output: 25 };

/** Size of the record the program emits: prefix + 20-byte entry + 4 pad. */
export const RECORD_SIZE = RECORD_PREFIX_SIZE + 24;

/**
 * Loads a program emitting [prefix][entry: common_type=typeId, pid, __probe_ip, i=(s32)di]
 * to the PERF_EVENT_ARRAY on the current CPU. Returns the program fd.
 */
export function loadRecordProgram(mapFd: number, typeId: number): number {
  const base = -RECORD_SIZE; // record at r10-56
  const e = base + RECORD_PREFIX_SIZE; // entry
  const code = Buffer.concat([
    mov64(6, 1),
    call(H.ktime_get_ns),
    stxDW(10, 0, base + PREFIX_TS),
    call(H.get_current_pid_tgid),
    mov64(7, 0),
    mov64(1, 0),
    rshImm(1, 32),
    stxW(10, 1, base + PREFIX_TGID),
    call(H.get_smp_processor_id),
    stxW(10, 0, base + PREFIX_CPU),
    mov64(1, 10),
    addImm(1, base + PREFIX_COMM),
    movImm(2, 16),
    call(H.get_current_comm),
    stW(10, e + 0, typeId & 0xffff), // common_type, flags 0, preempt_count 0
    stxW(10, 7, e + 4), // common_pid = thread id
    ldxDW(1, 6, PT_REGS_IP),
    stxDW(10, 1, e + 8), // __probe_ip
    ldxDW(1, 6, PT_REGS_DI),
    stxW(10, 1, e + 16), // i (s32)
    stW(10, e + 20, 0),
    mov64(1, 6),
    ldMapFd(2, mapFd),
    movImm32(3, -1), // BPF_F_CURRENT_CPU
    mov64(4, 10),
    addImm(4, base),
    movImm(5, RECORD_SIZE),
    call(H.perf_event_output),
    movImm(0, 0),
    exit(),
  ]);
  const license = Buffer.from('GPL\0');
  const a = Buffer.alloc(128);
  a.writeUInt32LE(BPF_PROG_TYPE_KPROBE, 0);
  a.writeUInt32LE(code.length / 8, 4);
  a.writeBigUInt64LE(addressOf(code), 8);
  a.writeBigUInt64LE(addressOf(license), 16);
  return bpf(BPF_PROG_LOAD, a, 'BPF_PROG_LOAD');
}

export { closeFd, mapUpdateU32 };
