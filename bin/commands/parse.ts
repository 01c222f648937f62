// `kprobe-bpf parse`: checks probe definitions exactly as the kernel would and
// prints each one the way kprobe_events / uprobe_events reads it back.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { kernelUsageError, normalizeArgv } from '../probe-input.js';
import { filterOptions, filtersByCommand, filterWrites, resolveFilters, splitLineFilters } from '../filter-input.js';
import type { ProbeCommand, ProbeDefinition } from '../../grammar/ast.js';
import { formatProbeCommand, parseProbeCommandsUntilError, possibleCpus, selectKernel, type Tracer } from '../../grammar/index.js';

const HELP = `usage: kprobe-bpf parse [-e LINE]... [-f FILE]... [--filter GRP[/EVENT]:FILTER]... [--legacy]
                        [--tracer kprobe|uprobe] [--kernel V] [--btf FILE]

Parses dynamic-event definitions as the kernel's kprobe_events/uprobe_events
would, and prints each one in the canonical form the kernel prints when the
file is read back. On the first bad line it stops, prints what the kernel
appends to tracing/error_log (less the timestamp) to stderr, and exits 1.

options:
  -e, --expr LINE     a definition (repeatable)
  -f, --file FILE     a file of definitions, '-' for stdin (repeatable);
                      '#' starts a comment, blank lines are skipped
      --tracer T      check every line as kprobe or uprobe (default: a place
                      with '/' and ':' is a uprobe, anything else a kprobe)
      --legacy        also accept the 2009 fetch args: aN (argument N, from 0),
                      sN (stack entry N), rv (return value), ra (return address)
      --kernel V      the rules of kernel version V (6.1, 6.12, 6.18...) as its
                      kprobe_events/uprobe_events apply them; default: the
                      running kernel's (uname -r). A return kprobe reads back
                      with the maxactive the kernel registers it with here
      --btf FILE      the kernel BTF BTF arguments are named, checked and
                      typed with (a copy of that kernel's /sys/kernel/btf/vmlinux,
                      or its vmlinux's .BTF section); default: the running kernel's
      --trigger GRP/EVENT:TRIGGER
                      an event trigger (hist:..., stacktrace, traceon, traceoff),
                      printed after the definitions as GRP/EVENT: and what the
                      event's trigger file reads back; a refusal as the kernel
                      logs it
      --filter GRP/EVENT:FILTER, --filter GRP:FILTER
                      set an event's or a group's filter (a write to
                      events/GRP/EVENT/filter or events/GRP/filter); LINE may
                      end in 'if FILTER' too. A definition with a filter
                      prints as 'DEFINITION if FILTER', the filter as the
                      kernel's filter file reads it back
  -h, --help          this text

grammar (kernel Documentation/trace/kprobetrace.rst, uprobetracer.rst):
  p[:[GRP/|GRP.][EVENT]] [MOD:]SYM[+offs]|MEMADDR [FETCHARGS]     kprobe
  r[MAXACTIVE][:[GRP/][EVENT]] [MOD:]SYM[+0] [FETCHARGS]          kretprobe
  p|r[:[GRP/][EVENT]] PATH:OFFSET[%return][(REF_CTR_OFFSET)] [FETCHARGS]
  p|r[:[GRP/][EVENT]] PATH:SYMBOL[+offs][%return] [FETCHARGS]
                      ^ kprobe-bpf extension, not kernel syntax: SYMBOL is
                        resolved from the ELF symbol table when attaching
  -:[GRP/][EVENT]                                                 remove
FETCHARGS: [NAME=]FETCHARG[:TYPE]
  %REG  $stack  $stackN  $retval  $comm  $argN  @ADDR  @SYM[+|-offs] (kprobe)
  @+FILE_OFFS (uprobe)  +|-[u]OFFS(FETCHARG)  \\IMM  \\"STRING"
TYPE: u8/16/32/64 s8/16/32/64 x8/16/32/64 char string ustring symbol symstr
      b<width>@<offset>/<container>  TYPE[N]  (symbol/symstr: kprobes only)
`;

async function readSource(file: string): Promise<string> {
  if (file !== '-') return readFileSync(file, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const parse: Command = {
  async run(argv) {
    let parsed;
    try {
      parsed = parseArgs({
        args: normalizeArgv(argv),
        options: {
          expr: { type: 'string', short: 'e', multiple: true },
          file: { type: 'string', short: 'f', multiple: true },
          tracer: { type: 'string' },
          legacy: { type: 'boolean' },
          kernel: { type: 'string' },
          btf: { type: 'string' },
          filter: { type: 'string', multiple: true },
          trigger: { type: 'string', multiple: true },
          help: { type: 'boolean', short: 'h' },
        },
        tokens: true,
        strict: true,
      });
    } catch (e) {
      process.stderr.write(`kprobe-bpf parse: ${(e as Error).message}\n\n${HELP}`);
      return 2;
    }
    if (parsed.values.help) { process.stdout.write(HELP); return 0; }
    const tracer = parsed.values.tracer;
    if (tracer !== undefined && tracer !== 'kprobe' && tracer !== 'uprobe') {
      process.stderr.write(`kprobe-bpf parse: --tracer must be kprobe or uprobe, not '${tracer}'\n`);
      return 2;
    }
    const badKernel = await kernelUsageError(parsed.values, 'parse');
    if (badKernel !== undefined) return badKernel;
    const rules = selectKernel(parsed.values.kernel).probe;
    // the readback of a return kprobe shows the maxactive it is registered with on this machine
    const readback = { possibleCpus: possibleCpus() };
    // Sources in the order given: each -e is one write, each -f one file.
    const sources = (parsed.tokens ?? []).flatMap((tok) =>
      tok.kind === 'option' && (tok.name === 'expr' || tok.name === 'file') && tok.value !== undefined
        ? [{ kind: tok.name, value: tok.value }] : []);
    if (sources.length === 0) {
      process.stderr.write(`kprobe-bpf parse: give definitions with -e LINE or -f FILE\n\n${HELP}`);
      return 2;
    }
    const printed: ProbeCommand[] = [];
    const attachedEvent = (await import('../attached-events.js')).tracefsAttachedEvents();
    const lineFilters = new Map<ProbeDefinition, string>();
    const flush = async (): Promise<boolean> => {
      const defs = printed.flatMap((c) => (c.op === 'define' ? [c] : []));
      let resolved;
      try {
        resolved = await resolveFilters(defs, filterWrites(lineFilters, filterOptions(parsed.values.filter)), parsed.values.kernel);
      } catch (e) {
        process.stderr.write(`kprobe-bpf parse: ${(e as Error).message}\n`);
        return false;
      }
      if (!resolved) return false;
      const { filterReadback } = await import('../../grammar/filter/index.js');
      process.stdout.write(printed.map((c) => {
        const f = c.op === 'define' ? resolved.filters.get(`${c.group}/${c.event}`) : undefined;
        return `${formatProbeCommand(c, readback)}${f ? ` if ${filterReadback(f.text)}` : ''}\n`;
      }).join(''));
      return true;
    };
    for (const src of sources) {
      let text: string;
      try {
        text = src.kind === 'expr' ? src.value : await readSource(src.value);
      } catch (e) {
        await flush();
        process.stderr.write(`kprobe-bpf parse: cannot read ${src.value}: ${(e as Error).message}\n`);
        return 1;
      }
      let split;
      try {
        split = splitLineFilters(text);
      } catch (e) {
        await flush();
        process.stderr.write(`kprobe-bpf parse: ${(e as Error).message}\n`);
        return 1;
      }
      const { commands, error } = parseProbeCommandsUntilError(split.text, {
        legacy: parsed.values.legacy === true, rules, ...(tracer ? { tracer: tracer as Tracer } : {}), attachedEvent,
        ...(parsed.values.btf !== undefined ? { btf: parsed.values.btf } : {}),
      });
      printed.push(...commands);
      for (const [d, f] of filtersByCommand(commands, split.filters)) lineFilters.set(d, f);
      if (error) {
        await flush();
        const where = src.kind === 'file' ? `${src.value === '-' ? '<stdin>' : src.value}:${error.lineNumber}` : `-e '${src.value}'`;
        process.stderr.write(error.logged
          ? `${error.errorLogEntries().join('\n')}\n`
          : `kprobe-bpf parse: ${where}: ${error.message} (the kernel refuses this line with EINVAL and logs nothing)\n`);
        return 1;
      }
    }
    if (!(await flush())) return 1;
    const { printTriggers } = await import('../trigger-input.js');
    return printTriggers(printed.flatMap((c) => (c.op === 'define' ? [c] : [])), parsed.values.trigger, parsed.values.kernel);
  },
};

export default parse;
