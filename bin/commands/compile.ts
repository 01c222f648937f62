// kprobe-bpf compile: probe definitions -> one relocatable BPF object.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { disassemble } from '../../bpf/disasm.js';
import type { CompiledObject } from '../../compiler/object.js';
import { renderFormatFile } from '../../compiler/format.js';
import type { Command } from '../command.js';
import { compileFiltered, INPUT_HELP, INPUT_OPTIONS, kernelUsageError, normalizeArgv, readFilteredDefinitions } from '../probe-input.js';

const HELP = `usage: kprobe-bpf compile [-e LINE]... [-f FILE]... -o OUT.o [--legacy] [--disasm] [--format]
                          [--no-sleepable]

Compiles probe definitions to one BPF object (ELF, libbpf-loadable): a program
per event reading x86-64 pt_regs, records in the kernel's trace entry layout
sent through a perf event array (uprobes: sleepable programs, section
uprobe.s/..., that fault user pages in as the kernel's uprobe tracer does and
send through a BPF ring buffer), and metadata describing each event.

${INPUT_HELP}
  -o OUT.o     where to write the object
  --disasm     print each program's assembly, annotated with the fetch argument
               each run of instructions implements (with -o, also writes OUT.o)
  --format     print each event's format file as the kernel publishes it in
               events/GRP/EVENT/format (its ID line is the event's common_type
               in our records, not a kernel event id)
  --no-sleepable
               uprobe programs non-sleepable (kernels before 6.0 refuse
               sleepable ones): strings in pages the process has not touched
               yet then read as (fault)
  -h, --help   this help
`;

/** Every event's format file, one after the other, as tracefs prints them (trace_events.c: f_show); an event of several probes has one, its first's. */
export function formatFiles(compiled: CompiledObject): string {
  const first = new Map<string, CompiledObject['programs'][number]>();
  for (const p of compiled.programs) {
    const name = `${p.ir.format.group}/${p.ir.format.event}`;
    if (!first.has(name)) first.set(name, p);
  }
  return [...first.values()].map((p) => renderFormatFile(p.ir.format, p.eventId)).join('');
}

/** The annotated listing --disasm prints for every program. */
export function listing(compiled: CompiledObject): string {
  const out: string[] = [];
  for (const p of compiled.programs) {
    const insns = p.spec.insns ?? [];
    out.push(`${p.ir.section}: ${p.ir.name}  (${p.ir.format.group}/${p.ir.format.event}, ${insns.length} instructions)`);
    out.push(...disassemble(insns, { annotate: true, strict: false, ...(p.spec.labels ? { labels: p.spec.labels } : {}) }), '');
  }
  return out.join('\n');
}

const compile: Command = {
  async run(argv) {
    const { values } = parseArgs({
      args: normalizeArgv(argv),
      options: { ...INPUT_OPTIONS, o: { type: 'string', short: 'o' }, disasm: { type: 'boolean' }, format: { type: 'boolean' }, 'no-sleepable': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: false,
    });
    if (values.help) { process.stdout.write(HELP); return 0; }
    const badKernel = await kernelUsageError(values, 'compile');
    if (badKernel !== undefined) return badKernel;
    if (!values.o && !values.disasm && !values.format) { process.stderr.write(`kprobe-bpf compile: -o OUT.o, --disasm or --format is required\n\n${HELP}`); return 2; }
    const input = await readFilteredDefinitions(values);
    if (input === undefined) return 1;
    if (input.defs.length === 0) { process.stderr.write('kprobe-bpf compile: no probe definitions given (-e LINE or -f FILE)\n'); return 2; }
    const compiled = await compileFiltered(input, { ...(await import('../compile-options.js')).COMPILE_OPTIONS, sleepable: !values['no-sleepable'] });
    if (compiled === undefined) return 1;
    if (values.o) writeFileSync(values.o, compiled.object);
    if (values.disasm) process.stdout.write(listing(compiled));
    if (values.format) process.stdout.write(formatFiles(compiled));
    return 0;
  },
};
export default compile;
