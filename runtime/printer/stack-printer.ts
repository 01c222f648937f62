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

/** The names above the frames shown (the kernel's trace function and the dispatcher, when the stack passes one), and the first frame shown. */
function stackHead(frames: readonly bigint[], format: Pick<EventFormat, 'tracer' | 'isReturn'> | undefined, ksyms: Kallsyms): { head: string[]; from: number } {
  const cut = stackCut(frames, ksyms, format?.isReturn ?? false);
  if (!cut) return { head: [], from: 0 };
  const func = format && traceFunctionOf(format);
  return { head: func ? [func, cut.dispatcher] : [cut.dispatcher], from: cut.below };
}

/** The lines after `<stack trace>`: the kernel's trace function, then the frames from the dispatcher down. */
export function stackLines(frames: readonly bigint[], format: Pick<EventFormat, 'tracer' | 'isReturn'> | undefined, ksyms: Kallsyms): string[] {
  const { head, from } = stackHead(frames, format, ksyms);
  return [...head, ...frames.slice(from).map((f) => ksyms.format(...halves(f), 'name').toString('latin1'))];
}

/**
 * The printer of stack records; `eventFormat(id)` is the format of the
 * event whose trigger sent one. Kernel symbols are read on the first stack
 * when the trace loaded none (a uprobe-only trace).
 */
export function stackPrinter(ksyms: Kallsyms, eventFormat: (id: number) => EventFormat | undefined): EventPrinter {
  let syms: Kallsyms | undefined = ksyms.length > 0 ? ksyms : undefined;
  const symbols = (): Kallsyms => (syms ??= Kallsyms.load());
  const framesAt = (buf: Buffer, entry: number, entryEnd: number): bigint[] => {
    const bytes = Math.min(buf.readUInt32LE(entry + STACK_ENTRY.BYTES), 8 * STACK_FRAMES, entryEnd - entry - STACK_ENTRY.FRAMES);
    return framesOf(buf, entry + STACK_ENTRY.FRAMES, bytes);
  };
  const formatOf = (buf: Buffer, entry: number) => eventFormat(buf.readUInt32LE(entry + STACK_ENTRY.EVENT));
  return {
    // a stack entry has no format of its own; the printer dispatches on STACK_ENTRY_TYPE before using one
    format: undefined as unknown as EventFormat,
    hits: 0,
    // per record: the cached symbol bytes go straight to the output, no line strings joined, and
    // each shown frame's address is read as the u32 halves format takes (a BigInt split costs 4x the format)
    text(out: OutBuffer, buf: Buffer, entry: number, entryEnd: number): void {
      const k = symbols();
      const frames = framesAt(buf, entry, entryEnd);
      const { head, from } = stackHead(frames, formatOf(buf, entry), k);
      out.ascii('<stack trace>');
      for (const name of head) { out.ascii('\n => '); out.ascii(name); }
      for (let i = from, at = entry + STACK_ENTRY.FRAMES + 8 * from; i < frames.length; i++, at += 8) {
        out.ascii('\n => ');
        out.bytes(k.format(buf.readUInt32LE(at), buf.readUInt32LE(at + 4), 'name'));
      }
    },
    json(out: OutBuffer, buf: Buffer, entry: number, entryEnd: number): void {
      out.ascii(`"stack":${JSON.stringify(stackLines(framesAt(buf, entry, entryEnd), formatOf(buf, entry), symbols()))}`);
    },
  };
}
