// The "kprobe_bpf" import namespace of the libbpf wasm module (the C side is
// bpf/wasm/host.c): bpf(2) through BpfBridge, and the few file, fd and process
// calls libbpf makes on its load path, as an allow-list. Fds are real kernel
// fds (libbpf puts them in instructions and attrs); the bridge only lets the
// module read, control or close fds it handed out itself, so it can never
// touch Node's own. Each call returns >= 0 or a negative wasi errno.
import { LINUX_ERRNO } from '../../lib/errno.js';
import { BpfBridge } from './bpf-bridge.js';
import { LINUX_O_CLOEXEC, toLinuxOpenFlags, toWasiErrno, toWasiOpenFlags } from './errno.js';
import { FdTable } from './fd-table.js';
import { BridgeRefusal } from './refusal.js';
import { cStringAt, inBounds } from './wasm-memory.js';
import * as libc from './libc.js';
import { LIBBPF_PRINT_LEVELS, libbpfText, type Logger } from './logger.js';

/**
 * Files libbpf reads while opening and loading an object: kernel BTF, CPU
 * lists, kallsyms (__ksym externs), kernel version and config, sysctls.
 * Read-only; anything else is refused with EACCES, and access() (libbpf
 * tests for kernel BTF and config files) answers only for these too, so the
 * module cannot probe which files exist. /proc/PID/fdinfo/FD is allowed
 * separately: this process's own fds that the module owns (fdinfoFd).
 */
const READABLE_PATHS: readonly RegExp[] = [
  /^\/sys\/kernel\/btf\/[\w.-]+$/,
  /^\/sys\/devices\/system\/cpu\/(possible|online)$/,
  /^\/proc\/kallsyms$/,
  /^\/proc\/version_signature$/,
  /^\/proc\/config\.gz$/,
  /^\/boot\/config-[\w.+-]+$/,
  /^\/proc\/sys\/kernel\/(unprivileged_bpf_disabled|perf_event_paranoid)$/,
  /^\/sys\/bus\/event_source\/devices\/(kprobe|uprobe)\/(type|format\/retprobe)$/,
];

/** fcntl commands (Linux numbers, include/uapi/asm-generic/fcntl.h) and whether they return a new fd. */
const FCNTL: Readonly<Record<number, { name: string; newFd: boolean }>> = {
  0: { name: 'F_DUPFD', newFd: true },
  1030: { name: 'F_DUPFD_CLOEXEC', newFd: true },
  1: { name: 'F_GETFD', newFd: false },
  2: { name: 'F_SETFD', newFd: false },
  3: { name: 'F_GETFL', newFd: false },
};

/** ioctls with integer arguments only (include/uapi/linux/perf_event.h). */
const IOCTLS: Readonly<Record<number, string>> = {
  0x2400: 'PERF_EVENT_IOC_ENABLE',
  0x2401: 'PERF_EVENT_IOC_DISABLE',
  0x40042408: 'PERF_EVENT_IOC_SET_BPF',
};

const MAX_PATH = 4096; // kernel: PATH_MAX

const { EACCES, EFAULT, EINVAL } = LINUX_ERRNO;

/** The fd of /proc/self/fdinfo/FD or /proc/<our pid>/fdinfo/FD (libbpf.c bpf_get_map_info_from_fdinfo), else undefined. */
function fdinfoFd(path: string): number | undefined {
  const m = /^\/proc\/(self|\d+)\/fdinfo\/(\d+)$/.exec(path);
  if (!m || (m[1] !== 'self' && Number(m[1]) !== process.pid)) return undefined;
  return Number(m[2]);
}

type HostImport = (...args: never[]) => number | bigint | void;

export class HostBridge {
  /** Fds this bridge opened or received from the kernel, still open: the only ones the module may name. */
  readonly fds = new FdTable();
  readonly bpf: BpfBridge;
  /** Refusals so far, newest last (also logged as warnings). */
  readonly refusals: BridgeRefusal[] = [];

  constructor(private readonly memory: () => WebAssembly.Memory, private log: Logger) {
    this.bpf = new BpfBridge({ memory, fds: this.fds });
  }

  private mem(): Uint8Array {
    return new Uint8Array(this.memory().buffer);
  }

  private refuse(e: unknown): number {
    if (e instanceof BridgeRefusal) {
      this.refusals.push(e);
      this.log('warn', `bridge: ${e.message}`);
      return -toWasiErrno(e.errno);
    }
    throw e;
  }

  private path(off: number, what: string): string {
    const s = off > 0 ? cStringAt(this.mem(), off, MAX_PATH) : undefined;
    if (!s) throw new BridgeRefusal('pointer-out-of-bounds', `${what}: path at 0x${off.toString(16)} is not a NUL-terminated string inside the wasm memory (at most ${MAX_PATH} bytes)`, EFAULT);
    return s.text;
  }

  /** Only paths on the read-only list, and fdinfo of our own fds that the module owns. */
  private checkPath(path: string, what: string): void {
    const fd = fdinfoFd(path);
    if (fd !== undefined ? this.fds.has(fd) : READABLE_PATHS.some((r) => r.test(path))) return;
    throw new BridgeRefusal('path-not-allowed', `${what} ${path}: not on the bridge's read-only path list`, EACCES);
  }

  private range(off: number, len: number, what: string): bigint {
    const m = this.mem();
    if (off <= 0 || !inBounds(off, len, m.length)) {
      throw new BridgeRefusal('pointer-out-of-bounds', `${what}: buffer 0x${off.toString(16)}+${len} lies outside the wasm memory (${m.length} bytes)`, EFAULT);
    }
    return libc.addressOf(m) + BigInt(off);
  }

  private sysResult(r: number | bigint): number {
    const n = Number(r);
    return n < 0 ? -toWasiErrno(libc.lastErrno()) : n;
  }

  /** Hands the bridge to a new user (instances are reused between objects). */
  reset(log: Logger): void {
    this.log = log;
    this.refusals.length = 0;
    this.bpf.progLoads.length = 0;
  }

  /** Closes every fd still owned (after bpf_object__close, normally none). Returns how many. */
  closeAll(): number {
    return this.fds.closeAll();
  }

  /** A host call whose refusals become -errno (wasi numbering) for libbpf. */
  private guard<A extends unknown[]>(fn: (...args: A) => number): (...args: A) => number {
    return (...args: A): number => {
      try {
        return fn(...args);
      } catch (e) {
        return this.refuse(e);
      }
    };
  }

  /** The "kprobe_bpf" import namespace (bpf/wasm/host.c). */
  imports(): Record<string, HostImport> {
    return { ...this.syscallImports(), ...this.fileImports(), ...this.fdImports(), ...this.processImports() };
  }

  private syscallImports(): Record<string, HostImport> {
    return {
      bpf: this.guard((cmd: number, attr: number, size: number) => {
        const r = this.bpf.call(cmd, attr, size >>> 0);
        return r < 0 ? -toWasiErrno(-r) : r;
      }),
    };
  }

  /** open and access: paths on the allow-list only. */
  private fileImports(): Record<string, HostImport> {
    return {
      open: this.guard((pathOff: number, wasiFlags: number, mode: number) => {
        const path = this.path(pathOff, 'open');
        let flags: number;
        try {
          flags = toLinuxOpenFlags(wasiFlags);
        } catch (e) {
          throw new BridgeRefusal('pointer-not-allowed', `open ${path}: ${(e as Error).message}`, EINVAL);
        }
        if ((flags & 3) !== 0) throw new BridgeRefusal('path-not-allowed', `open ${path} (flags 0x${flags.toString(16)}): the bridge opens files read-only`, EACCES);
        this.checkPath(path, 'open');
        const fd = libc.open(path, flags | LINUX_O_CLOEXEC, mode);
        this.log('debug', `bridge: open ${path} = ${fd}`);
        this.fds.add(fd);
        return this.sysResult(fd);
      }),
      access: this.guard((pathOff: number, mode: number) => {
        const path = this.path(pathOff, 'access');
        this.checkPath(path, 'access');
        return this.sysResult(libc.access(path, mode));
      }),
    };
  }

  /** Calls on fds: only the module's own. */
  private fdImports(): Record<string, HostImport> {
    return {
      close: this.guard((fd: number) => {
        this.fds.check(fd, 'close');
        this.fds.delete(fd);
        return this.sysResult(libc.close(fd));
      }),
      read: this.guard((fd: number, buf: number, n: number) => {
        this.fds.check(fd, 'read');
        return this.sysResult(libc.read(fd, this.range(buf, n >>> 0, 'read'), n >>> 0));
      }),
      pread: this.guard((fd: number, buf: number, n: number, off: bigint) => {
        this.fds.check(fd, 'pread');
        return this.sysResult(libc.pread(fd, this.range(buf, n >>> 0, 'pread'), n >>> 0, off));
      }),
      lseek: (fd: number, off: bigint, whence: number): bigint => {
        try {
          this.fds.check(fd, 'lseek');
          const r = BigInt(libc.lseek(fd, off, whence));
          return r < 0n ? BigInt(-toWasiErrno(libc.lastErrno())) : r;
        } catch (e) {
          return BigInt(this.refuse(e));
        }
      },
      ioctl: this.guard((fd: number, req: number, arg: number) => {
        this.fds.check(fd, 'ioctl');
        const name = IOCTLS[req >>> 0];
        if (!name) throw new BridgeRefusal('pointer-not-allowed', `ioctl 0x${(req >>> 0).toString(16)} on fd ${fd} is not on the bridge's allow-list`, EINVAL);
        return this.sysResult(libc.ioctl(fd, req >>> 0, arg >>> 0));
      }),
      fcntl: this.guard((fd: number, cmd: number, arg: number) => {
        this.fds.check(fd, 'fcntl');
        const c = FCNTL[cmd];
        if (!c) throw new BridgeRefusal('pointer-not-allowed', `fcntl command ${cmd} is not on the bridge's allow-list`, EINVAL);
        // F_SETFD: keep close-on-exec whatever is asked (FD_CLOEXEC = 1).
        const r = libc.fcntl(fd, cmd, cmd === 2 ? arg | 1 : arg);
        if (r >= 0 && c.newFd) this.fds.add(r);
        if (r >= 0 && cmd === 3) return toWasiOpenFlags(r);
        return this.sysResult(r);
      }),
      dup3: this.guard((fd: number, newFd: number, flags: number) => {
        this.fds.check(fd, 'dup3');
        this.fds.check(newFd, 'dup3 (target)');
        return this.sysResult(libc.dup3(fd, newFd, flags | LINUX_O_CLOEXEC));
      }),
    };
  }

  /** uname, ids and libbpf's log messages. */
  private processImports(): Record<string, HostImport> {
    return {
      uname: this.guard((buf: number, size: number) => {
        this.range(buf, Math.min(size, libc.UTSNAME_SIZE), 'uname');
        const tmp = new Uint8Array(libc.UTSNAME_SIZE);
        const r = libc.uname(tmp);
        if (r < 0) return this.sysResult(r);
        this.mem().set(tmp.subarray(0, Math.min(size, libc.UTSNAME_SIZE)), buf);
        return 0;
      }),
      getpid: () => libc.getpid(),
      geteuid: () => libc.geteuid(),
      log: (level: number, msg: number, len: number) => {
        const m = this.mem();
        if (!inBounds(msg, len, m.length)) return;
        this.log(LIBBPF_PRINT_LEVELS[level] ?? 'debug', libbpfText(Buffer.from(m.subarray(msg, msg + len)).toString('utf8')));
      },
    };
  }
}
