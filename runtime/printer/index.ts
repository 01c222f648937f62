// runtime/printer: ftrace's text output (and --json) from trace entries.
export { TracePrinter, printerFor, type TracePrinterOptions } from './trace-printer.js';
export { compileEventPrinter, type EventPrinter } from './event-printer.js';
export { ftraceHeader } from './ftrace-header.js';
export { latFmt } from './lat-fmt.js';
export { OutBuffer, fdSink, type Sink } from './out-buffer.js';
