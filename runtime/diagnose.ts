// Why the kernel will refuse to check or trace, said before anything is
// created: one table of causes, each a fact about this host or a probed
// binary, the errno the kernel answers for it, and what to do. The CLI asks
// diagnose() first and prints the first cause that applies as one line; a
// refusal that slips past it (a thrown ErrnoError) is matched against the same
// table by explainRefusal().
import { existsSync, readFileSync } from 'node:fs';
import { fileIdentityOncePerPath } from '../lib/file-identity.js';
import { gunzipSync } from 'node:zlib';
import type { ProbeSite } from '../compiler/abi.js';
import { LINUX_ERRNO, errnoName, type ErrnoName } from '../lib/errno.js';
import { ELFCLASS64 } from '../bpf/elf.js';
import { ElfSymbols } from './elf-symbols.js';
import { readPmu } from './attach/pmu.js';
import { tracefsRoot } from './attach/tracefs-probe.js';

/** What the host lets this process do (read once per run). */
export interface HostFacts {
  readonly euid: number;
  /** Effective capabilities (kernel: CAP_SYS_ADMIN 21, CAP_PERFMON 38, CAP_BPF 39). */
  readonly caps: { readonly sysAdmin: boolean; readonly perfmon: boolean; readonly bpf: boolean };
  /** /proc/sys/kernel/unprivileged_bpf_disabled; absent without CONFIG_BPF_SYSCALL. */
  readonly unprivilegedBpfDisabled: number | undefined;
  readonly perfEventParanoid: number | undefined;
  /** The bracketed mode of /sys/kernel/security/lockdown, when the LSM is there. */
  readonly lockdown: string | undefined;
  readonly tracefs: string | undefined;
  readonly pmus: { readonly kprobe: boolean; readonly uprobe: boolean };
  /** CONFIG_* values from /proc/config.gz or /boot/config-RELEASE, when readable. */
  readonly kconfig: ReadonlyMap<string, string> | undefined;
}

/** What the command is about to ask of the kernel. */
export interface Need {
  /** Load tracing programs (kprobe/uprobe types need CAP_BPF and CAP_PERFMON). */
  readonly tracing: boolean;
  /** Open perf events and attach (trace; check only loads). */
  readonly attach: boolean;
  readonly definitions: readonly ProbeSite[];
}

export interface Diagnosis {
  readonly errno: ErrnoName;
  /** One line: what is refused, the errno name, and the fix. */
  readonly message: string;
}

interface Cause {
  readonly errno: ErrnoName;
  /** The message when the cause applies, else undefined. */
  readonly check: (f: HostFacts, need: Need) => string | undefined;
}

const bpfCapable = (f: HostFacts) => f.caps.bpf || f.caps.sysAdmin;
const perfmonCapable = (f: HostFacts) => f.caps.perfmon || f.caps.sysAdmin;
const who = (f: HostFacts) => (f.euid === 0 ? 'root without them (a container?)' : `uid ${f.euid}`);
const kernelLacks = (f: HostFacts, option: string) => f.kconfig !== undefined && !['y', 'm'].includes(f.kconfig.get(option) ?? '');
const uses = (need: Need, tracer: ProbeSite['tracer']) => need.definitions.some((d) => d.tracer === tracer);

/** Host causes, most fundamental first: the first that applies is the one reported. */
const HOST_CAUSES: readonly Cause[] = [
  { errno: 'ENOSYS', check: (f) => (f.unprivilegedBpfDisabled === undefined && kernelLacks(f, 'CONFIG_BPF_SYSCALL')
    ? 'this kernel has no bpf() system call: it was built without CONFIG_BPF_SYSCALL; use a kernel with CONFIG_BPF_SYSCALL=y and CONFIG_BPF_EVENTS=y' : undefined) },
  { errno: 'EINVAL', check: (f, need) => (need.tracing && kernelLacks(f, 'CONFIG_BPF_EVENTS')
    ? 'this kernel cannot run BPF programs on probes: it was built without CONFIG_BPF_EVENTS; use a kernel with CONFIG_BPF_EVENTS=y' : undefined) },
  { errno: 'EPERM', check: (f, need) => (need.tracing && f.lockdown === 'confidentiality'
    ? "kernel lockdown is 'confidentiality': it refuses kprobes, perf tracing and BPF reads of kernel memory even to root; boot with lockdown=integrity (or turn Secure Boot's lockdown off)" : undefined) },
  { errno: 'EPERM', check: (f, need) => (need.tracing && !bpfCapable(f) && !perfmonCapable(f)
    ? `loading tracing BPF programs needs root, or CAP_BPF and CAP_PERFMON, and ${who(f)} has neither; run it with sudo` : undefined) },
  { errno: 'EPERM', check: (f, need) => (need.tracing && !bpfCapable(f)
    ? `loading BPF programs needs CAP_BPF and ${who(f)} lacks it; run it with sudo, or grant CAP_BPF as well as CAP_PERFMON` : undefined) },
  { errno: 'EPERM', check: (f, need) => (!need.tracing && !bpfCapable(f) && (f.unprivilegedBpfDisabled ?? 0) > 0
    ? `kernel.unprivileged_bpf_disabled = ${f.unprivilegedBpfDisabled} refuses bpf() to users without CAP_BPF, and ${who(f)} lacks it; run it with sudo` : undefined) },
  { errno: 'EPERM', check: (f, need) => (need.tracing && !perfmonCapable(f)
    ? `tracing BPF programs need CAP_PERFMON and ${who(f)} lacks it; run it with sudo, or grant CAP_PERFMON as well as CAP_BPF` : undefined) },
  { errno: 'EACCES', check: (f, need) => (need.attach && !perfmonCapable(f) && (f.perfEventParanoid ?? 2) > -1
    ? `kernel.perf_event_paranoid = ${f.perfEventParanoid} refuses per-CPU and probe perf events to users without CAP_PERFMON; run it with sudo, or set 'sysctl kernel.perf_event_paranoid=-1'` : undefined) },
  { errno: 'ENOENT', check: (f, need) => (need.attach && uses(need, 'uprobe') && !f.pmus.uprobe && kernelLacks(f, 'CONFIG_UPROBE_EVENTS')
    ? 'this kernel has no uprobes: it was built without CONFIG_UPROBES / CONFIG_UPROBE_EVENTS; use a kernel with CONFIG_UPROBE_EVENTS=y' : undefined) },
  { errno: 'ENOENT', check: (f, need) => (need.attach && need.definitions.length > 0 && need.definitions.every((d) => d.tracer === 'kprobe') && !f.pmus.kprobe && kernelLacks(f, 'CONFIG_KPROBES')
    ? 'this kernel has no kprobes: it was built without CONFIG_KPROBES and CONFIG_KPROBE_EVENTS; use a kernel with them, or probe user space with uprobes' : undefined) },
  { errno: 'ENOENT', check: (f, need) => (need.attach && !f.tracefs && needsTracefs(f, need)
    ? "tracefs is not mounted, and this kernel makes these probes through it; mount it with 'mount -t tracefs nodev /sys/kernel/tracing'" : undefined) },
];

/** Probes that go through tracefs: no PMU for their kind, or a kretprobe's maxactive. */
function needsTracefs(f: HostFacts, need: Need): boolean {
  // eprobes need tracefs for the attached event's id: the tracer reports that itself;
  // fprobe and tprobe events are BPF links, not tracefs probes
  return need.definitions.some((d) => (d.tracer === 'uprobe' ? !f.pmus.uprobe
    : d.tracer === 'kprobe' && !kernelLacks(f, 'CONFIG_KPROBES') && (!f.pmus.kprobe || d.maxactive !== undefined)));
}

/** e_machine of x86-64 (include/uapi/linux/elf-em.h: EM_X86_64). */
const EM_X86_64 = 62;

/** ELF machine names for the message (include/uapi/linux/elf-em.h). */
const MACHINE_NAMES: ReadonlyMap<number, string> = new Map([[3, 'i386'], [40, 'arm'], [183, 'aarch64'], [243, 'riscv'], [247, 'bpf'], [8, 'mips'], [21, 'ppc64'], [22, 's390']]);

/** A uprobe's binary: readable, ELF, x86-64, and its SYMBOL there. */
function binaryCause(def: ProbeSite): Diagnosis | undefined {
  const p = def.point;
  if (p.kind !== 'file' && p.kind !== 'file-symbol') return undefined;
  let head: Buffer;
  try {
    head = readFileSync(p.path).subarray(0, 20);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    return { errno: code in LINUX_ERRNO ? (code as ErrnoName) : 'EIO', message: `${p.path}: cannot read the probed binary (${code}); check the path and its permissions` };
  }
  if (head.length < 20 || head.readUInt32BE(0) !== 0x7f454c46) {
    return { errno: 'ENOEXEC', message: `${p.path} is not an ELF file (ENOEXEC): uprobes go on executables and shared libraries; give the path of one` };
  }
  const machine = head.readUInt16LE(18);
  if (head[4] !== ELFCLASS64 || machine !== EM_X86_64) {
    const what = MACHINE_NAMES.get(machine) ?? `machine ${machine}`;
    return { errno: 'ENOEXEC', message: `${p.path} is an ELF file for ${head[4] === ELFCLASS64 ? what : `32-bit ${what}`}, not x86-64 (ENOEXEC): kprobe-bpf reads x86-64 registers; probe an x86-64 binary` };
  }
  if (p.kind === 'file-symbol' && new ElfSymbols(p.path).find(p.symbol).length === 0) {
    return { errno: 'ENOENT', message: `${p.path} has no symbol '${p.symbol}' in .symtab or .dynsym (ENOENT): see its symbols with 'nm ${p.path}' and 'nm -D ${p.path}', or give PATH:OFFSET` };
  }
  return undefined;
}

/**
 * A uprobe_events event on the same place (file and offset) with another
 * reference counter offset: the kernel keeps one per place (uprobes.c
 * alloc_uprobe refuses the second with EINVAL), so our attach would fail.
 */
function refCtrCause(defs: readonly ProbeSite[], events: readonly string[]): Diagnosis | undefined {
  const live = events.flatMap((l) => {
    const m = /^[pr]:(\S+) (\S+):0x([0-9a-f]+)(?:\(0x([0-9a-f]+)\))?(?: |$)/.exec(l);
    return m ? [{ event: m[1]!, path: m[2]!, offset: BigInt(`0x${m[3]}`), ref: m[4] === undefined ? 0n : BigInt(`0x${m[4]}`) }] : [];
  });
  if (live.length === 0) return undefined;
  const identity = fileIdentityOncePerPath();
  for (const d of defs) {
    const p = d.point;
    if (p.kind !== 'file') continue;
    const ref = p.refCtrOffset ?? 0n;
    const other = live.find((e) => e.offset === p.offset && e.ref !== ref && identity(e.path) === identity(p.path));
    if (other) {
      const hex = (v: bigint) => `0x${v.toString(16)}`;
      return {
        errno: 'EINVAL',
        message: `${d.group}/${d.event}: ${p.path}:${hex(p.offset)} already has a uprobe with ${other.ref ? `reference counter offset ${hex(other.ref)}` : 'no reference counter'} (uprobe_events: ${other.event}), and the kernel keeps one per place (EINVAL); give this probe the same, or remove ${other.event}`,
      };
    }
  }
  return undefined;
}

/** uprobe_events' lines, or none when tracefs is not there. */
function liveUprobeEvents(tracefs: string | undefined): string[] {
  if (!tracefs) return [];
  try {
    return readFileSync(`${tracefs}/uprobe_events`, 'utf8').split('\n').filter((l) => l.length > 0);
  } catch {
    return [];
  }
}

/** The first cause that will make the kernel refuse what `need` asks, or undefined. */
export function diagnose(need: Need, facts: HostFacts = readHostFacts()): Diagnosis | undefined {
  for (const c of HOST_CAUSES) {
    const why = c.check(facts, need);
    // Each host message is "what is refused; the fix": the errno name goes between.
    if (why !== undefined) return { errno: c.errno, message: why.replace(/;/, ` (${c.errno});`) };
  }
  for (const d of need.definitions) {
    const bad = binaryCause(d);
    if (bad) return bad;
  }
  return need.attach && uses(need, 'uprobe') ? refCtrCause(need.definitions, liveUprobeEvents(facts.tracefs)) : undefined;
}

/** The first error of a chain of causes that carries a Linux errno (ErrnoError, or the runtime's SysError). */
function errnoOf(err: unknown): { errno: number; message: string } | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 16; e = e.cause, depth++) {
    const errno = (e as { errno?: unknown }).errno;
    if (typeof errno === 'number') return { errno, message: e.message };
  }
  return undefined;
}

/**
 * A refusal thrown after diagnose() passed (EPERM or EACCES from a system
 * call): the host cause that explains it; else, for a process without
 * CAP_SYS_ADMIN, that (the kernel asks it for some probes, e.g. uprobe perf
 * events with kernel.perf_event_paranoid > -1, where CAP_PERFMON is not enough).
 */
export function explainRefusal(err: unknown, need: Need, facts: HostFacts = readHostFacts()): Diagnosis | undefined {
  const e = errnoOf(err);
  if (!e || (e.errno !== LINUX_ERRNO.EPERM && e.errno !== LINUX_ERRNO.EACCES)) return undefined;
  const host = diagnose({ ...need, definitions: [] }, facts);
  if (host || facts.caps.sysAdmin) return host;
  const name = errnoName(e.errno) as ErrnoName;
  const what = e.message.split('\n')[0]!.replace(/: [^:]*\((EPERM|EACCES)\)$/, '');
  return { errno: name, message: `${what}: refused to ${who(facts)} without CAP_SYS_ADMIN (${name}); run it with sudo` };
}

function readNumber(path: string): number | undefined {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** CONFIG_X=y lines of the running kernel's config, when it publishes one. */
function readKconfig(): Map<string, string> | undefined {
  let text: string | undefined;
  try {
    text = gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
  } catch {
    const release = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
    if (existsSync(`/boot/config-${release}`)) text = readFileSync(`/boot/config-${release}`, 'utf8');
  }
  if (text === undefined) return undefined;
  return new Map([...text.matchAll(/^(CONFIG_\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/** Effective capability bits from /proc/self/status (CapEff, hex). */
function effectiveCaps(): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

export function readHostFacts(): HostFacts {
  const caps = effectiveCaps();
  const has = (bit: number) => (caps >> BigInt(bit)) & 1n ? true : false;
  const lockdown = existsSync('/sys/kernel/security/lockdown') ? /\[(\w+)\]/.exec(readFileSync('/sys/kernel/security/lockdown', 'utf8'))?.[1] : undefined;
  return {
    euid: process.geteuid?.() ?? -1,
    caps: { sysAdmin: has(21), perfmon: has(38), bpf: has(39) },
    unprivilegedBpfDisabled: readNumber('/proc/sys/kernel/unprivileged_bpf_disabled'),
    perfEventParanoid: readNumber('/proc/sys/kernel/perf_event_paranoid'),
    lockdown,
    tracefs: tracefsRoot(),
    pmus: { kprobe: readPmu('kprobe') !== undefined, uprobe: readPmu('uprobe') !== undefined },
    kconfig: readKconfig(),
  };
}
