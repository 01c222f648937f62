// The head of the kernel's `trace` file for the nop tracer with default
// options (kernel/trace/trace.c: print_trace_header -> print_event_info ->
// print_func_help_header_irq), as this machine's /sys/kernel/tracing/trace
// prints it: irq-info on, record-tgid off.

/** `# entries-in-buffer/entries-written: %lu/%lu   #P:%d` block plus the column legend. */
export function ftraceHeader(entriesInBuffer: number, entriesWritten: number, cpus: number, tracer = 'nop'): string {
  return (
    `# tracer: ${tracer}\n` +
    '#\n' +
    `# entries-in-buffer/entries-written: ${entriesInBuffer}/${entriesWritten}   #P:${cpus}\n` +
    '#\n' +
    '#                                _-----=> irqs-off/BH-disabled\n' +
    '#                               / _----=> need-resched\n' +
    '#                              | / _---=> hardirq/softirq\n' +
    '#                              || / _--=> preempt-depth\n' +
    '#                              ||| / _-=> migrate-disable\n' +
    '#                              |||| /     delay\n' +
    '#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n' +
    '#              | |         |   |||||     |         |\n'
  );
}
