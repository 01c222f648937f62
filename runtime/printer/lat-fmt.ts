// The five-character flags column (kernel/trace/trace_output.c:
// trace_print_lat_fmt) from a trace entry's common_flags and
// common_preempt_count: irqs-off/BH, need-resched, hard/softirq/NMI,
// preempt depth, migrate-disable depth. Each distinct pair is rendered once.
// Before 6.13 the kernel had no lazy reschedule: bit 0x02 was
// TRACE_FLAG_IRQS_NOSUPPORT ('X' in the irqs-off column) and need-resched
// read only NEED_RESCHED and PREEMPT_RESCHED, so the same bytes print
// differently there (flags 0xff: "DB..." on 6.13+, "DN..." on 6.1).

import { TRACE_FLAG } from '../../compiler/abi.js';

const {
  IRQS_OFF: TRACE_FLAG_IRQS_OFF, NEED_RESCHED_LAZY: TRACE_FLAG_NEED_RESCHED_LAZY, NEED_RESCHED: TRACE_FLAG_NEED_RESCHED,
  HARDIRQ: TRACE_FLAG_HARDIRQ, SOFTIRQ: TRACE_FLAG_SOFTIRQ, PREEMPT_RESCHED: TRACE_FLAG_PREEMPT_RESCHED, NMI: TRACE_FLAG_NMI,
  BH_OFF: TRACE_FLAG_BH_OFF,
} = TRACE_FLAG;

/** Before 6.13 (kernel/trace/trace.h), the bit lazy reschedule took over. */
const TRACE_FLAG_IRQS_NOSUPPORT = 0x02;

/** need-resched column by (NEED_RESCHED | PREEMPT_RESCHED) bits, before 6.13. */
const NEED_RESCHED_CHAR_NO_LAZY: Readonly<Record<number, string>> = {
  [TRACE_FLAG_NEED_RESCHED | TRACE_FLAG_PREEMPT_RESCHED]: 'N',
  [TRACE_FLAG_NEED_RESCHED]: 'n',
  [TRACE_FLAG_PREEMPT_RESCHED]: 'p',
};

/** need-resched column by (NEED_RESCHED | NEED_RESCHED_LAZY | PREEMPT_RESCHED) bits. */
const NEED_RESCHED_CHAR: Readonly<Record<number, string>> = {
  [TRACE_FLAG_NEED_RESCHED | TRACE_FLAG_NEED_RESCHED_LAZY | TRACE_FLAG_PREEMPT_RESCHED]: 'B',
  [TRACE_FLAG_NEED_RESCHED | TRACE_FLAG_PREEMPT_RESCHED]: 'N',
  [TRACE_FLAG_NEED_RESCHED_LAZY | TRACE_FLAG_PREEMPT_RESCHED]: 'L',
  [TRACE_FLAG_NEED_RESCHED | TRACE_FLAG_NEED_RESCHED_LAZY]: 'b',
  [TRACE_FLAG_NEED_RESCHED]: 'n',
  [TRACE_FLAG_PREEMPT_RESCHED]: 'p',
  [TRACE_FLAG_NEED_RESCHED_LAZY]: 'l',
};

/** The column as the kernel prints it; `lazy`: a kernel with lazy reschedule (6.13+). */
export function latFmt(flags: number, preemptCount: number, lazy = true): string {
  const bhOff = flags & TRACE_FLAG_BH_OFF;
  const irqsOff = flags & TRACE_FLAG_IRQS_OFF;
  const noSupport = !lazy && flags & TRACE_FLAG_IRQS_NOSUPPORT;
  const irq = irqsOff && bhOff ? 'D' : irqsOff ? 'd' : bhOff ? 'b' : noSupport ? 'X' : '.';
  const nr = lazy
    ? NEED_RESCHED_CHAR[flags & (TRACE_FLAG_NEED_RESCHED | TRACE_FLAG_NEED_RESCHED_LAZY | TRACE_FLAG_PREEMPT_RESCHED)] ?? '.'
    : NEED_RESCHED_CHAR_NO_LAZY[flags & (TRACE_FLAG_NEED_RESCHED | TRACE_FLAG_PREEMPT_RESCHED)] ?? '.';
  const nmi = flags & TRACE_FLAG_NMI;
  const hard = flags & TRACE_FLAG_HARDIRQ;
  const soft = flags & TRACE_FLAG_SOFTIRQ;
  const hs = nmi && hard ? 'Z' : nmi ? 'z' : hard && soft ? 'H' : hard ? 'h' : soft ? 's' : '.';
  const pc = preemptCount & 0xf ? (preemptCount & 0xf).toString(16) : '.';
  const mg = preemptCount & 0xf0 ? (preemptCount >> 4).toString(16) : '.';
  return irq + nr + hs + pc + mg;
}

// Keyed by the 17 bits of (lazy, flags, preempt count), holding only the few
// combinations a trace meets: an array of every key took 1 MiB of heap.
const cache = new Map<number, Buffer>();

/** latFmt as cached bytes. */
export function latFmtBytes(flags: number, preemptCount: number, lazy = true): Buffer {
  const k = (lazy ? 1 << 16 : 0) | ((flags & 0xff) << 8) | (preemptCount & 0xff);
  let b = cache.get(k);
  if (!b) cache.set(k, b = Buffer.from(latFmt(flags, preemptCount, lazy), 'latin1'));
  return b;
}
