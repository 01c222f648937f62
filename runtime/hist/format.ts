// A histogram as the kernel's `hist` file prints it (kernel:
// trace_events_hist.c hist_trigger_show, hist_trigger_entry_print,
// hist_trigger_print_key): the comment block with the trigger info, one
// `{ key } hitcount: N` line per entry in the widths of the kernel's
// seq_printf formats, then the totals.
import type { HistPlan } from '../../compiler/hist-layout.js';
import { HIST_STACKTRACE_DEPTH, histTriggerInfo, type HistField } from '../../grammar/trigger/index.js';
import { halves, type Kallsyms } from '../kallsyms.js';
import { keyString, keyU64, type HistEntry } from './entries.js';

const padEnd = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const padStart = (s: string, n: number): string => (s.length >= n ? s : ' '.repeat(n - s.length) + s);

/** What key rendering needs from outside: kernel symbols (.sym, .sym-offset) and syscall names (.syscall). */
export interface HistSymbols {
  readonly kallsyms?: Kallsyms;
  readonly syscallName?: (nr: bigint) => string | undefined;
}

/** %ps: the symbol's name (and module), or the address as 0x%lx. */
function symName(v: bigint, s: HistSymbols): string {
  const sym = s.kallsyms?.lookup(...halves(v));
  if (!sym) return `0x${v.toString(16)}`;
  return sym.module ? `${sym.name} [${sym.module}]` : sym.name;
}

/** %pS: sym+0xoff/0xsize [mod], or the address. */
const symOffset = (v: bigint, s: HistSymbols): string => (s.kallsyms ? s.kallsyms.format(...halves(v), 'pS').toString('latin1') : `0x${v.toString(16)}`);

/** kernel: hist_trigger_print_key, one field. */
function keyText(f: HistField, e: HistEntry, offset: number, s: HistSymbols): string {
  const name = f.name;
  // kernel: hist_trigger_stacktrace_print — one frame a line (%pS), up to the first empty slot
  if (f.source === 'stacktrace') {
    const frames: string[] = [];
    for (let i = 0; i < HIST_STACKTRACE_DEPTH; i++) {
      const v = keyU64(e, offset + 8 * i);
      if (v === 0n) break;
      frames.push(`${' '.repeat(9)}${symOffset(v, s)}\n`);
    }
    return `${name}:\n${frames.join('')}`;
  }
  if (f.string) return `${name}: ${padEnd(keyString(e, f, offset), 50)}`;
  const v = keyU64(e, offset);
  switch (f.modifier) {
    case 'hex': return `${name}: ${v.toString(16)}`;
    case 'sym': return `${name}: [${v.toString(16)}] ${padEnd(symName(v, s), 45)}`;
    case 'sym-offset': return `${name}: [${v.toString(16)}] ${padEnd(symOffset(v, s), 55)}`;
    // kernel: save_comm names the idle task <idle>
    case 'execname': return `${name}: ${padEnd(v === 0n ? '<idle>' : e.comm ?? '', 16)}[${padStart(v.toString(), 10)}]`;
    case 'syscall': return `${name}: ${padEnd(s.syscallName?.(v) ?? 'unknown_syscall', 30)}[${padStart(v.toString(), 3)}]`;
    case 'log2': return `${name}: ~ 2^${padEnd(v.toString(), 2)}`;
    case 'buckets': return `${name}: ~ ${v}-${v + f.buckets! - 1n}`;
    default: return `${name}: ${padStart(v.toString(), 10)}`;
  }
}

/** kernel: hist_trigger_entry_print. */
export function entryLine(plan: HistPlan, e: HistEntry, s: HistSymbols): string {
  const t = plan.trigger;
  const key = t.keys.map((k, i) => keyText(k, e, plan.layout.keyOffsets[i]!, s)).join(', ');
  // kernel: a stacktrace key ends its lines itself (multiline): no space before the brace
  const close = t.keys.some((k) => k.source === 'stacktrace') ? '}' : ' }';
  let line = `{ ${key}${close} hitcount: ${padStart(e.sums[0]!.toString(), 10)}`;
  t.vals.forEach((v, i) => {
    // kernel: hist_trigger_entry_print sums an expression but never prints it
    if (v.source === 'expr') return;
    const sum = e.sums[i + 1]!;
    line += `  ${v.name}: ${padStart(v.modifier === 'hex' ? sum.toString(16) : sum.toString(), 10)}`;
  });
  return `${line}\n`;
}

/** kernel: hist_trigger_show for one trigger (n > 0: not the event's first, so two newlines come first). */
export function histTable(plan: HistPlan, sorted: readonly HistEntry[], dropped: bigint, s: HistSymbols, n = 0): string {
  const hits = sorted.reduce((sum, e) => sum + e.sums[0]!, 0n);
  return `${n > 0 ? '\n\n' : ''}# event histogram\n#\n# trigger info: ${histTriggerInfo(plan.trigger)}#\n\n`
    + sorted.map((e) => entryLine(plan, e, s)).join('')
    + `\nTotals:\n    Hits: ${hits}\n    Entries: ${sorted.length}\n    Dropped: ${dropped}\n`;
}
