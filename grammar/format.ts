// The canonical text of a command: what the kernel prints when kprobe_events /
// uprobe_events is read back (kernel: trace_kprobe_show, trace_uprobe_show).
import type { ProbeCommand, ProbeDefinition } from './ast.js';

const hex16 = (v: bigint) => `0x${v.toString(16).padStart(16, '0')}`;

/** The place as the kernel reads it back (and as a `-:` line with arguments must name it). */
export function placeText(def: ProbeDefinition): string {
  const p = def.point;
  const refCtr = (r: bigint | undefined) => (r ? `(0x${r.toString(16)})` : '');
  switch (p.kind) {
    case 'symbol': {
      const sym = p.module !== undefined ? `${p.module}:${p.symbol}` : p.symbol;
      return p.offset !== 0n ? `${sym}+${p.offset}` : sym; // "%s+%u"
    }
    case 'address':
      // The kernel prints "0x%p": hashed with a per-boot secret key unless booted with
      // no_hash_pointers; we print the address, as it does then (see names.ts kprobeEventName).
      return hex16(p.address);
    case 'file':
      return `${p.path}:${hex16(p.offset)}${refCtr(p.refCtrOffset)}`; // "%s:0x%0*lx"
    case 'file-symbol': // our extension: printed as written, the kernel never sees it
      return `${p.path}:${p.symbol}${p.offset !== 0n ? `+0x${p.offset.toString(16)}` : ''}${refCtr(p.refCtrOffset)}`;
    case 'event':
      return `${p.system}.${p.event}`;
    case 'function': // kernel: trace_fprobe_show " %s%s" (symbol, "%return")
      return `${p.module !== undefined ? `${p.module}:` : ''}${p.symbol}${def.isReturn ? '%return' : ''}`;
    case 'tracepoint':
      return p.name;
  }
}

export interface FormatOptions {
  /**
   * The possible CPUs of the kernel that reads the line back (possibleCpus()).
   * Given, a return kprobe without r<N> shows the maxactive the kernel gave it
   * when registering it, as kprobe_events does; absent, it shows none.
   */
  readonly possibleCpus?: number;
}

/**
 * kernel: register_kretprobe sets a maxactive left at 0 to
 * max(10, 2 * num_possible_cpus()) (CONFIG_PREEMPTION, which Debian's kernels
 * have; 6.1 to 6.18), and trace_kprobe_show prints the field when it is not 0.
 * A probe on a module not loaded yet is not registered and shows none: only
 * the running kernel knows that, so the readback assumes a registered probe.
 */
export const registeredMaxactive = (possibleCpus: number): number => Math.max(10, 2 * possibleCpus);

function maxactiveOf(def: ProbeDefinition, opts: FormatOptions): number | undefined {
  if (def.tracer !== 'kprobe' || !def.isReturn) return undefined;
  if (def.maxactive) return def.maxactive;
  return opts.possibleCpus !== undefined ? registeredMaxactive(opts.possibleCpus) : undefined;
}

/** The command letter and maxactive (kernel: trace_fprobe_show prints `f`/`t` and an exit probe's nr_maxactive when set). */
function headOf(def: ProbeDefinition, opts: FormatOptions): string {
  if (def.tracer === 'fprobe') return `f${def.isReturn && def.maxactive ? def.maxactive : ''}`;
  if (def.tracer === 'tprobe') return 't';
  return `${def.isReturn ? 'r' : 'p'}${maxactiveOf(def, opts) ?? ''}`;
}

/** One line, no trailing newline. */
export function formatProbeCommand(cmd: ProbeCommand, opts: FormatOptions = {}): string {
  if (cmd.op === 'remove') {
    return `-:${cmd.group !== undefined ? `${cmd.group}/` : ''}${cmd.event}${cmd.args?.length ? ` ${cmd.args.join(' ')}` : ''}`;
  }
  const args = cmd.args.map((a) => ` ${a.name}=${a.source}`).join('');
  // kernel: eprobe_dyn_event_show — the attached event, never the `if` filter
  if (cmd.point.kind === 'event') return `e:${cmd.group}/${cmd.event} ${cmd.point.system}.${cmd.point.event}${args}`;
  const head = headOf(cmd, opts);
  return `${head}:${cmd.group}/${cmd.event} ${placeText(cmd)}${args}`;
}
