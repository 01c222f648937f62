// The kernel's uprobe_multi link (Linux 6.6+, kernel/trace/bpf_trace.c
// bpf_uprobe_multi_link_attach): one BPF link puts one program on many
// uprobes of one file, and closing it unregisters them all behind a single
// uprobe_unregister_sync(), where a perf event per uprobe pays its own
// grace periods on close (perf_trace_event_unreg). The program must have
// been loaded with expected_attach_type BPF_TRACE_UPROBE_MULTI; the tracer
// asks uprobeMultiProblem() before loading, and where the kernel has no such
// link (6.1) loads and attaches uprobes as perf events (uprobe.ts), as before.
// A link carries one program: several events share one link through a
// dispatcher program that tells them apart by bpf_cookie (uprobe-group.ts).
//
// Same semantics as the perf event: the same pt_regs (a uprobe's ip is the
// probed address), bpf_get_func_ip is the probed function's address for a
// uretprobe in both, the pid field filters by the process as perf's pid does
// (the kernel's uprobe filter on the task's mm), ref_ctr_offsets arms a USDT
// semaphore as the PMU's ref_ctr_offset does.
import { closeFd, nativeCString, SysError } from '../sys/index.js';
import { addressOf, bpf } from '../sys/bpf.js';
import { LINUX_ERRNO } from '../../lib/errno.js';
import { enumValue, uapi } from '../bridge/uapi.js';
import { ProbeSetupError } from './errors.js';
import { BpfLinkAttachment } from './probe.js';
import { describeUprobe, type UprobeTarget } from './uprobe.js';

/** uapi/linux/bpf.h: BPF_F_UPROBE_MULTI_RETURN, the link_create.uprobe_multi.flags bit for uretprobes. */
const BPF_F_UPROBE_MULTI_RETURN = 1;
/** uapi/linux/bpf.h: BPF_F_SLEEPABLE (prog_flags). */
const BPF_F_SLEEPABLE = 1 << 4;

/** Environment switch that forces the per-uprobe perf events (tests, bench): KPROBE_BPF_UPROBE_MULTI=0. */
export const UPROBE_MULTI_ENV = 'KPROBE_BPF_UPROBE_MULTI';

/** A zeroed off-heap buffer: V8 never moves it, so its address can go into an attr. */
const native = (n: number): Uint8Array => new Uint8Array(new ArrayBuffer(Math.max(n, 8)));

export function attrFor(cmd: string): { attr: Uint8Array; dv: DataView; at: (field: string) => number; value: number } {
  const t = uapi();
  const c = t.commands[cmd];
  if (!c) throw new ProbeSetupError(`linux/bpf.h has no command ${cmd}`);
  const attr = native(t.attrSize);
  const at = (field: string): number => {
    const f = c.fields.find((x) => x.name === field);
    if (!f) throw new ProbeSetupError(`linux/bpf.h: ${cmd} has no field ${field} (bpf-uapi.json predates uprobe_multi)`);
    return f.offset;
  };
  return { attr, dv: new DataView(attr.buffer), at, value: c.value };
}

/**
 * bpf(BPF_PROG_LOAD) of a kprobe-type program for BPF_TRACE_UPROBE_MULTI
 * from encoded instructions; returns its fd. `name` is the kernel's
 * prog_name (bpftool, fdinfo), cut to 15 bytes.
 */
export function loadUprobeMultiProgram(code: Uint8Array, sleepable: boolean, name: string): number {
  const { attr, dv, at, value } = attrFor('BPF_PROG_LOAD');
  const insns = native(code.length);
  insns.set(code);
  const license = nativeCString('GPL');
  try {
    dv.setUint32(at('prog_type'), enumValue('bpf_prog_type', 'BPF_PROG_TYPE_KPROBE'), true);
    dv.setUint32(at('insn_cnt'), code.length / 8, true);
    dv.setBigUint64(at('insns'), addressOf(insns), true);
    dv.setBigUint64(at('license'), license.address, true);
    dv.setUint32(at('prog_flags'), sleepable ? BPF_F_SLEEPABLE : 0, true);
    dv.setUint32(at('expected_attach_type'), enumValue('bpf_attach_type', 'BPF_TRACE_UPROBE_MULTI'), true);
    attr.set(new TextEncoder().encode(name).subarray(0, 15), at('prog_name'));
    return bpf(value, attr, `BPF_PROG_LOAD uprobe_multi ${name}`);
  } finally {
    license.release();
  }
}

/** The smallest program BPF_TRACE_UPROBE_MULTI accepts: r0 = 0; exit. */
const loadProbeProgram = (sleepable: boolean): number =>
  loadUprobeMultiProgram(Uint8Array.of(0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0), sleepable, 'kpb_um_probe');

const support = new Map<boolean, string | undefined>();

/**
 * Why this kernel cannot attach (sleepable, if asked) programs through a
 * uprobe_multi link, or undefined when it can. Asked the kernel's way: a
 * program loaded for BPF_TRACE_UPROBE_MULTI linked to the directory "/",
 * which a kernel with the link refuses with EBADF (not a regular file) and
 * an older one with EINVAL (no such attach type) at load or at link. One
 * answer per process; KPROBE_BPF_UPROBE_MULTI=0 forces the perf events.
 */
export function uprobeMultiProblem(sleepable: boolean): string | undefined {
  if (process.env[UPROBE_MULTI_ENV] === '0') return `${UPROBE_MULTI_ENV}=0`;
  if (support.has(sleepable)) return support.get(sleepable);
  let problem: string | undefined;
  let prog = -1;
  try {
    prog = loadProbeProgram(sleepable);
    const link = createLink(prog, '/', { offsets: [0n], isReturn: false });
    closeFd(link);
    problem = 'a uprobe_multi link on "/" was accepted';
  } catch (e) {
    if (!(e instanceof SysError) && !(e instanceof ProbeSetupError)) throw e;
    problem = e instanceof SysError && e.errno === LINUX_ERRNO.EBADF ? undefined : `no uprobe_multi link: ${e.message}`;
  } finally {
    if (prog >= 0) closeFd(prog);
  }
  support.set(sleepable, problem);
  return problem;
}

export interface LinkSites {
  readonly offsets: readonly bigint[];
  readonly refCtrOffsets?: readonly bigint[];
  /** bpf_get_attach_cookie() at each site (0 where absent). */
  readonly cookies?: readonly bigint[];
  readonly isReturn: boolean;
  readonly pid?: number;
}

/** bpf(BPF_LINK_CREATE) for BPF_TRACE_UPROBE_MULTI on one file's offsets; returns the link fd. */
export function createLink(progFd: number, path: string, sites: LinkSites): number {
  const { attr, dv, at, value } = attrFor('BPF_LINK_CREATE');
  const n = sites.offsets.length;
  const u64s = (values: readonly bigint[] | undefined): Uint8Array | undefined => {
    if (!values) return undefined;
    const b = native(8 * n);
    const v = new DataView(b.buffer);
    values.forEach((x, i) => v.setBigUint64(8 * i, x, true));
    return b;
  };
  const offsets = u64s(sites.offsets)!;
  const refs = u64s(sites.refCtrOffsets);
  const cookies = u64s(sites.cookies);
  const p = nativeCString(path);
  try {
    dv.setUint32(at('link_create.prog_fd'), progFd, true);
    dv.setUint32(at('link_create.attach_type'), enumValue('bpf_attach_type', 'BPF_TRACE_UPROBE_MULTI'), true);
    dv.setBigUint64(at('link_create.uprobe_multi.path'), p.address, true);
    dv.setBigUint64(at('link_create.uprobe_multi.offsets'), addressOf(offsets), true);
    if (refs) dv.setBigUint64(at('link_create.uprobe_multi.ref_ctr_offsets'), addressOf(refs), true);
    if (cookies) dv.setBigUint64(at('link_create.uprobe_multi.cookies'), addressOf(cookies), true);
    dv.setUint32(at('link_create.uprobe_multi.cnt'), n, true);
    dv.setUint32(at('link_create.uprobe_multi.flags'), sites.isReturn ? BPF_F_UPROBE_MULTI_RETURN : 0, true);
    if (sites.pid !== undefined) dv.setUint32(at('link_create.uprobe_multi.pid'), sites.pid, true);
    return bpf(value, attr, `BPF_LINK_CREATE uprobe_multi ${path}`);
  } finally {
    p.release();
  }
}

/**
 * Uprobes of one file and direction behind one program, as one link:
 * enable() creates it (the probes are live from then on), close() drops it,
 * unregistering them all behind one synchronisation.
 */
export class UprobeMultiLink extends BpfLinkAttachment {
  constructor(private readonly targets: readonly UprobeTarget[], private readonly pid?: number) {
    const first = targets[0];
    if (!first) throw new ProbeSetupError('uprobe_multi link: no uprobe to attach');
    for (const t of targets) {
      if (t.path !== first.path || t.isReturn !== first.isReturn) throw new ProbeSetupError(`uprobe_multi link: ${describeUprobe(t)} is not on ${first.path} as a ${first.isReturn ? 'uretprobe' : 'uprobe'}`);
    }
    const kind = first.isReturn ? 'uretprobe' : 'uprobe';
    super(kind, `${kind} ${targets.map(describeUprobe).join(', ')} (uprobe_multi link)`);
  }

  protected openLink(progFd: number): number {
    const refs = this.targets.some((t) => t.refCtrOffset !== undefined) ? this.targets.map((t) => t.refCtrOffset ?? 0n) : undefined;
    return createLink(progFd, this.targets[0]!.path, {
      offsets: this.targets.map((t) => t.offset),
      ...(refs ? { refCtrOffsets: refs } : {}),
      isReturn: this.targets[0]!.isReturn,
      ...(this.pid !== undefined ? { pid: this.pid } : {}),
    });
  }
}
