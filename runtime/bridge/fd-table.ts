// The fds the wasm module may name: only those it received through the
// bridge (opened files, fds bpf() returned, dups of those). Every fd field of
// a bpf() attr, every map fd inside a program's instructions and every fd a
// host call takes is checked here, so the module can never reach an fd Node
// or the tracer holds (its maps, perf events, files), nor any other BPF
// object on the system.
import { LINUX_ERRNO } from '../../lib/errno.js';
import { BridgeRefusal } from './refusal.js';
import * as libc from './libc.js';

export class FdTable {
  private readonly fds = new Set<number>();

  get size(): number {
    return this.fds.size;
  }

  has(fd: number): boolean {
    return this.fds.has(fd);
  }

  add(fd: number): void {
    if (fd >= 0) this.fds.add(fd);
  }

  delete(fd: number): void {
    this.fds.delete(fd);
  }

  /** Throws a BridgeRefusal (EBADF) unless the module owns `fd`. */
  check(fd: number, what: string): void {
    if (!this.fds.has(fd)) throw new BridgeRefusal('bad-fd', `${what}: fd ${fd} was not handed to the module by the bridge`, LINUX_ERRNO.EBADF);
  }

  /** Closes every fd still owned. Returns how many there were. */
  closeAll(): number {
    const n = this.fds.size;
    for (const fd of this.fds) libc.close(fd);
    this.fds.clear();
    return n;
  }
}
