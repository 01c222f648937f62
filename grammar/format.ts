// The canonical text of a command: what the kernel prints when kprobe_events /
// uprobe_events is read back (kernel: trace_kprobe_show, trace_uprobe_show).
import type { ProbeCommand, ProbeDefinition } from './ast.js';

const hex16 = (v: bigint) => `0x${v.toString(16).padStart(16, '0')}`;

function place(def: ProbeDefinition): string {
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
  }
}

/** One line, no trailing newline. */
export function formatProbeCommand(cmd: ProbeCommand): string {
  if (cmd.op === 'remove') {
    return `-:${cmd.group !== undefined ? `${cmd.group}/` : ''}${cmd.event}${cmd.args?.length ? ` ${cmd.args.join(' ')}` : ''}`;
  }
  const head = `${cmd.isReturn ? 'r' : 'p'}${cmd.tracer === 'kprobe' && cmd.isReturn && cmd.maxactive ? cmd.maxactive : ''}`;
  const args = cmd.args.map((a) => ` ${a.name}=${a.source}`).join('');
  return `${head}:${cmd.group}/${cmd.event} ${place(cmd)}${args}`;
}
