// The few wasi_snapshot_preview1 calls wasi-libc makes in our module (env,
// stdio, exit). No files: libbpf's file access goes through the kprobe_bpf
// host calls instead (host.ts). We do not use node:wasi, which prints an
// experimental-feature warning, and the module needs no preopened directory.
import type { Logger } from './logger.js';

const WASI_ESUCCESS = 0;
const WASI_EBADF = 8;
const WASI_ENOSYS = 52;

export class WasiExit extends Error {
  constructor(readonly code: number) {
    super(`libbpf wasm module called exit(${code})`);
  }
}

export function wasiImports(memory: () => WebAssembly.Memory, log: Logger, wanted: readonly string[]): Record<string, (...args: number[]) => number> {
  const dv = () => new DataView(memory().buffer);
  const fns: Record<string, (...args: number[]) => number> = {
    environ_sizes_get(countPtr: number, sizePtr: number) {
      dv().setUint32(countPtr, 0, true);
      dv().setUint32(sizePtr, 0, true);
      return WASI_ESUCCESS;
    },
    environ_get() {
      return WASI_ESUCCESS;
    },
    fd_write(fd: number, iovs: number, iovsLen: number, nwritten: number) {
      if (fd !== 1 && fd !== 2) return WASI_EBADF;
      const d = dv();
      const parts: Uint8Array[] = [];
      let n = 0;
      for (let i = 0; i < iovsLen; i++) {
        const ptr = d.getUint32(iovs + i * 8, true);
        const len = d.getUint32(iovs + i * 8 + 4, true);
        parts.push(new Uint8Array(memory().buffer, ptr, len).slice());
        n += len;
      }
      d.setUint32(nwritten, n, true);
      const text = Buffer.concat(parts).toString('utf8').replace(/\n$/, '');
      if (text) log(fd === 2 ? 'warn' : 'info', text);
      return WASI_ESUCCESS;
    },
    fd_close: () => WASI_EBADF,
    fd_seek: () => WASI_EBADF,
    fd_filestat_get: () => WASI_EBADF,
    fd_fdstat_get: () => WASI_EBADF,
    fd_prestat_get: () => WASI_EBADF,
    proc_exit(code: number): number {
      throw new WasiExit(code);
    },
  };
  for (const name of wanted) {
    fns[name] ??= () => {
      log('warn', `bridge: wasi call ${name} is not provided`);
      return WASI_ENOSYS;
    };
  }
  return fns;
}
