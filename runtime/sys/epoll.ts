// epoll for perf ring wakeups. wait() blocks the calling thread; waitAsync()
// runs epoll_wait on one of koffi's worker threads so the event loop (and
// with it SIGINT/SIGTERM handlers) stays live while the tracer sleeps.
import { check, libc, lastErrno, SysError } from './libc.js';
import { closeFd } from './fd.js';

const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
export const EPOLLIN = 0x001;
export const EPOLLHUP = 0x010;
/** sizeof(struct epoll_event) on x86-64: packed {u32 events; u64 data}. */
const EVENT_SIZE = 12;
const EINTR = 4;

const createFn = libc.func('int epoll_create1(int flags)') as (flags: number) => number;
const ctlFn = libc.func('int epoll_ctl(int epfd, int op, int fd, void *event)') as (
  epfd: number,
  op: number,
  fd: number,
  ev: Buffer | null,
) => number;
const waitFn = libc.func('int epoll_wait(int epfd, _Out_ uint8_t *events, int maxevents, int timeout)') as ((
  epfd: number,
  events: Buffer,
  max: number,
  timeout: number,
) => number) & {
  async: (epfd: number, events: Buffer, max: number, timeout: number, cb: (err: unknown, res: number) => void) => void;
};

export class Epoll {
  readonly fd: number;
  private readonly events: Buffer;
  private closed = false;
  private pending = 0;

  constructor(readonly maxEvents = 64) {
    this.fd = check(createFn(EPOLL_CLOEXEC), 'epoll_create1');
    this.events = Buffer.alloc(EVENT_SIZE * maxEvents);
  }

  /** Watches fd for readability; `data` comes back in ready(). */
  add(fd: number, data: number, events = EPOLLIN): void {
    const ev = Buffer.alloc(EVENT_SIZE);
    ev.writeUInt32LE(events >>> 0, 0);
    ev.writeBigUInt64LE(BigInt(data), 4);
    check(ctlFn(this.fd, EPOLL_CTL_ADD, fd, ev), 'epoll_ctl(EPOLL_CTL_ADD)', `fd ${fd}`);
  }

  remove(fd: number): void {
    check(ctlFn(this.fd, EPOLL_CTL_DEL, fd, null), 'epoll_ctl(EPOLL_CTL_DEL)', `fd ${fd}`);
  }

  /** Blocks up to timeoutMs (-1 forever); returns how many fds are ready (0 on timeout or EINTR). */
  wait(timeoutMs: number): number {
    const n = waitFn(this.fd, this.events, this.maxEvents, timeoutMs);
    if (n < 0) {
      const e = lastErrno();
      if (e === EINTR) return 0;
      throw new SysError('epoll_wait', e);
    }
    return n;
  }

  /** Like wait() but off the main thread. Uses its own events buffer so a sync wait() can't race it. */
  waitAsync(timeoutMs: number): Promise<number> {
    const buf = Buffer.alloc(EVENT_SIZE * this.maxEvents);
    this.pending++;
    return new Promise((resolve, reject) => {
      waitFn.async(this.fd, buf, this.maxEvents, timeoutMs, (err, res) => {
        this.pending--;
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve(res < 0 ? 0 : res);
        if (this.closed && this.pending === 0) this.closeNow();
      });
    });
  }

  /** data of the i-th ready event of the last wait(). */
  ready(i: number): number {
    return Number(this.events.readBigUInt64LE(i * EVENT_SIZE + 4));
  }

  /** Closes the epoll fd; if an async wait is in flight, after it returns (it has a timeout). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pending === 0) this.closeNow();
  }

  private fdClosed = false;
  private closeNow(): void {
    if (this.fdClosed) return;
    this.fdClosed = true;
    closeFd(this.fd);
  }
}
