// Start-up and teardown phase times, for the bench's breakdown: with
// KPROBE_BPF_TIMING=1 every mark records when a phase ended (ms since the
// process's time origin) and the process prints one `kprobe-bpf timing:
// PHASE MS ms, rss RSS MiB` line per phase to stderr at exit, each phase's time being the
// distance from the mark before. Without it a mark is one boolean test.
// The switch is read at the first mark, not at load: in the start-up snapshot
// (bin/snapshot.ts) this module is loaded when the snapshot is built.

let enabled: boolean | undefined;
const marks: { phase: string; at: number; rss: number }[] = [];

/** Records that `phase` has just ended (or ended at `at`, a performance.now() taken earlier). */
export function mark(phase: string, at?: number): void {
  enabled ??= process.env['KPROBE_BPF_TIMING'] === '1';
  if (!enabled) return;
  if (marks.length === 0) process.once('exit', report);
  marks.push({ phase, at: at ?? performance.now(), rss: process.memoryUsage.rss() });
}

/** The lines printed at exit: the first phase counts from the time origin (node's own start). */
export function timingLines(list: readonly { phase: string; at: number; rss: number }[]): string[] {
  return list.map((m, i) => `kprobe-bpf timing: ${m.phase} ${(m.at - (i === 0 ? 0 : list[i - 1]!.at)).toFixed(2)} ms, rss ${(m.rss / 1048576).toFixed(1)} MiB`);
}

function report(): void {
  marks.push({ phase: 'exit', at: performance.now(), rss: process.memoryUsage.rss() });
  const mem = process.memoryUsage();
  const mib = (n: number) => (n / 1048576).toFixed(1);
  // what the peak RSS is made of, at exit: V8 heap, buffers outside it (rings, wasm memory), the peak itself
  const memory = `kprobe-bpf memory: maxRSS ${mib(process.resourceUsage().maxRSS * 1024)} rss ${mib(mem.rss)} heapTotal ${mib(mem.heapTotal)} heapUsed ${mib(mem.heapUsed)} external ${mib(mem.external)} arrayBuffers ${mib(mem.arrayBuffers)}`;
  process.stderr.write(timingLines(marks).join('\n') + '\n' + memory + '\n');
}
