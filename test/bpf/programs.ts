// Sample programs written with the DSL, shaped like what the compiler emits:
// read pt_regs, copy memory with probe_read_{kernel,user} into a per-CPU
// scratch value, emit it with perf_event_output. Shared by the object and
// load tests. Offsets are x86-64 struct pt_regs (arch/x86/include/asm/ptrace.h).
import * as A from '../../bpf/asm.js';
import { type MapSpec, type ObjectSpec, type ProgramSpec, programFromAsm } from '../../bpf/elf-writer.js';
import { MapType } from '../../bpf/elf.js';
import { EVENTS_MAP, SCRATCH_MAP } from '../../compiler/abi.js';
import { R0, R1, R2, R3, R4, R5, R6, R7, R10, Size } from '../../bpf/insn.js';

export const PT_REGS = { ax: 80, dx: 96, si: 104, di: 112, ip: 128, sp: 152 } as const;
export const RECORD_SIZE = 64;

export const MAPS: MapSpec[] = [
  { name: EVENTS_MAP, type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 0 },
  { name: SCRATCH_MAP, type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 1024, maxEntries: 1 },
];

/** r7 = &scratch[0] or exit 0 when the lookup fails (the verifier insists on the check). */
function scratchValue(): A.AsmItem[] {
  return A.annotate('record buffer: scratch[0]', [
    A.st(Size.W, R10, -4, 0),
    A.mov64Reg(R2, R10),
    A.alu64Imm('add', R2, -4),
    A.ldMapFd(R1, SCRATCH_MAP),
    A.call(A.Helper.map_lookup_elem),
    A.jmpImm('jeq', R0, 0, 'out'),
    A.mov64Reg(R7, R0),
  ]);
}

/** Copies `size` bytes from the address in pt_regs field `reg` to record offset `off`. */
function readMem(helper: number, reg: keyof typeof PT_REGS, off: number, size: number, what: string): A.AsmItem[] {
  return A.annotate(what, [
    A.ldx(Size.DW, R3, R6, PT_REGS[reg]),
    A.mov64Reg(R1, R7),
    A.alu64Imm('add', R1, off),
    A.mov64Imm(R2, size),
    A.call(helper),
  ]);
}

function output(): A.AsmItem[] {
  return [
    ...A.annotate('emit record', [
      A.mov64Reg(R1, R6),
      A.ldMapFd(R2, EVENTS_MAP),
      A.ldImm64(R3, 0xffffffffn), // BPF_F_CURRENT_CPU
      A.mov64Reg(R4, R7),
      A.mov64Imm(R5, RECORD_SIZE),
      A.call(A.Helper.perf_event_output),
    ]),
    A.label('out'),
    A.mov64Imm(R0, 0),
    A.exit(),
  ];
}

function header(): A.AsmItem[] {
  return [
    ...A.annotate('ctx', [A.mov64Reg(R6, R1)]),
    ...scratchValue(),
    ...A.annotate('common: pid_tgid, ktime', [
      A.call(A.Helper.get_current_pid_tgid),
      A.stx(Size.DW, R7, 0, R0),
      A.call(A.Helper.ktime_get_ns),
      A.stx(Size.DW, R7, 8, R0),
    ]),
    ...A.annotate('__probe_ip', [A.ldx(Size.DW, R1, R6, PT_REGS.ip), A.stx(Size.DW, R7, 16, R1)]),
  ];
}

/** kprobe: arg1=%di:x64 arg2=+0(%si):u64 s=+0(%dx):string-ish (kernel reads). */
export function kprobeProgram(section = 'kprobe/do_sys_openat2', name = 'p_openat2'): ProgramSpec {
  return programFromAsm(name, section, [
    ...header(),
    ...A.annotate('arg1=%di:x64', [A.ldx(Size.DW, R1, R6, PT_REGS.di), A.stx(Size.DW, R7, 24, R1)]),
    ...readMem(A.Helper.probe_read_kernel, 'si', 32, 8, 'arg2=+0(%si):u64'),
    ...A.annotate('s=+0(%dx):string', [
      A.ldx(Size.DW, R3, R6, PT_REGS.dx),
      A.mov64Reg(R1, R7),
      A.alu64Imm('add', R1, 40),
      A.mov64Imm(R2, 24),
      A.call(A.Helper.probe_read_kernel_str),
    ]),
    ...output(),
  ]);
}

/** kretprobe: $retval. */
export function kretprobeProgram(): ProgramSpec {
  return programFromAsm('r_openat2', 'kretprobe/do_sys_openat2', [
    ...header(),
    ...A.annotate('ret=$retval:s64', [A.ldx(Size.DW, R1, R6, PT_REGS.ax), A.stx(Size.DW, R7, 24, R1)]),
    ...output(),
  ]);
}

/** uprobe/uretprobe: user memory reads. */
export function uprobeProgram(section: string, name: string): ProgramSpec {
  return programFromAsm(name, section, [
    ...header(),
    ...readMem(A.Helper.probe_read_user, 'di', 24, 8, 'arg1=+0(%di):u64'),
    ...A.annotate('s=+0(%si):ustring', [
      A.ldx(Size.DW, R3, R6, PT_REGS.si),
      A.mov64Reg(R1, R7),
      A.alu64Imm('add', R1, 32),
      A.mov64Imm(R2, 32),
      A.call(A.Helper.probe_read_user_str),
    ]),
    ...output(),
  ]);
}

/** kprobe reading the kernel symbol `sym` (typeless __ksym extern): @sym:u64. */
export function ksymProgram(sym: string): ProgramSpec {
  return programFromAsm('p_ksym', 'kprobe/vfs_read', [
    ...header(),
    ...A.annotate(`x=@${sym}:u64`, [
      A.ldKsym(R3, sym),
      A.mov64Reg(R1, R7),
      A.alu64Imm('add', R1, 24),
      A.mov64Imm(R2, 8),
      A.call(A.Helper.probe_read_kernel),
    ]),
    ...output(),
  ]);
}

export const META_SECTION = '.kprobe_bpf.meta';

export function sampleObject(extra: Partial<ObjectSpec> = {}): ObjectSpec {
  return {
    license: 'GPL',
    programs: [kprobeProgram(), kretprobeProgram(), uprobeProgram('uprobe//bin/true:0x1000', 'p_true'), uprobeProgram('uretprobe//bin/true:0x1000', 'r_true')],
    maps: MAPS,
    extraSections: [{ name: META_SECTION, data: new TextEncoder().encode('{"events":["p_openat2"]}') }],
    ...extra,
  };
}

/**
 * Three programs sharing `kprobe/do_sys_openat2` (two probes on one symbol, as
 * the compiler emits them) plus one alone in its section; all use the label
 * `out`, as each compiled program does. The shared ones are given out of
 * section order to check first-seen grouping. The third reads kernel symbol
 * `ksym` when given (a relocation against an extern in the middle of the
 * section), else it is one more plain kprobe.
 */
export function sharedSectionObject(ksym?: string): ObjectSpec {
  const shared = 'kprobe/do_sys_openat2';
  const third = ksym === undefined ? kprobeProgram(shared, 'p_open_c') : { ...ksymProgram(ksym), name: 'p_open_c', section: shared };
  return {
    license: 'GPL',
    programs: [kprobeProgram(shared, 'p_open_a'), kretprobeProgram(), kprobeProgram(shared, 'p_open_b'), third],
    maps: MAPS,
    ...(ksym === undefined ? {} : { externs: [{ name: ksym }] }),
    extraSections: [{ name: META_SECTION, data: new TextEncoder().encode('{"events":["p_open_a","r_openat2","p_open_b","p_open_c"]}') }],
  };
}
