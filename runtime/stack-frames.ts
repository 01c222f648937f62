// Where a kernel stack taken in our BPF program meets the one the kernel's
// own tracer sees. Both run from the same probe dispatcher (kprobe_dispatcher,
// uprobe_dispatcher, ...): below it the frames are the same return
// addresses; above it the kernel's trace function (kprobe_trace_func,
// __uprobe_trace_func, ...) is where ours has the perf/BPF path and the
// stack helper. As measured in the 6.1 and 6.12 guests
// (test/guest/triggers.test.ts): the stacktrace trigger prints the trace
// function, then the dispatcher and below; a stacktrace hist key holds the
// frames below the dispatcher.
import type { EventFormat } from '../compiler/format.js';
import { halves, type Kallsyms } from './kallsyms.js';

const DISPATCHERS = new Set(['kprobe_dispatcher', 'kretprobe_dispatcher', 'uprobe_dispatcher', 'uretprobe_dispatcher']);

/** The kernel's trace function for an event of this tracer (the frame above its dispatcher). */
export function traceFunctionOf(format: Pick<EventFormat, 'tracer' | 'isReturn'>): string | undefined {
  if (format.tracer === 'kprobe') return format.isReturn ? 'kretprobe_trace_func' : 'kprobe_trace_func';
  if (format.tracer === 'uprobe') return '__uprobe_trace_func';
  return undefined;
}

/** The frames up to the first zero. */
export function framesOf(buf: Buffer, at: number, bytes: number): bigint[] {
  const out: bigint[] = [];
  for (let p = at; p + 8 <= at + bytes; p += 8) {
    const v = buf.readBigUInt64LE(p);
    if (v === 0n) break;
    out.push(v);
  }
  return out;
}

/**
 * Our perf handlers that a dispatcher may call as a tail call (a jump: the
 * dispatcher then has no frame of ours, as kprobe_dispatcher to
 * kprobe_perf_func on 6.1), with the dispatcher the kernel's stack shows.
 */
const TAIL_CALLED: ReadonlyMap<string, string> = new Map([['kprobe_perf_func', 'kprobe_dispatcher'], ['kretprobe_perf_func', 'kretprobe_dispatcher']]);

/**
 * A uprobe_multi link's handlers (runtime/attach/uprobe-multi.ts) sit where
 * the perf event's dispatcher sits, right above the uprobe core's handler
 * chain; the kernel's own tracer shows its dispatcher there (entry, return).
 * 6.18 shows the link's handler, 6.12 its inlined uprobe_prog_run.
 */
const LINK_HANDLERS: ReadonlyMap<string, readonly [string, string]> = new Map([
  ['uprobe_multi_link_handler', ['uprobe_dispatcher', 'uretprobe_dispatcher']],
  ['uprobe_multi_link_ret_handler', ['uretprobe_dispatcher', 'uretprobe_dispatcher']],
  ['uprobe_prog_run', ['uprobe_dispatcher', 'uretprobe_dispatcher']],
]);

/** Where the kernel's stack and ours meet: the dispatcher's name and the index of the first frame below it. */
export interface StackCut {
  readonly dispatcher: string;
  readonly below: number;
}

/** The cut, or undefined for a stack that passes no dispatcher (fprobe and tracepoint events). */
export function stackCut(frames: readonly bigint[], ksyms: Kallsyms, isReturn = false): StackCut | undefined {
  const names = frames.map((f) => { const sym = ksyms.lookup(...halves(f)); return sym && sym.module === undefined ? sym.name : undefined; });
  const at = names.findIndex((n) => n !== undefined && DISPATCHERS.has(n));
  if (at >= 0) return { dispatcher: names[at]!, below: at + 1 };
  // the deepest of them (6.18 shows uprobe_prog_run above the link's handler)
  let link = -1;
  names.forEach((n, i) => { if (n !== undefined && LINK_HANDLERS.has(n)) link = i; });
  if (link >= 0) return { dispatcher: LINK_HANDLERS.get(names[link]!)![isReturn ? 1 : 0], below: link + 1 };
  const tail = names.findIndex((n) => n !== undefined && TAIL_CALLED.has(n));
  return tail >= 0 ? { dispatcher: TAIL_CALLED.get(names[tail]!)!, below: tail + 1 } : undefined;
}
