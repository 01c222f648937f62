// Loads BPF ELF objects with libbpf itself, compiled to WebAssembly
// (bpf/wasm/, mk/wasm.mk), its kernel calls made through the allow-listed
// bridge (runtime/bridge/). One wasm instance per object: open from bytes,
// list programs and maps, load (maps created, relocations incl. CO-RE and
// __ksym externs resolved, programs through the verifier), read fds and
// verifier logs, close everything.
import { errnoName } from '../lib/errno.js';
import { crashWhere } from './bridge/crash-report.js';
import { toLinuxErrno } from './bridge/errno.js';
import { callLibbpf, DEFAULT_TIME_LIMIT_MS, LoaderError, type LibbpfPhase } from './bridge/libbpf-call.js';
import { stderrLogger, type Logger, type LogLevel } from './bridge/logger.js';
import { acquireLibbpf, discardLibbpf, forgetLibbpf, releaseLibbpf, type LibbpfInstance } from './bridge/module.js';
import type { FdTable } from './bridge/fd-table.js';
import type { ProgLoadRecord } from './bridge/bpf-bridge.js';
import { enumValue } from './bridge/uapi.js';
import { objectInfo } from './bridge/object-info.js';
import { cString } from './bridge/wasm-memory.js';
import { mark } from '../lib/timing.js';

export { LibbpfCrashError, LibbpfTimeoutError, LoaderError } from './bridge/libbpf-call.js';

/** A program as libbpf reads it from the object, before loading. */
export interface LibbpfProgram {
  /** libbpf's name for it (the ELF symbol): unique within the object */
  name: string;
  /** ELF section, e.g. "kprobe/do_sys_open" */
  section: string;
  /** enum bpf_prog_type */
  type: number;
  /** instructions in the object (before the verifier) */
  insns: number;
  autoload: boolean;
}

/** A map as libbpf reads it from the object, before creating it. */
export interface LibbpfMap {
  name: string;
  /** enum bpf_map_type */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

export interface LoadedProgram extends LibbpfProgram {
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
  /** Loaded with expected_attach_type BPF_TRACE_UPROBE_MULTI (LoadOptions.uprobeMulti): attach it through a uprobe_multi link. */
  uprobeMulti: boolean;
}

export interface LoadOptions {
  /**
   * Load the uprobe programs (sections uprobe*, uretprobe*) for a
   * uprobe_multi link (BPF_TRACE_UPROBE_MULTI). Ask the kernel first
   * (attach/uprobe-multi.ts): an older one may load them and refuse the link.
   */
  uprobeMulti?: boolean;
}

export interface LoadedMap extends LibbpfMap {
  fd: number;
}

/** What bpf_object__load produced: every program and map with its fd. */
export interface LoadedObject {
  programs: LoadedProgram[];
  maps: LoadedMap[];
  /** wall time of bpf_object__load */
  totalNs: bigint;
}

/** The kernel's verifier refused a program; libbpf's own account is the cause. */
export class VerifierError extends LoaderError {
  constructor(readonly program: LoadedProgram, readonly log: string, options?: { cause?: unknown }) {
    super(`program ${program.name} (${program.section}) rejected by the verifier (${errnoName(program.errno)})`, program.errno, options);
  }
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
  /** time limits (ms) on libbpf's open and load (default DEFAULT_TIME_LIMIT_MS) */
  timeLimitMs?: Partial<Record<LibbpfPhase, number>>;
}

/** What the loader's own logger keeps of libbpf's messages. */
class LibbpfLog {
  readonly warnings: string[] = [];
  last: string | undefined;

  constructor(private readonly user: Logger) {}

  readonly logger: Logger = (level: LogLevel, msg: string) => {
    const line = msg.replace(/\n$/, '');
    this.last = line.replace(/^libbpf: /, '');
    if (level === 'warn') this.warnings.push(line);
    this.user(level, msg);
  };
}

export class BpfObject {
  private obj: number;
  private logBuf = 0;
  private closed = false;
  /** Set when libbpf trapped or was stopped: the instance is gone, only close() is left. */
  private broken = false;
  private refusalsAtClose: readonly Error[] | undefined;
  /** Fds the bridge still held (and closed) after libbpf's close: should be 0. */
  leakedFds = 0;
  /** libbpf's instance, until dropLibbpf() hands the object's fds to `kept`. */
  private instance: LibbpfInstance | undefined;
  /** After dropLibbpf(): the loaded object's fds, closed by close(). */
  private kept: FdTable | undefined;

  private constructor(inst: LibbpfInstance, obj: number, private readonly opts: OpenOptions, private readonly libbpfLog: LibbpfLog, private readonly strings: number[]) {
    this.instance = inst;
    this.obj = obj;
  }

  private get inst(): LibbpfInstance {
    if (!this.instance) throw new Error('BpfObject used after dropLibbpf(): only close() is left');
    return this.instance;
  }

  /** Opens an ELF object from its bytes (bpf_object__open_mem). Throws LoaderError (LibbpfCrashError, LibbpfTimeoutError). */
  static open(bytes: Uint8Array, opts: OpenOptions = {}): BpfObject {
    const log = new LibbpfLog(opts.logger ?? stderrLogger);
    const inst = acquireLibbpf(log.logger);
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
    const what = `cannot open BPF object${opts.name ? ` ${opts.name}` : ''}`;
    let obj: number;
    try {
      const buf = x.malloc(bytes.length);
      new Uint8Array(inst.memory().buffer).set(bytes, buf);
      const limit = opts.timeLimitMs?.open ?? DEFAULT_TIME_LIMIT_MS.open;
      obj = callLibbpf(() => x.kb_open_mem(buf, bytes.length, put(opts.name ?? 'obj'), put(opts.kconfig), put(opts.btfCustomPath)), limit,
        (happened) => `${what}: libbpf ${happened} ${crashWhere('open', bytes, log.last)}`);
      // libbpf copies the ELF image; our buffer can go.
      x.free(buf);
    } catch (e) {
      inst.host.closeAll();
      discardLibbpf(inst);
      throw e;
    }
    if (!obj) {
      const wasiErrno = x.kb_errno();
      const errno = toLinuxErrno(wasiErrno);
      const text = libbpfStrerror(inst, wasiErrno);
      for (const p of strings) x.free(p);
      inst.host.closeAll();
      releaseLibbpf(inst);
      // one line: libbpf's warnings say what it found wrong
      throw new LoaderError(`${what}: ${text} (${errnoName(errno)})${log.warnings.length ? `: ${log.warnings.map((w) => w.replace(/^libbpf: /, '').replace(/\.$/, '')).join('; ')}` : ''}`, errno);
    }
    mark('libbpf open');
    return new BpfObject(inst, obj, opts, log, strings);
  }

  private str(p: number): string {
    return cString(new Uint8Array(this.inst.memory().buffer), p);
  }

  private live(): void {
    if (this.closed) throw new Error('BpfObject used after close()');
    if (this.kept) throw new Error('BpfObject used after dropLibbpf(): only close() is left');
    if (this.broken) throw new Error('BpfObject used after libbpf crashed or was stopped');
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

  private libbpfProgram(p: number): LibbpfProgram {
    const x = this.inst.exports;
    return {
      name: this.str(x.bpf_program__name(p)),
      section: this.str(x.bpf_program__section_name(p)),
      type: x.bpf_program__type(p),
      insns: x.bpf_program__insn_cnt(p),
      autoload: x.bpf_program__autoload(p) !== 0,
    };
  }

  private libbpfMap(m: number): LibbpfMap {
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

  programs(): LibbpfProgram[] {
    this.live();
    return this.progHandles().map((p) => this.libbpfProgram(p));
  }

  maps(): LibbpfMap[] {
    this.live();
    return this.mapHandles().map((m) => this.libbpfMap(m));
  }

  /** Leaves a program out of load() (bpf_program__set_autoload). */
  setAutoload(program: string, on: boolean): void {
    this.live();
    const p = this.progHandles().find((h) => this.str(this.inst.exports.bpf_program__name(h)) === program);
    if (!p) throw new Error(`no program '${program}' in ${this.name}`);
    this.inst.exports.bpf_program__set_autoload(p, on ? 1 : 0);
  }

  /**
   * bpf_object__load. Throws VerifierError when the kernel rejected a
   * program, LoaderError for any other failure (maps, BTF, relocations,
   * a bridge refusal), LibbpfCrashError / LibbpfTimeoutError when libbpf
   * trapped or ran past its time limit.
   */
  load(opts: LoadOptions = {}): LoadedObject {
    this.live();
    const progs = this.progHandles();
    const logSize = this.prepareLogBuffers(progs);
    this.libbpfLog.warnings.length = 0;
    const loadsBefore = this.inst.host.bpf.progLoads.length;
    const t0 = process.hrtime.bigint();
    const multi = opts.uprobeMulti ? this.setUprobeMulti(progs) : new Set<number>();
    const r = this.runLoad();
    const totalNs = process.hrtime.bigint() - t0;
    const loads = this.inst.host.bpf.progLoads.slice(loadsBefore);
    const programs = progs.map((p, i) => this.loadedProgram(p, this.logBuf + i, logSize, loads, r < 0, multi.has(p)));
    if (r < 0) throw this.loadFailure(programs, toLinuxErrno(-r));
    mark('libbpf load');
    const x = this.inst.exports;
    const maps = this.mapHandles().map((m) => ({ ...this.libbpfMap(m), fd: Math.max(x.bpf_map__fd(m), -1) }));
    return { programs, maps, totalNs };
  }

  /**
   * Gives the uprobe programs expected_attach_type BPF_TRACE_UPROBE_MULTI
   * (libbpf 1.1 knows no `uprobe.multi` section, so their own is 0); returns
   * their handles.
   */
  private setUprobeMulti(progs: number[]): Set<number> {
    const x = this.inst.exports;
    const type = enumValue('bpf_attach_type', 'BPF_TRACE_UPROBE_MULTI');
    const multi = new Set(progs.filter((p) => /^u(ret)?probe(\.s)?\//.test(this.str(x.bpf_program__section_name(p)))));
    for (const p of multi) x.bpf_program__set_expected_attach_type(p, type);
    return multi;
  }

  /**
   * One verifier log buffer for all programs, but each program's log_buf
   * pointer one byte further into it: the pointer a BPF_PROG_LOAD carries
   * then says which program of the object it was (libbpf's retry of a
   * rejected load passes it), whatever the programs' names.
   */
  private prepareLogBuffers(progs: number[]): number {
    const x = this.inst.exports;
    const logSize = this.opts.logSize ?? 4 << 20;
    if (this.logBuf) x.free(this.logBuf);
    this.logBuf = x.malloc(logSize + progs.length);
    progs.forEach((p, i) => x.bpf_program__set_log_buf(p, this.logBuf + i, logSize));
    new Uint8Array(this.inst.memory().buffer).fill(0, this.logBuf, this.logBuf + progs.length + 1);
    return logSize;
  }

  private runLoad(): number {
    const limit = this.opts.timeLimitMs?.load ?? DEFAULT_TIME_LIMIT_MS.load;
    try {
      return callLibbpf(() => this.inst.exports.bpf_object__load(this.obj), limit,
        (happened) => `loading BPF object ${this.opts.name ?? 'obj'}: libbpf ${happened} ${crashWhere('load', new Uint8Array(0), this.libbpfLog.last)}`);
    } catch (e) {
      // The instance stopped mid-call: its state is lost, its fds are closed here.
      this.broken = true;
      this.leakedFds = this.inst.host.closeAll();
      throw e;
    }
  }

  /** A program's outcome, matched to its BPF_PROG_LOAD calls by fd (loaded) or by its own log buffer (rejected). */
  private loadedProgram(handle: number, logBuf: number, logSize: number, loads: readonly ProgLoadRecord[], failed: boolean, uprobeMulti: boolean): LoadedProgram {
    const x = this.inst.exports;
    const info = this.libbpfProgram(handle);
    // libbpf answers -errno (wasi numbering) for a program without fd
    const fd = Math.max(x.bpf_program__fd(handle), -1);
    // the last load that returned this fd: libbpf's feature probes before it may have had the same number
    const ok = fd >= 0 ? [...loads].reverse().find((l) => l.fd === fd) : undefined;
    let lastTry = -1;
    if (failed) for (let i = loads.length - 1; i >= 0 && lastTry < 0; i--) if (loads[i]!.fd < 0 && loads[i]!.logBuf === logBuf) lastTry = i;
    const rejected = lastTry >= 0 ? loads[lastTry]! : undefined;
    // libbpf's first attempt carries no log buffer; its retry for the log does
    const firstTry = rejected && lastTry > 0 && loads[lastTry - 1]!.fd < 0 && loads[lastTry - 1]!.logBuf === 0 && loads[lastTry - 1]!.name === rejected.name ? loads[lastTry - 1]! : undefined;
    const log = rejected ? cString(new Uint8Array(this.inst.memory().buffer).subarray(0, logBuf + logSize), logBuf) : '';
    return {
      ...info,
      fd,
      loaded: fd >= 0,
      verifiedInsns: fd >= 0 ? objectInfo(fd, 'bpf_prog_info')?.verified_insns : rejected ? processedFromLog(log) : undefined,
      loadNs: ok ? ok.ns : rejected ? rejected.ns + (firstTry?.ns ?? 0n) : undefined,
      log,
      errno: rejected?.errno ?? 0,
      uprobeMulti: uprobeMulti && fd >= 0,
    };
  }

  /** The error a failed load throws: the rejected program's, else libbpf's account. */
  private loadFailure(programs: LoadedProgram[], errno: number): LoaderError {
    const account = this.libbpfLog.warnings.filter((w) => !/BEGIN PROG LOAD LOG|END PROG LOAD LOG/.test(w)).join('\n') || errnoName(errno);
    const cause = new LoaderError(account, errno);
    const rejected = programs.find((p) => p.errno !== 0);
    if (rejected) return new VerifierError(rejected, rejected.log, { cause });
    return cause;
  }

  /**
   * Keeps the loaded object's fds (maps, programs: closed by close()) and
   * lets go of libbpf: its wasm instance and memory, and the compiled module
   * with every pooled instance, so a garbage collection returns their pages
   * (0.8 MiB of a 200k-event trace's peak RSS, issue 13). For a trace that has loaded
   * its programs and needs nothing more of libbpf; a later object compiles
   * the module again (a few ms: Liftoff compiles lazily). What libbpf itself
   * kept of the object (BTF, ELF image, relocations) is not freed one by
   * one: it goes with the instance's memory.
   */
  dropLibbpf(): void {
    this.live();
    const inst = this.inst;
    this.refusalsAtClose = [...inst.host.refusals];
    this.kept = inst.host.fds;
    this.instance = undefined;
    this.obj = 0;
    discardLibbpf(inst);
    forgetLibbpf();
  }

  /** bpf_object__close, then any fd the bridge still holds is closed too. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.kept) {
      // libbpf is gone (dropLibbpf): its object's fds are ours to close, and none of them leaked
      this.kept.closeAll();
      return;
    }
    this.refusalsAtClose = [...this.inst.host.refusals];
    if (this.broken) {
      discardLibbpf(this.inst);
      return;
    }
    const x = this.inst.exports;
    x.bpf_object__close(this.obj);
    if (this.logBuf) x.free(this.logBuf);
    for (const p of this.strings) x.free(p);
    this.leakedFds = this.inst.host.closeAll();
    this.obj = 0;
    releaseLibbpf(this.inst);
  }

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
    return cString(new Uint8Array(inst.memory().buffer), buf);
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

/** A program that never reached the kernel, as checkObject reports it. */
const notLoaded = (p: LibbpfProgram): LoadedProgram => ({ ...p, fd: -1, loaded: false, verifiedInsns: undefined, loadNs: undefined, log: '', errno: 0, uprobeMulti: false });

/**
 * Loads every program of an object and reports each one's verdict. libbpf
 * stops at the first rejected program and unloads the rest, so after a
 * rejection the object is opened again with the rejected programs left out,
 * until every program has passed or failed (at most one round per program).
 * Programs are told apart by libbpf's own name for them (the ELF symbol),
 * not the 15 characters the kernel keeps. Nothing stays loaded.
 */
export function checkObject(bytes: Uint8Array, opts: OpenOptions = {}): { verdicts: ProgramVerdict[]; error: string } {
  const decided = new Map<string, ProgramVerdict>();
  let error = '';
  let names: string[] = [];
  for (let round = 0; round === 0 || round <= names.length; round++) {
    const obj = BpfObject.open(bytes, opts);
    try {
      const listed = obj.programs();
      names = listed.map((p) => p.name);
      for (const n of names) if (decided.has(n)) obj.setAutoload(n, false);
      if (!listed.some((p) => p.autoload && !decided.has(p.name))) break;
      const outcome = loadOnce(obj);
      if (outcome instanceof VerifierError) {
        if (decided.has(outcome.program.name)) break;
        decided.set(outcome.program.name, { program: outcome.program, error: errnoName(outcome.errno) });
        continue;
      }
      if (outcome instanceof LoaderError) {
        // A failure before any program reached the verifier (maps, BTF,
        // relocations, externs): every program left is reported with it.
        error = outcome.message;
        for (const p of listed) if (!decided.has(p.name) && p.autoload) decided.set(p.name, { program: notLoaded(p), error: errnoName(outcome.errno) });
        break;
      }
      for (const p of outcome.programs) if (!decided.has(p.name) && p.autoload) decided.set(p.name, { program: p, error: '' });
      break;
    } finally {
      obj.close();
    }
  }
  return { verdicts: names.map((n) => decided.get(n)).filter((v): v is ProgramVerdict => v !== undefined), error };
}

/** One load: the loaded object, or the LoaderError it threw (crashes and timeouts are rethrown). */
function loadOnce(obj: BpfObject): LoadedObject | LoaderError {
  try {
    return obj.load();
  } catch (e) {
    if (e instanceof VerifierError || (e instanceof LoaderError && e.constructor === LoaderError)) return e;
    throw e;
  }
}
