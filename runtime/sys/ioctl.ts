// The perf event ioctls (include/uapi/linux/perf_event.h), encoded with the
// kernel's _IO/_IOW rules: dir<<30 | size<<16 | type<<8 | nr, type '$'.
import { check, libc } from './libc.js';

const ioctlFn = libc.func('int ioctl(int fd, unsigned long request, ...)') as (...args: unknown[]) => number;

const PERF_IOC_TYPE = 0x24; // '$'
const IOC_WRITE = 1;
const io = (nr: number): number => (PERF_IOC_TYPE << 8) | nr;
const iow = (nr: number, size: number): number => ((IOC_WRITE << 30) | (size << 16) | (PERF_IOC_TYPE << 8) | nr) >>> 0;

export const PERF_EVENT_IOC_ENABLE = io(0);
export const PERF_EVENT_IOC_DISABLE = io(1);
export const PERF_EVENT_IOC_RESET = io(3);
export const PERF_EVENT_IOC_SET_BPF = iow(8, 4);

export function perfEnable(fd: number): void {
  check(ioctlFn(fd, PERF_EVENT_IOC_ENABLE, 'int', 0), 'ioctl(PERF_EVENT_IOC_ENABLE)', `fd ${fd}`);
}

export function perfDisable(fd: number): void {
  check(ioctlFn(fd, PERF_EVENT_IOC_DISABLE, 'int', 0), 'ioctl(PERF_EVENT_IOC_DISABLE)', `fd ${fd}`);
}

export function perfReset(fd: number): void {
  check(ioctlFn(fd, PERF_EVENT_IOC_RESET, 'int', 0), 'ioctl(PERF_EVENT_IOC_RESET)', `fd ${fd}`);
}

/** Attaches a loaded BPF program (kprobe/uprobe type) to a probe perf event. */
export function perfSetBpf(fd: number, progFd: number): void {
  check(ioctlFn(fd, PERF_EVENT_IOC_SET_BPF, 'int', progFd), 'ioctl(PERF_EVENT_IOC_SET_BPF)', `perf fd ${fd}, prog fd ${progFd}`);
}
