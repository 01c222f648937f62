// Probe lines to definitions for the compiler's unit tests (uprobe lines name
// /bin/true, which exists everywhere the tests run).
import type { ProbeDefinition } from '../../../grammar/ast.js';
import { parseProbeCommands } from '../../../grammar/index.js';
import { lowerProbe, type LowerOptions } from '../../../compiler/lower.js';
import type { FetchProgram, ProbeProgram } from '../../../compiler/ir.js';

export function definitions(lines: readonly string[]): ProbeDefinition[] {
  return lines.map((line) => {
    const [cmd] = parseProbeCommands(line, {}).commands;
    if (cmd?.op !== 'define') throw new Error(`not a definition: ${line}`);
    return cmd;
  });
}

export const lower = (line: string, opts: LowerOptions = {}): ProbeProgram => lowerProbe(definitions([line])[0]!, opts);

/** The fetch program of the line's first argument. */
export const fetchOf = (line: string, opts: LowerOptions = {}): FetchProgram => lower(line, opts).fetches[0]!;
