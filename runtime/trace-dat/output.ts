// The tracer's side of `trace -o FILE.dat`: the writer for the session's
// events, and what is said when it is done.
import { unlinkSync } from 'node:fs';
import type { EventFormat } from '../../compiler/format.js';
import { onlineCpus } from '../sys/index.js';
import { TraceDatWriter } from './writer.js';

export interface TraceDatOutput {
  /** The session's record sink. */
  readonly add: (raw: Buffer, off: number, len: number) => void;
  /** Writes the file; returns the line for stderr. */
  finish(): string;
  /** The trace never ran: the file is removed again. */
  abandon(): void;
}

export function openTraceDat(path: string, events: readonly { format: EventFormat; typeId: number }[], clock?: { name: string; offsetNs: number }): TraceDatOutput {
  const cpus = Math.max(0, ...onlineCpus()) + 1;
  const writer = new TraceDatWriter(path, events, { cpus, ...(clock ? { clock } : {}) });
  return {
    add: writer.add,
    finish() {
      const { written, tooLarge } = writer.finish();
      const skipped = tooLarge ? `; ${tooLarge} events larger than a ring page left out` : '';
      return `wrote ${written} events to ${path} (trace-cmd report ${path})${skipped}`;
    },
    abandon() {
      writer.finish();
      unlinkSync(path);
    },
  };
}
