// Probe definitions -> one relocatable BPF object, in two steps as cilium's
// CollectionSpec: buildObjectSpec() decides everything the object holds (a
// program per event, the shared perf ring, scratch and misses maps, the ring
// buffer when a program sends there (uprobes), __ksym externs for kernel addresses, the
// metadata), writeObject() only encodes it. Tests and benches that need a
// variant edit the spec instead of re-creating the map list.
import type { ProbeDefinition } from '../grammar/ast.js';
import type { AsmItem } from '../bpf/asm.js';
import { MapType } from '../bpf/elf.js';
import { programFromAsm, writeObject as writeElfObject, type MapSpec, type ProgramSpec } from '../bpf/elf-writer.js';
import type { CheckedFilter } from '../grammar/filter/index.js';
import {
  EVENTS_MAP, FILTERED_MAP, METADATA_SECTION, SCOPE_FORK_PROGRAM, SCOPE_FORK_SECTION, SCOPE_KIDS_MAP, SCOPE_KIDS_MAX, SCOPE_MAP, METADATA_VERSION, MISSES_MAP, RINGBUF_BYTES, RINGBUF_MAP, SCRATCH_MAP, TASK_SCRATCH_MAP, ringbufBytes,
  type EventMetadata, type ObjectMetadata, type TriggerWrites,
} from './abi.js';
import { generateProgram } from './codegen.js';
import type { ProbeProgram } from './ir.js';
import { lowerProbe, recordCapacity, type LowerOptions } from './lower.js';
import { trampolinesWanted } from './trampoline.js';
import type { Building } from '../lib/mutable.js';
import { metadataText } from './metadata.js';
import { entryDataMap, generateEntryProgram } from './entry-data.js';
import { filterReadback } from '../grammar/filter/syntax.js';
import { emitHistTriggers } from './hist-codegen.js';
import { histMapsOf } from './hist-maps.js';
import type { HistPlan } from './hist-layout.js';
import {
  type CountPlan, STACK_RECORD_SIZE, countMapsOf, emitBeforeRecord, emitCountTriggers, emitRecordGate, emitPostTriggers, hasSwitch, isPost, triggersNeedRecord,
} from './trigger-codegen.js';
import type { ProgramOptions } from './codegen.js';
import { mark } from '../lib/timing.js';
import { emitScopeForkProgram } from './filter-scope.js';

/** What compiling needs beyond lowering: each event's checked filter, keyed GRP/EVENT. */
export interface ObjectOptions extends LowerOptions {
  readonly filters?: ReadonlyMap<string, CheckedFilter>;
  /** Programs check SCOPE_MAP's tgid first (trace -p/-c). */
  readonly scoped?: boolean;
  /**
   * trace -c: the processes the command starts are in scope too, added as
   * they fork by a program on sched:sched_process_fork (child_pid at this
   * offset of its record, from the running kernel's format file).
   */
  readonly followForks?: { readonly childPidOffset: number };
  /** The CPUs the object will run on (trace: this machine's): the BPF ring buffer is sized to them and the records (ringbufBytes); without it, RINGBUF_BYTES. */
  readonly ringCpus?: number;
  /** The hist triggers of the events (--trigger), each with its own map. */
  readonly hists?: readonly HistPlan[];
  /** --no-trace: the programs send no records (only their triggers run). */
  readonly noTrace?: boolean;
  /** The --trigger writes behind `hists`, recorded in the metadata for `trace OBJ.o`. */
  readonly triggerWrites?: TriggerWrites;
  /** The stacktrace, traceon and traceoff triggers of the events (--trigger). */
  readonly counts?: readonly CountPlan[];
}

/** One event's stacktrace/traceon/traceoff triggers as the stages generateProgram runs (compiler/trigger-codegen.ts). */
function countStagesOf(ir: ProbeProgram, eventId: number, counts: readonly CountPlan[], all: readonly CountPlan[], hists: number): Pick<ProgramOptions, 'countStages'> & { countTriggers?: AsmItem[] } {
  const switched = hasSwitch(all);
  if (counts.length === 0 && !switched) return {};
  let n = 0;
  const fresh = (prefix: string) => `trig_${prefix}_${n++}`;
  const needRecord = triggersNeedRecord(counts, hists);
  if (!needRecord) return { countStages: { before: (exit) => emitBeforeRecord(ir, counts, false, switched, exit, fresh) } };
  return {
    countTriggers: emitCountTriggers(ir, counts, fresh),
    countStages: {
      before: (exit) => emitBeforeRecord(ir, counts, true, switched, exit, fresh),
      gate: (after) => emitRecordGate(after, fresh),
      ...(counts.some(isPost) ? { after: (exit: string) => emitPostTriggers(ir, counts, eventId, switched, exit, fresh) } : {}),
    },
  };
}

export interface CompiledProgram {
  readonly ir: ProbeProgram;
  readonly filter?: CheckedFilter;
  readonly scoped?: boolean;
  readonly eventId: number;
  readonly items: readonly AsmItem[];
  readonly spec: ProgramSpec;
  /** A return kprobe's entry program, which saves its entry arguments (compiler/entry-data.ts). */
  readonly entry?: { readonly items: readonly AsmItem[]; readonly spec: ProgramSpec };
}

/** Everything an object will hold, before encoding. */
export interface ObjectSpec {
  readonly license: string;
  readonly programs: readonly CompiledProgram[];
  readonly maps: readonly MapSpec[];
  /** Kernel symbols the programs load the address of (resolved by libbpf from kallsyms). */
  readonly externs: readonly string[];
  /** Programs that belong to no event (the -c command's fork follower). */
  readonly helpers?: readonly ProgramSpec[];
  readonly metadata: ObjectMetadata;
}

export interface CompiledObject {
  readonly programs: readonly CompiledProgram[];
  readonly object: Uint8Array;
}

/** Every kernel symbol the programs' code loads the address of (fetches, probe addresses, the flags code's per-CPU reads). */
function externsOf(programs: readonly CompiledProgram[]): string[] {
  const names = new Set<string>();
  // the assembled instructions, not the items: no labels among them, and a field read instead of an `in` test each
  for (const p of programs) for (const i of p.spec.insns ?? []) if (i.ref?.kind === 'extern') names.add(i.ref.symbol);
  return [...names];
}

/** kernel: local storage maps must be created BPF_F_NO_PREALLOC (bpf_local_storage_map_alloc_check). */
const BPF_F_NO_PREALLOC = 1;

/** The largest record of these programs, or none. */
const largestRecord = (programs: readonly CompiledProgram[]): number | undefined =>
  programs.length ? Math.max(...programs.map((p) => recordCapacity(p.ir))) : undefined;

/**
 * The maps the programs share: rings, record scratch (per CPU, or per task
 * for sleepable programs), per-event misses. minScratch: a record the
 * triggers build in the per-CPU scratch too (the stacktrace trigger's).
 */
function mapsOf(programs: readonly CompiledProgram[], ringBytes: number, minScratch: number, followForks: boolean): MapSpec[] {
  const atomicLargest = largestRecord(programs.filter((p) => !p.ir.sleepable));
  const atomicScratch = atomicLargest === undefined ? undefined : Math.max(atomicLargest, minScratch);
  const taskScratch = largestRecord(programs.filter((p) => p.ir.sleepable));
  return [
    { name: EVENTS_MAP, type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 0 },
    ...(atomicScratch !== undefined ? [{ name: SCRATCH_MAP, type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: atomicScratch, maxEntries: 1 }] : []),
    ...(taskScratch !== undefined
      ? [{ name: TASK_SCRATCH_MAP, type: MapType.TASK_STORAGE, keySize: 4, valueSize: taskScratch, maxEntries: 0, mapFlags: BPF_F_NO_PREALLOC, btfKeyValue: true }]
      : []),
    // indexed by event id, which starts at 1
    { name: MISSES_MAP, type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 8, maxEntries: programs.length + 1 },
    ...(programs.some((p) => p.scoped) ? [{ name: SCOPE_MAP, type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 }] : []),
    ...(followForks ? [{ name: SCOPE_KIDS_MAP, type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: SCOPE_KIDS_MAX }] : []),
    ...(programs.some((p) => p.filter)
      ? [{ name: FILTERED_MAP, type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 8, maxEntries: programs.length + 1 }]
      : []),
    ...(programs.some((p) => p.ir.entryData)
      ? [entryDataMap(Math.max(...programs.map((p) => p.ir.entryData?.args.length ?? 0)))]
      : []),
    ...(programs.some((p) => p.ir.ringbuf)
      ? [{ name: RINGBUF_MAP, type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: ringBytes }]
      : []),
  ];
}

/** What the object says about one program's event. */
export function eventMetadataOf(p: CompiledProgram): EventMetadata {
  const { ir } = p;
  // built in the metadata's key order, the optional keys assigned in place (a conditional spread is a runtime copy)
  const m: Building<EventMetadata> = {
    id: p.eventId, program: ir.name, section: ir.section, sleepable: ir.sleepable, maxStringSize: ir.maxStringSize,
    definition: ir.definition, place: ir.place,
  } as EventMetadata;
  if (ir.maxactive !== undefined) m.maxactive = ir.maxactive;
  if (p.entry) m.entryProgram = p.entry.spec.name;
  m.format = ir.format;
  if (p.filter) m.filter = filterReadback(p.filter.text);
  return m;
}

/** The kprobe on the function's entry that saves a return probe's entry arguments. */
function entryProgramOf(ir: ProbeProgram, eventId: number): CompiledProgram['entry'] {
  const items = generateEntryProgram(ir.entryData!, eventId);
  const section = ir.section.replace(/^kretprobe\//, 'kprobe/');
  return { items, spec: programFromAsm(`${ir.name}__entry`, section, items, 'pt_regs') };
}

/**
 * Program names, one per definition: GRP__EVENT, and for the second and later
 * probes of one event (the kernel adds a definition that names a defined
 * event to it as one more probe: grammar/append.ts) GRP__EVENT__N.
 */
function programNames(irs: readonly ProbeProgram[]): string[] {
  const seen = new Map<string, number>();
  return irs.map((ir) => {
    const n = (seen.get(ir.name) ?? 0) + 1;
    seen.set(ir.name, n);
    return n === 1 ? ir.name : `${ir.name}__${n}`;
  });
}

/**
 * A string's length the ring is sized for (bytes, NUL included): records go
 * into the ring at their used length, and the paths, names and messages
 * probes fetch are mostly shorter; a run of longer ones wakes the reader sooner.
 */
export const EXPECTED_STRING_BYTES = 64;

/** The record the ring is sized by: the largest one with every string at EXPECTED_STRING_BYTES. */
export function expectedRecordBytes(p: ProbeProgram): number {
  const strings = p.fetches.reduce((n, f) => n + (f.store.op === 'string' ? f.count ?? 1 : 0), 0);
  return recordCapacity(p) - strings * Math.max(0, p.maxStringSize - EXPECTED_STRING_BYTES);
}

export function buildObjectSpec(defs: readonly ProbeDefinition[], opts: ObjectOptions = {}): ObjectSpec {
  if (defs.length === 0) throw new Error('no probe definitions to compile');
  // the environment read once per object, not per definition (process.env is slow to read)
  const lowerOpts = opts.trampolines === undefined ? { ...opts, trampolines: trampolinesWanted(undefined) } : opts;
  const lowered = defs.map((def) => lowerProbe(def, lowerOpts));
  const names = programNames(lowered);
  const irs = lowered.map((ir, i) => (names[i] === ir.name ? ir : { ...ir, name: names[i]! }));
  const ringBytes = opts.ringCpus === undefined ? RINGBUF_BYTES : ringbufBytes(Math.max(...irs.map(expectedRecordBytes)), opts.ringCpus);
  const follow = opts.scoped === true && opts.followForks !== undefined;
  const programs = defs.map((def, i): CompiledProgram => {
    const ir = irs[i]!;
    const eventId = i + 1;
    const filter = opts.filters?.get(`${def.group}/${def.event}`);
    const hists = (opts.hists ?? []).filter((h) => h.group === def.group && h.event === def.event);
    const counts = (opts.counts ?? []).filter((c) => c.group === def.group && c.event === def.event);
    const { countTriggers, ...stages } = countStagesOf(ir, eventId, counts, opts.counts ?? [], hists.length);
    const triggers = hists.length > 0 ? [...emitHistTriggers(ir, hists), ...(countTriggers ?? [])] : countTriggers ?? [];
    // options and result built by assignment: conditional spreads are a runtime copy each, per definition
    const programOpts: Building<ProgramOptions> = { scoped: opts.scoped ?? false, ringBytes, ...stages };
    if (follow) programOpts.scopeChildren = true;
    if (filter) programOpts.filter = filter;
    if (opts.traceContext) programOpts.traceContext = opts.traceContext;
    if (triggers.length > 0) programOpts.triggers = triggers;
    if (opts.noTrace) programOpts.noTrace = true;
    const items = generateProgram(ir, eventId, programOpts);
    const entry = ir.entryData && entryProgramOf(ir, eventId);
    const compiled: Building<CompiledProgram> = {
      ir, eventId, items, spec: programFromAsm(ir.name, ir.section, items, ir.context === 'pt_regs' ? 'pt_regs' : undefined),
    };
    if (entry) compiled.entry = entry;
    if (filter) compiled.filter = filter;
    if (opts.scoped) compiled.scoped = true;
    return compiled;
  });
  return {
    license: 'GPL',
    programs,
    maps: [
      ...mapsOf(programs, ringBytes, opts.counts?.some((c) => c.trigger.kind === 'stacktrace') ? STACK_RECORD_SIZE : 0, follow),
      ...histMapsOf(opts.hists ?? []), ...countMapsOf(opts.counts ?? []),
    ],
    externs: externsOf(programs),
    ...(follow ? { helpers: [programFromAsm(SCOPE_FORK_PROGRAM, SCOPE_FORK_SECTION, emitScopeForkProgram(opts.followForks!.childPidOffset))] } : {}),
    metadata: { version: METADATA_VERSION, events: programs.map(eventMetadataOf), ...(opts.triggerWrites ? { triggers: opts.triggerWrites } : {}) },
  };
}

export function writeObject(spec: ObjectSpec): Uint8Array {
  return writeElfObject({
    license: spec.license,
    programs: [...spec.programs.flatMap((p) => (p.entry ? [p.spec, p.entry.spec] : [p.spec])), ...(spec.helpers ?? [])],
    maps: spec.maps,
    externs: spec.externs.map((name) => ({ name })),
    extraSections: [{ name: METADATA_SECTION, data: metadataText(spec.metadata) }],
  });
}

export function compileDefinitions(defs: readonly ProbeDefinition[], opts: ObjectOptions = {}): CompiledObject {
  mark('module load (compiler)');
  const spec = buildObjectSpec(defs, opts);
  const object = writeObject(spec);
  mark('compile');
  return { programs: spec.programs, object };
}
