// Where tracefs is, on its own (no koffi, no attach code): `trace` looks it
// up before it compiles, to start measuring the trace clock (trace-clock.ts).
import { existsSync } from 'node:fs';

export const TRACEFS_ROOT = '/sys/kernel/tracing';

/** The tracefs root in use (tracefs, or the old debugfs location), or undefined. */
export function tracefsRoot(): string | undefined {
  for (const d of [TRACEFS_ROOT, '/sys/kernel/debug/tracing']) if (existsSync(`${d}/README`)) return d;
  return undefined;
}
