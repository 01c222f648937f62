// "KALLSYMS INFORMATION" (trace-cmd.dat.v6(5)): /proc/kallsyms text with a
// u32 size. We write only what the recorded addresses need: for each, the
// symbol that holds it and the symbol after it (the reader bounds a
// function by the next address, as kallsyms_lookup_size_offset does).
import { sized } from './bytes.js';

export interface DatSymbol {
  readonly address: bigint;
  readonly name: string;
  readonly module?: string | undefined;
}

function line(s: DatSymbol): string {
  return `${s.address.toString(16).padStart(16, '0')} t ${s.name}${s.module ? `\t[${s.module}]` : ''}\n`;
}

/** The kallsyms text for a set of symbols, sorted by address, duplicates dropped. */
export function kallsymsText(symbols: readonly DatSymbol[]): string {
  const seen = new Map<string, DatSymbol>();
  for (const s of symbols) seen.set(`${s.address}:${s.name}`, s);
  return [...seen.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0)).map(line).join('');
}

export function kallsymsSection(symbols: readonly DatSymbol[]): Buffer {
  return sized(kallsymsText(symbols), 4);
}
