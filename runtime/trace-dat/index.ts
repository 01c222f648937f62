// runtime/trace-dat: trace-cmd's trace.dat (version 6) from our records.
export { TraceDatWriter, type TraceDatWriterOptions, type TraceDatSummary } from './writer.js';
export { traceDatChunks, type TraceDatContents } from './file.js';
export type { DatEvent } from './event-formats.js';
export type { DatRecord } from './ring-page.js';
export type { DatSymbol } from './kallsyms-section.js';
