// kprobe-bpf check: loads every program of an object (ours, compiled from
// -e/-f lines, or any libbpf object file) through the kernel verifier without
// attaching anything, one row per program, the verifier's log on rejection
// with the failing instruction mapped back to its probe and fetch argument.
// Exit status: 0 all programs pass, 1 a program (or the object) was
// rejected, 2 usage. The CI check users put on their x86 runners.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { METADATA_SECTION } from '../../compiler/abi.js';
import type { Command } from '../command.js';
import { compileFiltered, INPUT_HELP, INPUT_OPTIONS, kernelUsageError, normalizeArgv, readFilteredDefinitions, type InputValues } from '../probe-input.js';
import { checkNeed, refusedBeforeStart } from '../refusal.js';

const HELP = `usage: kprobe-bpf check [-e LINE]... [-f FILE]... [--legacy] [OBJ.o]...

Loads every program through the kernel verifier without attaching anything
and prints, per program: event, section, instructions, instructions the
verifier processed, and load time. A rejected program's verifier log follows,
its failing instruction mapped back to the probe and fetch argument. Exits 0
when every program passes, 1 otherwise.

${INPUT_HELP}
  OBJ.o        a BPF object file (ours or any libbpf object)
  -v           also print libbpf's informational messages
  -h, --help   this help
`;

/** Where a program of the object being checked came from, when we know. */
export interface ProgramOrigin {
  /** GROUP/EVENT */
  event: string;
  /** the probe definition as written */
  definition: string;
  /** what the instruction at this slot implements (the compiler's annotation) */
  noteAt(slot: number): string | undefined;
}

/** One object to check. */
export interface CheckInput {
  label: string;
  bytes: Uint8Array;
  origin(program: string): ProgramOrigin | undefined;
}

/**
 * The -e/-f hook: turns probe definitions into an object to check. Resolves
 * to undefined after printing a syntax error (kernel error_log form).
 */
export type CompileForCheck = (input: InputValues, noTrampoline?: ReadonlySet<string>) => Promise<CheckInput | undefined>;

/** noTrampoline: functions whose kprobe and fprobe events get kprobe/kretprobe programs (trace's fallback). */
export const compileForCheck: CompileForCheck = async (input, noTrampoline) => {
  const filtered = await readFilteredDefinitions(input);
  if (filtered === undefined) return undefined;
  const defs = filtered.defs;
  const { isWide } = await import('../../bpf/insn.js');
  const compiled = await compileFiltered(filtered, { ...(await import('../compile-options.js')).COMPILE_OPTIONS, ...(noTrampoline ? { noTrampoline } : {}) });
  if (compiled === undefined) return undefined;
  const byName = new Map(compiled.programs.map((p, i) => [p.ir.name, { p, def: defs[i]! }]));
  return {
    label: '(command line)',
    bytes: compiled.object,
    origin(program) {
      const hit = byName.get(program);
      if (!hit) return undefined;
      // The verifier numbers 8-byte slots; ld_imm64 takes two.
      const bySlot: (string | undefined)[] = [];
      for (const insn of hit.p.spec.insns ?? []) {
        bySlot.push(insn.comment);
        if (isWide(insn)) bySlot.push(insn.comment);
      }
      return {
        event: `${hit.p.ir.format.group}/${hit.p.ir.format.event}`,
        definition: hit.def.source,
        noteAt: (slot) => {
          for (let i = Math.min(slot, bySlot.length - 1); i >= 0; i--) if (bySlot[i]) return bySlot[i];
          return undefined;
        },
      };
    },
  };
};

/** An object file: event names from our metadata section when it has one. */
async function objectFile(path: string): Promise<CheckInput | string> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    return `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
  const events = new Map<string, { event: string; definition: string }>();
  let sec;
  try {
    const { readObject } = await import('../../bpf/elf-reader.js');
    sec = readObject(bytes).section(METADATA_SECTION);
  } catch {
    // not an ELF we can read here: libbpf will say what is wrong with it
  }
  // ours, so the metadata must be whole: trace would refuse it
  if (sec) {
    const { decodeMetadata, ObjectFormatError } = await import('../../compiler/metadata.js');
    try {
      for (const e of decodeMetadata(sec.data, basename(path)).events) {
        events.set(e.program, { event: `${e.format.group}/${e.format.event}`, definition: e.definition });
      }
    } catch (e) {
      if (e instanceof ObjectFormatError) return e.message;
      throw e;
    }
  }
  return {
    label: basename(path),
    bytes,
    origin: (program) => {
      const hit = events.get(program);
      return hit ? { ...hit, noteAt: () => undefined } : undefined;
    },
  };
}

/** Index of the instruction the verifier stopped at: the last "N: (op) ..." line. */
export function failingSlot(log: string): number | undefined {
  let slot: number | undefined;
  for (const m of log.matchAll(/^(\d+): \([0-9a-f]{2}\)/gm)) slot = Number(m[1]);
  return slot;
}

const ms = (ns: bigint | undefined) => (ns === undefined ? '-' : (Number(ns) / 1e6).toFixed(2));

function table(rows: string[][]): string {
  const width = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const numeric = [false, false, true, true, true, false];
  return rows.map((r) => r.map((c, i) => (numeric[i] ? c.padStart(width[i]!) : c.padEnd(width[i]!))).join('  ').trimEnd()).join('\n');
}

const check: Command = {
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: normalizeArgv(argv),
      options: { ...INPUT_OPTIONS, v: { type: 'boolean', short: 'v' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
    });
    if (values.help) { process.stdout.write(HELP); return 0; }
    const badKernel = await kernelUsageError(values, 'check');
    if (badKernel !== undefined) return badKernel;
    const inputs: CheckInput[] = [];
    if (values.e?.length || values.f?.length || values.filter?.length) {
      const c = await compileForCheck(values);
      if (!c) return 1;
      inputs.push(c);
    }
    for (const p of positionals) {
      const o = await objectFile(p);
      if (typeof o === 'string') { process.stderr.write(`kprobe-bpf check: ${o}\n`); return 1; }
      inputs.push(o);
    }
    if (!inputs.length) { process.stderr.write(`kprobe-bpf check: nothing to check (give -e LINE, -f FILE or OBJ.o)\n\n${HELP}`); return 2; }

    if (await refusedBeforeStart('check', await checkNeed(values, inputs))) return 1;
    const { checkObject, LoaderError } = await import('../../runtime/loader.js');
    // how a kernel refuses an fentry/fexit program, by the errno name a verdict carries
    const { TRAMPOLINE_REFUSALS } = await import('../../runtime/trace-load.js');
    const { errnoName } = await import('../../lib/errno.js');
    const trampolineRefusals = new Set([...TRAMPOLINE_REFUSALS].map(errnoName));
    const verbose = values.v ?? false;
    const rows: string[][] = [['EVENT', 'SECTION', 'INSNS', 'VERIFIED', 'LOAD_MS', 'RESULT']];
    const reports: string[] = [];
    let failed = false;
    // trace's fallback: fentry/fexit programs of -e/-f lines the kernel refuses are checked again as kprobe programs
    const linesInput = values.e?.length || values.f?.length || values.filter?.length ? inputs[0] : undefined;
    const refusedFunctions = new Set<string>();
    const fellBack = new Set<string>();
    let fallbackInput: CheckInput | undefined;
    const { trampolineFunctionOf } = await import('../../compiler/trampoline.js');
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i]!;
      const logger = (level: string, msg: string) => {
        if (verbose && level !== 'debug') process.stderr.write(`libbpf: ${msg.replace(/\n$/, '')}\n`);
      };
      let result;
      try {
        result = checkObject(input.bytes, { name: input.label, logger });
      } catch (e) {
        failed = true;
        // a LoaderError names the object already ("cannot open BPF object X: ...")
        reports.push(e instanceof LoaderError ? e.message : `${input.label}: ${(e as Error).message}`);
        continue;
      }
      if (result.error) reports.push(`${input.label}: ${result.error}`);
      for (const { program: p, error } of result.verdicts) {
        const origin = input.origin(p.name);
        // the fallback's object: only the programs of the events that fell back (their entry programs, NAME__entry, too)
        if (input === fallbackInput && !fellBack.has(p.name.replace(/__entry$/, ''))) continue;
        const fn = input === linesInput && error && trampolineRefusals.has(error) ? trampolineFunctionOf(p.section) : undefined;
        rows.push([origin?.event ?? p.name, p.section, String(p.insns), p.verifiedInsns === undefined ? '-' : String(p.verifiedInsns), ms(p.loadNs), error ? `FAIL ${error}${fn !== undefined ? ' (trace falls back)' : ''}` : 'ok']);
        if (fn !== undefined) { refusedFunctions.add(fn); fellBack.add(p.name); continue; }
        if (!error) continue;
        failed = true;
        if (!p.log) continue;
        const slot = failingSlot(p.log);
        const note = slot === undefined ? undefined : origin?.noteAt(slot);
        reports.push([
          `${origin?.event ?? p.name} (${p.section}): rejected by the verifier (${error})`,
          ...(origin?.definition ? [`  probe: ${origin.definition}`] : []),
          ...(slot !== undefined ? [`  at instruction ${slot}${note ? `: ${note}` : ''}`] : []),
          '  verifier log:',
          ...p.log.replace(/\n$/, '').split('\n').map((l) => `    ${l}`),
        ].join('\n'));
      }
      if (input === linesInput && refusedFunctions.size > 0) {
        const again = await compileForCheck(values, refusedFunctions);
        if (!again) return 1;
        reports.push(`the kernel refused the BPF trampoline of ${[...refusedFunctions].join(', ')}: checked again as the kprobe/kretprobe programs trace falls back to`);
        fallbackInput = { ...again, label: `${again.label}, kprobe fallback` };
        inputs.splice(i + 1, 0, fallbackInput);
      }
    }
    if (rows.length > 1) process.stdout.write(table(rows) + '\n');
    if (reports.length) process.stdout.write((rows.length > 1 ? '\n' : '') + reports.join('\n\n') + '\n');
    return failed ? 1 : 0;
  },
};
export default check;
