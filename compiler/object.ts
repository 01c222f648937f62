// Probe definitions -> one relocatable BPF object: a program per event, the
// shared perf ring and scratch maps, __ksym externs for kernel addresses, and
// our metadata section.
import type { ProbeDefinition } from '../grammar/ast.js';
import type { AsmItem } from '../bpf/asm.js';
import { MapType } from '../bpf/elf.js';
import { programFromAsm, writeObject, type ProgramSpec } from '../bpf/elf-writer.js';
import { EVENTS_MAP, MISSES_MAP, RINGBUF_BYTES, RINGBUF_MAP, SCRATCH_MAP, generateProgram } from './codegen.js';
import type { ProbeProgram } from './ir.js';
import { lowerProbe, recordCapacity, type LowerOptions } from './lower.js';
import { METADATA_SECTION, METADATA_VERSION, encodeMetadata, type EventMetadata } from './metadata.js';

export interface CompiledProgram {
  readonly ir: ProbeProgram;
  readonly eventId: number;
  readonly items: readonly AsmItem[];
  readonly spec: ProgramSpec;
}

export interface CompiledObject {
  readonly programs: readonly CompiledProgram[];
  readonly object: Uint8Array;
}

export { RINGBUF_BYTES };

/** Kernel symbols whose addresses the programs load (resolved by libbpf from kallsyms). */
function externsOf(programs: readonly ProbeProgram[]): string[] {
  const names = new Set<string>();
  for (const p of programs) {
    if (p.probeIp.op === 'ksym') names.add(p.probeIp.symbol);
    for (const f of p.fetches) if (f.source.op === 'ksym') names.add(f.source.symbol);
  }
  return [...names];
}

export function compileDefinitions(defs: readonly ProbeDefinition[], opts: LowerOptions = {}): CompiledObject {
  if (defs.length === 0) throw new Error('no probe definitions to compile');
  const seen = new Set<string>();
  for (const d of defs) {
    const name = `${d.group}/${d.event}`;
    // kernel: one event name, one probe type and argument list (DIFF_PROBE_TYPE, SAME_PROBE)
    if (seen.has(name)) throw new Error(`${name}: event is defined twice`);
    seen.add(name);
  }
  const programs = defs.map((def, i): CompiledProgram => {
    const ir = lowerProbe(def, opts);
    const eventId = i + 1;
    const items = generateProgram(ir, eventId);
    return { ir, eventId, items, spec: programFromAsm(ir.name, ir.section, items, 'pt_regs') };
  });
  const scratchSize = Math.max(...programs.map((p) => recordCapacity(p.ir)));
  const events: EventMetadata[] = programs.map((p) => ({
    id: p.eventId, program: p.ir.name, section: p.ir.section, maxStringSize: p.ir.maxStringSize, format: p.ir.format,
  }));
  const object = writeObject({
    license: 'GPL',
    programs: programs.map((p) => p.spec),
    maps: [
      { name: EVENTS_MAP, type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 0 },
      { name: SCRATCH_MAP, type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: scratchSize, maxEntries: 1 },
      { name: MISSES_MAP, type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 8, maxEntries: programs.length + 1 },
      ...(programs.some((p) => p.ir.sleepable)
        ? [{ name: RINGBUF_MAP, type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: RINGBUF_BYTES }]
        : []),
    ],
    externs: externsOf(programs.map((p) => p.ir)).map((name) => ({ name })),
    extraSections: [{ name: METADATA_SECTION, data: encodeMetadata({ version: METADATA_VERSION, events }) }],
  });
  return { programs, object };
}
