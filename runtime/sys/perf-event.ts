// perf_event_open(2) and the perf_event_attr it takes. glibc has no wrapper,
// so it goes through syscall(2). The attr is encoded by hand into the UAPI
// layout (include/uapi/linux/perf_event.h), offsets named below.
import { koffi, libc, lastErrno, SysError } from './libc.js';

/** x86-64 syscall number (arch/x86/entry/syscalls/syscall_64.tbl). */
const NR_PERF_EVENT_OPEN = 298;

const syscallFn = libc.func('long syscall(long number, ...)') as (...args: unknown[]) => number | bigint;

/** enum perf_type_id */
export const PERF_TYPE_HARDWARE = 0;
export const PERF_TYPE_SOFTWARE = 1;
export const PERF_TYPE_TRACEPOINT = 2;

/** enum perf_sw_ids */
export const PERF_COUNT_SW_CPU_CLOCK = 0;
export const PERF_COUNT_SW_BPF_OUTPUT = 10;

/** enum perf_event_sample_format */
export const PERF_SAMPLE_IP = 1 << 0;
export const PERF_SAMPLE_TID = 1 << 1;
export const PERF_SAMPLE_TIME = 1 << 2;
export const PERF_SAMPLE_ADDR = 1 << 3;
export const PERF_SAMPLE_READ = 1 << 4;
export const PERF_SAMPLE_CALLCHAIN = 1 << 5;
export const PERF_SAMPLE_ID = 1 << 6;
export const PERF_SAMPLE_CPU = 1 << 7;
export const PERF_SAMPLE_PERIOD = 1 << 8;
export const PERF_SAMPLE_STREAM_ID = 1 << 9;
export const PERF_SAMPLE_RAW = 1 << 10;
export const PERF_SAMPLE_IDENTIFIER = 1 << 16;

/** perf_event_open flags */
export const PERF_FLAG_FD_CLOEXEC = 1 << 3;

/** Bits of the flags word at offset 40 (the bitfield after read_format). */
export const ATTR_FLAG = {
  disabled: 0,
  inherit: 1,
  exclude_kernel: 5,
  exclude_hv: 6,
  watermark: 14,
  sample_id_all: 18,
} as const;
export type AttrFlag = keyof typeof ATTR_FLAG;

/** PERF_ATTR_SIZE_VER5: everything up to aux_watermark; enough for every field we set, known to kernels >= 4.1. */
export const PERF_ATTR_SIZE = 112;

export interface PerfEventAttr {
  type: number;
  config?: bigint;
  samplePeriod?: bigint;
  sampleType?: number;
  readFormat?: number;
  flags?: readonly AttrFlag[];
  /** wakeup_events, or wakeup_watermark (bytes) when flags has 'watermark'. */
  wakeup?: number;
  /** config1: kprobe_func / uprobe_path pointer, or a plain extension. */
  config1?: bigint;
  /** config2: probe_offset / kprobe_addr. */
  config2?: bigint;
}

/** Encodes attr into the kernel's struct perf_event_attr bytes. */
export function encodeAttr(attr: PerfEventAttr): Buffer {
  const b = Buffer.alloc(PERF_ATTR_SIZE);
  b.writeUInt32LE(attr.type, 0); // type
  b.writeUInt32LE(PERF_ATTR_SIZE, 4); // size
  b.writeBigUInt64LE(attr.config ?? 0n, 8); // config
  b.writeBigUInt64LE(attr.samplePeriod ?? 0n, 16); // sample_period / sample_freq
  b.writeBigUInt64LE(BigInt(attr.sampleType ?? 0), 24); // sample_type
  b.writeBigUInt64LE(BigInt(attr.readFormat ?? 0), 32); // read_format
  let bits = 0n;
  for (const f of attr.flags ?? []) bits |= 1n << BigInt(ATTR_FLAG[f]);
  b.writeBigUInt64LE(bits, 40); // disabled, inherit, ... bitfield
  b.writeUInt32LE(attr.wakeup ?? 0, 48); // wakeup_events / wakeup_watermark
  b.writeUInt32LE(0, 52); // bp_type
  b.writeBigUInt64LE(attr.config1 ?? 0n, 56); // config1 / uprobe_path / kprobe_func
  b.writeBigUInt64LE(attr.config2 ?? 0n, 64); // config2 / probe_offset / kprobe_addr
  return b;
}

/**
 * perf_event_open(attr, pid, cpu, group_fd, flags). pid -1 with cpu >= 0 is
 * "every task on that CPU"; pid >= 0 with cpu -1 is "that task anywhere".
 * Returns the new fd (always close-on-exec).
 */
export function perfEventOpen(attr: PerfEventAttr, pid: number, cpu: number, groupFd = -1, what = 'perf_event_open'): number {
  const bytes = encodeAttr(attr);
  const ret = Number(
    syscallFn(
      NR_PERF_EVENT_OPEN,
      'void *', bytes,
      'int', pid,
      'int', cpu,
      'int', groupFd,
      'unsigned long', PERF_FLAG_FD_CLOEXEC,
    ),
  );
  if (ret < 0) throw new SysError(what, lastErrno(), `type ${attr.type}, pid ${pid}, cpu ${cpu}`);
  return ret;
}

/**
 * A NUL-terminated copy of s in native memory, for attr fields the kernel
 * reads as a user pointer (uprobe_path, kprobe_func). Free with release()
 * once perf_event_open returned; the kernel copies the string at open.
 */
export function nativeCString(s: string): { readonly address: bigint; release(): void } {
  const bytes = Buffer.from(s + '\0', 'utf8');
  const mem = koffi.alloc('uint8_t', bytes.length);
  new Uint8Array(koffi.view(mem, bytes.length)).set(bytes);
  let live = true;
  return {
    address: BigInt(koffi.address(mem)),
    release(): void {
      if (live) koffi.free(mem);
      live = false;
    },
  };
}
