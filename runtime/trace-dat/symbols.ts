// The kernel addresses a trace.dat's readers will want names for: a kprobe's
// __probe_ip / __probe_func and `symbol` arguments. Each becomes the symbol
// holding it plus the symbol after it (which bounds the first's size).
import type { EventFormat } from '../../compiler/format.js';
import type { Kallsyms } from '../kallsyms.js';
import type { DatSymbol } from './kallsyms-section.js';

/** Offsets (in the entry) of the 8-byte fields that hold kernel addresses for an event, none for uprobes. */
export function addressFieldOffsets(format: EventFormat): number[] {
  if (format.tracer === 'uprobe') return [];
  const probe = format.probeFields.filter((f) => f.size === 8).map((f) => f.offset);
  const args = format.argFields.filter((f) => f.print === 'symbol' && f.count === undefined && f.size === 8).map((f) => f.offset);
  return [...probe, ...args];
}

/** The symbols covering each address (and the one after each), as far as kallsyms knows them. */
export function symbolsFor(addresses: Iterable<bigint>, kallsyms: Kallsyms): DatSymbol[] {
  const out: DatSymbol[] = [];
  const at = (a: bigint) => kallsyms.lookup(Number(a & 0xffffffffn), Number(a >> 32n));
  for (const a of addresses) {
    const sym = at(a);
    if (!sym) continue;
    const start = a - BigInt(sym.offset);
    out.push({ address: start, name: sym.name, module: sym.module });
    const end = start + BigInt(sym.size);
    const next = at(end);
    out.push({ address: end, name: next && next.offset === 0 ? next.name : `${sym.name}_end`, module: next?.module });
  }
  return out;
}
