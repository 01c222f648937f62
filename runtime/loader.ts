// Loads BPF ELF objects with libbpf itself, compiled to WebAssembly
// (bpf/wasm/, mk/wasm.mk), its kernel calls made through the allow-listed
// bridge (runtime/bridge/). One wasm instance per object: open from bytes,
// list programs and maps, load (maps created, relocations incl. CO-RE and
// __ksym externs resolved, programs through the verifier), read fds and
// verifier logs, close everything.
import { objectInfo } from './bridge/bpf-bridge.js';
import { linuxErrnoName, toLinuxErrno } from './bridge/errno.js';
import { stderrLogger, type Logger, type LogLevel } from './bridge/logger.js';
import { acquireLibbpf, releaseLibbpf, type LibbpfInstance } from './bridge/module.js';

export interface ProgramInfo {
  name: string;
  /** ELF section, e.g. "kprobe/do_sys_open" */
  section: string;
  /** enum bpf_prog_type */
  type: number;
  /** instructions in the object (before the verifier) */
  insns: number;
  autoload: boolean;
}

export interface MapInfo {
  name: string;
  /** enum bpf_map_type */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

export interface LoadedProgram extends ProgramInfo {
  /** kernel fd, or -1 if not loaded */
  fd: number;
  loaded: boolean;
  /** instructions the verifier processed (bpf_prog_info.verified_insns, or the log's "processed N insns") */
  verifiedInsns: number | undefined;
  /** time of its BPF_PROG_LOAD call(s), including verification */
  loadNs: bigint | undefined;
  /** verifier log, filled when the kernel rejected the program */
  log: string;
  /** Linux errno of the rejection */
  errno: number;
}

export interface LoadedMap extends MapInfo {
  fd: number;
}

export interface LoadResult {
  ok: boolean;
  /** Linux errno when !ok */
  errno: number;
  /** libbpf's own account of the failure (its warnings), when !ok */
  error: string;
  programs: LoadedProgram[];
  maps: LoadedMap[];
  /** wall time of bpf_object__load */
  totalNs: bigint;
}

export interface OpenOptions {
  /** object name (default: "obj") */
  name?: string;
  /** receives libbpf's messages and the bridge's refusals (default: warnings to stderr) */
  logger?: Logger;
  /** extra CONFIG_* values for __kconfig externs, as libbpf's kconfig option */
  kconfig?: string;
  /** BTF file used instead of /sys/kernel/btf/vmlinux for CO-RE */
  btfCustomPath?: string;
  /** bytes of verifier log kept for a rejected program (default 4 MiB; the kernel keeps the tail) */
  logSize?: number;
}

export class LoaderError extends Error {
  constructor(message: string, readonly errno: number) {
    super(message);
    this.name = 'LoaderError';
  }
}

/** BPF_OBJ_NAME_LEN - 1: the kernel keeps 15 characters of a program's name. */
const KERNEL_NAME_CHARS = 15;

export class BpfObject {
  private obj: number;
  private logBuf = 0;
  private readonly logSize: number;
  private readonly warnings: string[] = [];
  private closed = false;
  /** Fds the bridge still held (and closed) after libbpf's close: should be 0. */
  leakedFds = 0;

  private constructor(private readonly inst: LibbpfInstance, obj: number, logSize: number, warnings: string[]) {
    this.obj = obj;
    this.logSize = logSize;
    this.warnings = warnings;
  }

  /** Opens an ELF object from its bytes (bpf_object__open_mem). Throws LoaderError. */
  static open(bytes: Uint8Array, opts: OpenOptions = {}): BpfObject {
    const warnings: string[] = [];
    const userLog = opts.logger ?? stderrLogger;
    const logger: Logger = (level: LogLevel, msg: string) => {
      if (level === 'warn') warnings.push(msg.replace(/\n$/, ''));
      userLog(level, msg);
    };
    const inst = acquireLibbpf(logger);
    const x = inst.exports;
    const strings: number[] = [];
    const put = (s: string | undefined): number => {
      if (s === undefined) return 0;
      const b = Buffer.from(s + '\0', 'utf8');
      const p = x.malloc(b.length);
      new Uint8Array(inst.memory().buffer).set(b, p);
      strings.push(p);
      return p;
    };
    const buf = x.malloc(bytes.length);
    new Uint8Array(inst.memory().buffer).set(bytes, buf);
    const obj = x.kb_open_mem(buf, bytes.length, put(opts.name ?? 'obj'), put(opts.kconfig), put(opts.btfCustomPath));
    // libbpf copies the ELF image; our buffer and strings can go.
    x.free(buf);
    if (!obj) {
      const wasiErrno = x.kb_errno();
      const errno = toLinuxErrno(wasiErrno);
      const text = libbpfStrerror(inst, wasiErrno);
      for (const p of strings) x.free(p);
      inst.host.closeAll();
      releaseLibbpf(inst);
      throw new LoaderError(`cannot open BPF object${opts.name ? ` ${opts.name}` : ''}: ${text} (${linuxErrnoName(errno)})${warnings.length ? `\n${warnings.join('\n')}` : ''}`, errno);
    }
    const o = new BpfObject(inst, obj, opts.logSize ?? 4 << 20, warnings);
    o.pendingStrings = strings;
    return o;
  }

  private pendingStrings: number[] = [];

  private str(p: number): string {
    if (!p) return '';
    const m = new Uint8Array(this.inst.memory().buffer);
    const end = m.indexOf(0, p);
    return Buffer.from(m.subarray(p, end < 0 ? m.length : end)).toString('utf8');
  }

  private live(): void {
    if (this.closed) throw new Error('BpfObject used after close()');
  }

  private progHandles(): number[] {
    const out: number[] = [];
    for (let p = this.inst.exports.bpf_object__next_program(this.obj, 0); p; p = this.inst.exports.bpf_object__next_program(this.obj, p)) out.push(p);
    return out;
  }

  private mapHandles(): number[] {
    const out: number[] = [];
    for (let m = this.inst.exports.bpf_object__next_map(this.obj, 0); m; m = this.inst.exports.bpf_object__next_map(this.obj, m)) out.push(m);
    return out;
  }

  private programInfo(p: number): ProgramInfo {
    const x = this.inst.exports;
    return {
      name: this.str(x.bpf_program__name(p)),
      section: this.str(x.bpf_program__section_name(p)),
      type: x.bpf_program__type(p),
      insns: x.bpf_program__insn_cnt(p),
      autoload: x.bpf_program__autoload(p) !== 0,
    };
  }

  private mapInfo(m: number): MapInfo {
    const x = this.inst.exports;
    return {
      name: this.str(x.bpf_map__name(m)),
      type: x.bpf_map__type(m),
      keySize: x.bpf_map__key_size(m),
      valueSize: x.bpf_map__value_size(m),
      maxEntries: x.bpf_map__max_entries(m),
      flags: x.bpf_map__map_flags(m),
    };
  }

  get name(): string {
    this.live();
    return this.str(this.inst.exports.bpf_object__name(this.obj));
  }

  programs(): ProgramInfo[] {
    this.live();
    return this.progHandles().map((p) => this.programInfo(p));
  }

  maps(): MapInfo[] {
    this.live();
    return this.mapHandles().map((m) => this.mapInfo(m));
  }

  /** Leaves a program out of load() (bpf_program__set_autoload). */
  setAutoload(program: string, on: boolean): void {
    this.live();
    const p = this.progHandles().find((h) => this.str(this.inst.exports.bpf_program__name(h)) === program);
    if (!p) throw new Error(`no program '${program}' in ${this.name}`);
    this.inst.exports.bpf_program__set_autoload(p, on ? 1 : 0);
  }

  /** bpf_object__load. Does not throw on a verifier rejection: see LoadResult. */
  load(): LoadResult {
    this.live();
    const x = this.inst.exports;
    if (!this.logBuf) this.logBuf = x.malloc(this.logSize);
    const progs = this.progHandles();
    for (const p of progs) x.bpf_program__set_log_buf(p, this.logBuf, this.logSize);
    new Uint8Array(this.inst.memory().buffer)[this.logBuf] = 0;
    this.warnings.length = 0;
    const loadsBefore = this.inst.host.bpf.progLoads.length;
    const t0 = process.hrtime.bigint();
    const r = x.bpf_object__load(this.obj);
    const totalNs = process.hrtime.bigint() - t0;
    const errno = r < 0 ? toLinuxErrno(-r) : 0;
    const loads = this.inst.host.bpf.progLoads.slice(loadsBefore);

    const infos = progs.map((p) => ({ handle: p, info: this.programInfo(p) }));
    // The program libbpf was loading when it failed: the last rejected
    // BPF_PROG_LOAD under one of our names (feature probes use other names).
    const kname = (n: string) => n.slice(0, KERNEL_NAME_CHARS);
    const lastFail = r < 0 ? [...loads].reverse().find((l) => l.fd < 0 && infos.some((i) => kname(i.info.name) === l.name)) : undefined;
    const log = r < 0 ? this.str(this.logBuf) : '';

    const programs: LoadedProgram[] = infos.map(({ handle, info }) => {
      // libbpf answers -errno (wasi numbering) for a program without fd
      const fd = Math.max(x.bpf_program__fd(handle), -1);
      const mine = loads.filter((l) => l.name === kname(info.name));
      const ok = mine.find((l) => l.fd >= 0 && l.fd === fd);
      const rejected = lastFail !== undefined && lastFail.name === kname(info.name);
      const verified = fd >= 0 ? objectInfo(fd, 'bpf_prog_info')?.verified_insns : rejected ? processedFromLog(log) : undefined;
      return {
        ...info,
        fd,
        loaded: fd >= 0,
        verifiedInsns: verified,
        loadNs: ok ? ok.ns : rejected ? mine.reduce((s, l) => s + l.ns, 0n) : undefined,
        log: rejected ? log : '',
        errno: rejected ? lastFail.errno : 0,
      };
    });
    const maps = this.mapHandles().map((m) => ({ ...this.mapInfo(m), fd: Math.max(x.bpf_map__fd(m), -1) }));
    return {
      ok: r >= 0,
      errno,
      error: r < 0 ? this.warnings.filter((w) => !/BEGIN PROG LOAD LOG|END PROG LOAD LOG/.test(w)).join('\n') || linuxErrnoName(errno) : '',
      programs,
      maps,
      totalNs,
    };
  }

  /** bpf_object__close, then any fd the bridge still holds is closed too. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const x = this.inst.exports;
    x.bpf_object__close(this.obj);
    if (this.logBuf) x.free(this.logBuf);
    for (const p of this.pendingStrings) x.free(p);
    this.leakedFds = this.inst.host.closeAll();
    this.refusalsAtClose = [...this.inst.host.refusals];
    this.obj = 0;
    releaseLibbpf(this.inst);
  }

  private refusalsAtClose: readonly Error[] | undefined;

  /** Bridge refusals seen by this object (each also logged as a warning). */
  get refusals(): readonly Error[] {
    return this.refusalsAtClose ?? [...this.inst.host.refusals];
  }
}

/**
 * libbpf's text for an error it returned (wasi errno, or its own
 * LIBBPF_ERRNO__* codes from 4000 up, e.g. "Invalid ELF format").
 */
function libbpfStrerror(inst: LibbpfInstance, wasiErrno: number): string {
  const x = inst.exports;
  const buf = x.malloc(256);
  try {
    x.libbpf_strerror(wasiErrno, buf, 256);
    const m = new Uint8Array(inst.memory().buffer);
    const end = m.indexOf(0, buf);
    return Buffer.from(m.subarray(buf, end)).toString('utf8');
  } finally {
    x.free(buf);
  }
}

/** "processed N insns" from a verifier log (kernel: print_verification_stats()). */
export function processedFromLog(log: string): number | undefined {
  const m = /processed (\d+) insns/.exec(log);
  return m ? Number(m[1]) : undefined;
}

/** One program's verdict from checkObject. */
export interface ProgramVerdict {
  program: LoadedProgram;
  /** Linux errno name of the rejection, or '' */
  error: string;
}

/**
 * Loads every program of an object and reports each one's verdict. libbpf
 * stops at the first rejected program and unloads the rest, so after a
 * rejection the object is opened again with the rejected programs left out,
 * until every program has passed or failed. Nothing stays loaded.
 */
export function checkObject(bytes: Uint8Array, opts: OpenOptions = {}): { verdicts: ProgramVerdict[]; error: string } {
  const decided = new Map<string, ProgramVerdict>();
  let error = '';
  let names: string[] = [];
  for (;;) {
    const obj = BpfObject.open(bytes, opts);
    try {
      names = obj.programs().map((p) => p.name);
      for (const n of names) if (decided.has(n)) obj.setAutoload(n, false);
      const r = obj.load();
      const rejected = r.programs.find((p) => !decided.has(p.name) && p.log !== '');
      for (const p of r.programs) {
        if (decided.has(p.name) || !p.autoload) continue;
        if (r.ok) decided.set(p.name, { program: p, error: '' });
        else if (p === rejected) decided.set(p.name, { program: p, error: linuxErrnoName(p.errno || r.errno) });
      }
      if (r.ok || names.every((n) => decided.has(n))) break;
      if (!rejected) {
        // A failure before any program reached the verifier (maps, BTF,
        // relocations, externs): every program left is reported with it.
        error = r.error;
        for (const p of r.programs) if (!decided.has(p.name)) decided.set(p.name, { program: p, error: linuxErrnoName(r.errno) });
        break;
      }
    } finally {
      obj.close();
    }
  }
  return { verdicts: names.map((n) => decided.get(n)).filter((v): v is ProgramVerdict => v !== undefined), error };
}
