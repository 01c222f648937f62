// The "kprobe_bpf" import namespace of the libbpf wasm module (the C side is
// bpf/wasm/host.c): bpf(2) through BpfBridge, and the few file, fd and process
// calls libbpf makes on its load path, as an allow-list. Fds are real kernel
// fds (libbpf puts them in instructions and attrs); the bridge only lets the
// module read, control or close fds it handed out itself, so it can never
// touch Node's own. Each call returns >= 0 or a negative wasi errno.
import { BpfBridge, BridgeRefusal } from './bpf-bridge.js';
import { LINUX_EACCES, LINUX_EBADF, LINUX_EFAULT, LINUX_EINVAL, LINUX_O_CLOEXEC, toLinuxOpenFlags, toWasiErrno, toWasiOpenFlags } from './errno.js';
import * as libc from './libc.js';
import { LIBBPF_PRINT_LEVELS, libbpfText, type Logger } from './logger.js';

/**
 * Files libbpf reads while opening and loading an object: kernel BTF, CPU
 * lists, kallsyms (__ksym externs), kernel version and config, sysctls.
 * Read-only; anything else is refused with EACCES.
 */
const READABLE_PATHS: readonly RegExp[] = [
  /^\/sys\/kernel\/btf\/[\w.-]+$/,
  /^\/sys\/devices\/system\/cpu\/(possible|online)$/,
  /^\/proc\/kallsyms$/,
  /^\/proc\/version_signature$/,
  /^\/proc\/config\.gz$/,
  /^\/boot\/config-[\w.+-]+$/,
  /^\/proc\/sys\/kernel\/(unprivileged_bpf_disabled|perf_event_paranoid)$/,
  /^\/proc\/(self|\d+)\/fdinfo\/\d+$/,
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

export class HostBridge {
  /** Fds this bridge opened or received from the kernel, still open. */
  readonly fds = new Set<number>();
  readonly bpf: BpfBridge;
  /** Refusals so far, newest last (also logged as warnings). */
  readonly refusals: BridgeRefusal[] = [];

  constructor(private readonly memory: () => WebAssembly.Memory, private log: Logger) {
    this.bpf = new BpfBridge({ memory, onFd: (fd) => this.fds.add(fd) });
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

  private cstring(off: number, what: string): string {
    const m = this.mem();
    if (off <= 0 || off >= m.length) throw new BridgeRefusal('pointer-out-of-bounds', `${what}: path pointer 0x${off.toString(16)} lies outside the wasm memory`, LINUX_EFAULT);
    const end = m.subarray(off, Math.min(off + MAX_PATH, m.length)).indexOf(0);
    if (end < 0) throw new BridgeRefusal('pointer-out-of-bounds', `${what}: path has no NUL within ${MAX_PATH} bytes`, LINUX_EFAULT);
    return Buffer.from(m.subarray(off, off + end)).toString('utf8');
  }

  private range(off: number, len: number, what: string): bigint {
    const m = this.mem();
    if (off <= 0 || len < 0 || off + len > m.length) {
      throw new BridgeRefusal('pointer-out-of-bounds', `${what}: buffer 0x${off.toString(16)}+${len} lies outside the wasm memory (${m.length} bytes)`, LINUX_EFAULT);
    }
    return libc.addressOf(m) + BigInt(off);
  }

  private owned(fd: number, what: string): void {
    if (!this.fds.has(fd)) throw new BridgeRefusal('bad-fd', `${what}: fd ${fd} was not opened through the bridge`, LINUX_EBADF);
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
    const n = this.fds.size;
    for (const fd of this.fds) libc.close(fd);
    this.fds.clear();
    return n;
  }

  imports(): Record<string, (...args: never[]) => number | bigint | void> {
    const guard = <A extends unknown[]>(fn: (...args: A) => number) => (...args: A): number => {
      try {
        return fn(...args);
      } catch (e) {
        return this.refuse(e);
      }
    };
    return {
      bpf: guard((cmd: number, attr: number, size: number) => {
        const r = this.bpf.call(cmd, attr, size >>> 0);
        return r < 0 ? -toWasiErrno(-r) : r;
      }),
      open: guard((pathOff: number, wasiFlags: number, mode: number) => {
        const path = this.cstring(pathOff, 'open');
        let flags: number;
        try {
          flags = toLinuxOpenFlags(wasiFlags);
        } catch (e) {
          throw new BridgeRefusal('pointer-not-allowed', `open ${path}: ${(e as Error).message}`, LINUX_EINVAL);
        }
        if ((flags & 3) !== 0 || !READABLE_PATHS.some((r) => r.test(path))) {
          throw new BridgeRefusal('pointer-not-allowed', `open ${path} (flags 0x${flags.toString(16)}): not on the bridge's read-only path list`, LINUX_EACCES);
        }
        const fd = libc.open(path, flags | LINUX_O_CLOEXEC, mode);
        this.log('debug', `bridge: open ${path} = ${fd}`);
        if (fd >= 0) this.fds.add(fd);
        return this.sysResult(fd);
      }),
      close: guard((fd: number) => {
        this.owned(fd, 'close');
        this.fds.delete(fd);
        return this.sysResult(libc.close(fd));
      }),
      read: guard((fd: number, buf: number, n: number) => {
        this.owned(fd, 'read');
        return this.sysResult(libc.read(fd, this.range(buf, n >>> 0, 'read'), n >>> 0));
      }),
      pread: guard((fd: number, buf: number, n: number, off: bigint) => {
        this.owned(fd, 'pread');
        return this.sysResult(libc.pread(fd, this.range(buf, n >>> 0, 'pread'), n >>> 0, off));
      }),
      lseek: (fd: number, off: bigint, whence: number): bigint => {
        try {
          this.owned(fd, 'lseek');
          const r = BigInt(libc.lseek(fd, off, whence));
          return r < 0n ? BigInt(-toWasiErrno(libc.lastErrno())) : r;
        } catch (e) {
          return BigInt(this.refuse(e));
        }
      },
      ioctl: guard((fd: number, req: number, arg: number) => {
        this.owned(fd, 'ioctl');
        const name = IOCTLS[req >>> 0];
        if (!name) throw new BridgeRefusal('pointer-not-allowed', `ioctl 0x${(req >>> 0).toString(16)} on fd ${fd} is not on the bridge's allow-list`, LINUX_EINVAL);
        return this.sysResult(libc.ioctl(fd, req >>> 0, arg >>> 0));
      }),
      fcntl: guard((fd: number, cmd: number, arg: number) => {
        this.owned(fd, 'fcntl');
        const c = FCNTL[cmd];
        if (!c) throw new BridgeRefusal('pointer-not-allowed', `fcntl command ${cmd} is not on the bridge's allow-list`, LINUX_EINVAL);
        // F_SETFD: keep close-on-exec whatever is asked (FD_CLOEXEC = 1).
        const r = libc.fcntl(fd, cmd, cmd === 2 ? arg | 1 : arg);
        if (r >= 0 && c.newFd) this.fds.add(r);
        if (r >= 0 && cmd === 3) return toWasiOpenFlags(r);
        return this.sysResult(r);
      }),
      dup3: guard((fd: number, newFd: number, flags: number) => {
        this.owned(fd, 'dup3');
        this.owned(newFd, 'dup3 (target)');
        return this.sysResult(libc.dup3(fd, newFd, flags | LINUX_O_CLOEXEC));
      }),
      uname: guard((buf: number, size: number) => {
        this.range(buf, Math.min(size, libc.UTSNAME_SIZE), 'uname');
        const tmp = new Uint8Array(libc.UTSNAME_SIZE);
        const r = libc.uname(tmp);
        if (r < 0) return this.sysResult(r);
        this.mem().set(tmp.subarray(0, Math.min(size, libc.UTSNAME_SIZE)), buf);
        return 0;
      }),
      getpid: () => libc.getpid(),
      geteuid: () => libc.geteuid(),
      access: guard((pathOff: number, mode: number) => this.sysResult(libc.access(this.cstring(pathOff, 'access'), mode))),
      log: (level: number, msg: number, len: number) => {
        const text = Buffer.from(this.mem().subarray(msg, msg + len)).toString('utf8');
        this.log(LIBBPF_PRINT_LEVELS[level] ?? 'debug', libbpfText(text));
      },
    };
  }
}
