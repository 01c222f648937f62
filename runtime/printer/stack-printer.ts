// A stack record (compiler/trigger-codegen.ts, STACK_ENTRY_TYPE) as the
// kernel's trace prints a stack entry (kernel: trace_output.c
// trace_stack_print): `<stack trace>`, then ` => SYMBOL` per frame
// (seq_print_ip_sym without sym-offset), from the kernel's trace function
// down (runtime/stack-frames.ts).
import { STACK_ENTRY, STACK_FRAMES } from '../../compiler/trigger-codegen.js';
import type { EventFormat } from '../../compiler/format.js';
import { halves, Kallsyms } from '../kallsyms.js';
import { framesOf, stackCut, traceFunctionOf } from '../stack-frames.js';
import type { EventPrinter } from './event-printer.js';
import type { OutBuffer } from './out-buffer.js';

/** The lines after `<stack trace>`: the kernel's trace function, then the frames from the dispatcher down. */
export function stackLines(frames: readonly bigint[], format: Pick<EventFormat, 'tracer' | 'isReturn'> | undefined, ksyms: Kallsyms): string[] {
  const cut = stackCut(frames, ksyms, format?.isReturn ?? false);
  const func = format && traceFunctionOf(format);
  const shown = (cut ? frames.slice(cut.below) : frames).map((f) => ksyms.format(...halves(f), 'name').toString('latin1'));
  return cut ? [...(func ? [func] : []), cut.dispatcher, ...shown] : shown;
}

/**
 * The printer of stack records; `eventFormat(id)` is the format of the
 * event whose trigger sent one. Kernel symbols are read on the first stack
 * when the trace loaded none (a uprobe-only trace).
 */
export function stackPrinter(ksyms: Kallsyms, eventFormat: (id: number) => EventFormat | undefined): EventPrinter {
  let syms: Kallsyms | undefined = ksyms.length > 0 ? ksyms : undefined;
  const lines = (buf: Buffer, entry: number, entryEnd: number): string[] => {
    syms ??= Kallsyms.load();
    const bytes = Math.min(buf.readUInt32LE(entry + STACK_ENTRY.BYTES), 8 * STACK_FRAMES, entryEnd - entry - STACK_ENTRY.FRAMES);
    return stackLines(framesOf(buf, entry + STACK_ENTRY.FRAMES, bytes), eventFormat(buf.readUInt32LE(entry + STACK_ENTRY.EVENT)), syms);
  };
  return {
    // a stack entry has no format of its own; the printer dispatches on STACK_ENTRY_TYPE before using one
    format: undefined as unknown as EventFormat,
    hits: 0,
    text(out: OutBuffer, buf: Buffer, entry: number, entryEnd: number): void {
      out.ascii(['<stack trace>', ...lines(buf, entry, entryEnd).map((l) => ` => ${l}`)].join('\n'));
    },
    json(out: OutBuffer, buf: Buffer, entry: number, entryEnd: number): void {
      out.ascii(`"stack":${JSON.stringify(lines(buf, entry, entryEnd))}`);
    },
  };
}
