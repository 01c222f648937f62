// TurboFan's inlining budget for a trace's records (issue 13). The printer's
// hot functions (a record's line: prefix, event text, field writers) are
// optimized in the trace's first second, each job's graph in a zone malloc'd
// on the V8 worker thread, the largest (the line writer) inlining most of the
// printer. With half V8's default cumulative budget (920 bytes of bytecode
// inlined into one function) a 200k-event trace peaked 0.8 MiB lower
// (medians of 5) and the print rate did not drop (it rose in the `print`
// bench: README, Benchmarks); the small writers are inlined still (those
// under --max-inlined-bytecode-size-small always are). Set at run time, not
// as a launcher flag: only a trace wants it, and a start-up snapshot checks
// only the flags it starts with (runtime/bridge/module.ts sets Liftoff's so).
import { setFlagsFromString } from 'node:v8';

/** Cumulative bytes of bytecode TurboFan inlines into one function: V8's default is 920. */
export const TRACE_INLINING_BUDGET = 460;

/** Lowers TurboFan's cumulative inlining budget for the rest of the process. */
export function limitInlining(): void {
  setFlagsFromString(`--max-inlined-bytecode-size-cumulative=${TRACE_INLINING_BUDGET}`);
}
