// Kernel symbol lookup from /proc/kallsyms for the printer: %pS
// ("sym+0xoff/0xsize [mod]", kernel lib/vsprintf.c -> sprint_symbol) and the
// kprobe line's "(SYM+off/size)" (kernel/trace/trace_output.c:
// trace_seq_print_sym). A symbol's size is the distance to the next higher
// symbol address, as kallsyms_lookup_size_offset() computes it. Addresses
// are kept as hi/lo u32 pairs so lookups need no BigInt; formatted results
// are cached per address so a hot probe address is formatted once.
import { readFileSync } from 'node:fs';
import { u64FromHalves } from '../lib/u64.js';

/** A u64 address (as a stack or hist key holds it) as the (lo, hi) pair lookup and format take. */
export const halves = (v: bigint): [number, number] => [Number(v & 0xffffffffn), Number(v >> 32n)];

export interface KernelSymbol {
  readonly name: string;
  readonly module: string | undefined;
  /** Offset of the address into the symbol and the symbol's size. */
  readonly offset: number;
  readonly size: number;
}

export class Kallsyms {
  private readonly hi: Uint32Array;
  private readonly lo: Uint32Array;
  private readonly names: string[];
  private readonly modules: (string | undefined)[];
  private readonly cache = new Map<number, Map<number, Buffer>>();
  /** [_stext, _end): where core kernel symbols apply (kallsyms.c is_ksym_addr with KALLSYMS_ALL). */
  private readonly core: { start: bigint; end: bigint } | undefined;

  /** Parses kallsyms text (default: this machine's /proc/kallsyms). Zeroed addresses (kptr_restrict) give an empty table. */
  static load(text = readFileSync('/proc/kallsyms', 'utf8')): Kallsyms {
    const rows: { addr: bigint; name: string; module: string | undefined; idx: number }[] = [];
    let idx = 0;
    for (const line of text.split('\n')) {
      if (!line) continue;
      const sp1 = line.indexOf(' ');
      const sp2 = line.indexOf(' ', sp1 + 1);
      if (sp1 < 0 || sp2 < 0) continue;
      const addr = BigInt('0x' + line.slice(0, sp1));
      if (addr === 0n) continue;
      const rest = line.slice(sp2 + 1);
      const tab = rest.indexOf('\t');
      const name = tab < 0 ? rest : rest.slice(0, tab);
      const module = tab < 0 ? undefined : rest.slice(tab + 1).replace(/^\[|\]$/g, '');
      rows.push({ addr, name, module, idx: idx++ });
    }
    rows.sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : a.idx - b.idx));
    return new Kallsyms(rows);
  }

  private constructor(rows: readonly { addr: bigint; name: string; module: string | undefined }[]) {
    this.hi = new Uint32Array(rows.length);
    this.lo = new Uint32Array(rows.length);
    this.names = rows.map((r) => r.name);
    this.modules = rows.map((r) => r.module);
    rows.forEach((r, i) => {
      this.hi[i] = Number(r.addr >> 32n);
      this.lo[i] = Number(r.addr & 0xffffffffn);
    });
    const core = (name: string) => rows.find((r) => r.module === undefined && r.name === name)?.addr;
    const start = core('_stext') ?? core('_text');
    const end = core('_end');
    this.core = start !== undefined && end !== undefined ? { start, end } : undefined;
  }

  get length(): number {
    return this.names.length;
  }

  /** Index of the last symbol at or below hi:lo, or -1. */
  private floor(lo: number, hi: number): number {
    let a = 0;
    let b = this.names.length - 1;
    let best = -1;
    while (a <= b) {
      const m = (a + b) >>> 1;
      const mh = this.hi[m]!;
      const below = mh < hi || (mh === hi && this.lo[m]! <= lo);
      if (below) {
        best = m;
        a = m + 1;
      } else b = m - 1;
    }
    if (best < 0) return -1;
    // Aliases share an address: the kernel reports the first one.
    while (best > 0 && this.hi[best - 1] === this.hi[best] && this.lo[best - 1] === this.lo[best]) best--;
    return best;
  }

  lookup(lo: number, hi: number): KernelSymbol | undefined {
    const i = this.floor(lo, hi);
    if (i < 0) return undefined;
    let j = i + 1;
    while (j < this.names.length && this.hi[j] === this.hi[i] && this.lo[j] === this.lo[i]) j++;
    if (j >= this.names.length) return undefined; // past the last symbol: no size known, the kernel finds none either
    // ftrace's ops trampolines are listed ([__builtin__ftrace]) but kallsyms_lookup never names them: %pS and stacks print the address
    if (this.modules[i] === '__builtin__ftrace') return undefined;
    // A core symbol names only addresses inside the kernel image: the kernel
    // never matches per-CPU offsets (symbols near 0) or addresses past _end
    // to the nearest core symbol below, and %pS prints "0x..." for them.
    if (this.modules[i] === undefined && this.core) {
      const a = (BigInt(hi) << 32n) | BigInt(lo);
      if (a < this.core.start || a >= this.core.end) return undefined;
    }
    const offset = u64FromHalves(lo - this.lo[i]!, hi - this.hi[i]!);
    const size = u64FromHalves(this.lo[j]! - this.lo[i]!, this.hi[j]! - this.hi[i]!);
    return { name: this.names[i]!, module: this.modules[i], offset, size };
  }

  /**
   * Formatted bytes for an address, cached:
   *   mode 'pS'     -> "sym+0xoff/0xsize [mod]" or "0x<hex>" (vsprintf %pS)
   *   mode 'offset' -> "sym+0xoff/0xsize [mod]" or "0x%08lx" (trace_seq_print_sym, offset)
   *   mode 'name'   -> "sym" or "0x%08lx" (trace_seq_print_sym, no offset)
   */
  format(lo: number, hi: number, mode: 'pS' | 'offset' | 'name'): Buffer {
    const key = mode === 'pS' ? 0 : mode === 'offset' ? 1 : 2;
    let byLo = this.cache.get(hi * 4 + key);
    if (!byLo) this.cache.set(hi * 4 + key, (byLo = new Map()));
    let b = byLo.get(lo);
    if (!b) {
      b = Buffer.from(this.formatString(lo, hi, mode), 'latin1');
      byLo.set(lo, b);
    }
    return b;
  }

  private formatString(lo: number, hi: number, mode: 'pS' | 'offset' | 'name'): string {
    const sym = this.lookup(lo, hi);
    const hex = ((BigInt(hi) << 32n) | BigInt(lo)).toString(16);
    if (!sym) return mode === 'pS' ? `0x${hex}` : `0x${hex.padStart(8, '0')}`;
    if (mode === 'name') return sym.name;
    return `${sym.name}+0x${sym.offset.toString(16)}/0x${sym.size.toString(16)}${sym.module ? ` [${sym.module}]` : ''}`;
  }
}

/** A table that knows no symbols (kernel without kallsyms access, or tests). */
export function emptyKallsyms(): Kallsyms {
  return Kallsyms.load('');
}
