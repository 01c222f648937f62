// kprobe-bpf trace: compile (or take an object), load through libbpf, attach
// every probe, read the perf rings and print what ftrace prints.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { compileFiltered, INPUT_HELP, INPUT_OPTIONS, kernelUsageError, normalizeArgv, readFilteredDefinitions, type InputValues } from '../probe-input.js';
import { splitCommand } from '../split-command.js';
import { definitionsOfObject, explainingRefusals, refusedBeforeStart } from '../refusal.js';
import type { ProbeSite } from '../../compiler/abi.js';
import { tracefsRoot } from '../../runtime/tracefs-root.js';
import { TRACE_CLOCKS, clockOffsetSoon, type ClockOffset, type TraceClock } from '../../runtime/trace-clock.js';
import type { HistPlan } from '../../compiler/hist-layout.js';

/** Starts measuring the clock's offset; a failure is reported where the trace needs the offset, not here. */
function startClockOffset(clock: TraceClock): Promise<ClockOffset> {
  const soon = clockOffsetSoon(clock, tracefsRoot());
  soon.catch(() => undefined);
  return soon;
}

const isTraceClock = (s: string): s is TraceClock => (TRACE_CLOCKS as readonly string[]).includes(s);

const HELP = `usage: kprobe-bpf trace [-e LINE]... [-f FILE]... [OBJ.o] [-c CMD | -p PID]
                        [--duration S] [--json] [--pipe] [--profile] [--legacy]
                        [--no-sleepable] [-o FILE.dat [-q]] [--clock local|mono|boot]
                        [--ftrace-comm] [--trigger GRP/EVENT:TRIGGER]... [--no-trace] [--interval S]

Attaches the probes and prints each hit exactly as the kernel's trace file
would: the '# tracer: nop' header, then one line per event. Runs until Ctrl-C,
the duration, or the command's exit; then drains every ring, detaches and
removes everything it created.

${INPUT_HELP}
  OBJ.o          an object written by 'kprobe-bpf compile' (instead of -e/-f)
  -c CMD         start CMD held, attach, then let it run; stop when it exits
                 (the processes it starts are traced too)
  -p PID         trace only process PID
  --duration S   stop after S seconds
  --json         one JSON object per event instead of ftrace lines
  --pipe         stream lines as they come, without the header (like trace_pipe)
  -o, --output FILE.dat
                 also write the events as trace-cmd's trace.dat (version 6:
                 event formats, header page, kallsyms for kprobe addresses,
                 saved cmdlines, per-CPU ring pages) for 'trace-cmd report'
                 and KernelShark, written when the trace ends (also on
                 Ctrl-C); the text still goes to stdout, so the terminal
                 shows what the file holds
  -q, --quiet    print no events on stdout (with -o: only the file, like
                 'trace-cmd record'; a -c command's own output stays)
  --profile      afterwards print the kprobe_profile table (event, hits, misses) to stderr
  --no-sleepable compile uprobe programs non-sleepable (for kernels before 6.0):
                 strings in pages the process has not touched yet then print
                 (fault) where the kernel faults them in; without it such a
                 kernel gets them anyway, after saying so
  --clock CLOCK  the trace clock timestamps are on, as ftrace's trace_clock:
                 local (default, sched_clock), mono (CLOCK_MONOTONIC) or boot
                 (CLOCK_BOOTTIME); local and boot are CLOCK_MONOTONIC plus an
                 offset read from the kernel's own clock when tracing starts
  --no-trace     print no trace lines: only the hist triggers' tables (--trigger);
                 no record leaves the programs, the cheap way to aggregate
                 (OBJ.o compiled with --trigger: its tables, its records unprinted)
  --interval S   also print the hist tables every S seconds
  --ftrace-comm  name each line's task as ftrace does, by the last name seen
                 for its pid (saved_cmdlines), instead of its name at the hit:
                 a hit before an exec or a rename then shows the later name
  -h, --help     this help

Lost events are never hidden: they are counted per CPU in the header's
entries-written and reported on stderr.
`;

interface TraceInput {
  readonly object: Uint8Array;
  /** What the object probes (for the refusal diagnosis). */
  readonly definitions: readonly ProbeSite[];
  /** The lines compiled again, without sleepable programs or some fentry/fexit ones (lines only; runtime/tracer.ts TraceOptions). */
  readonly recompile?: (sleepable: boolean, noTrampoline: ReadonlySet<string>) => Uint8Array;
  /** The hist triggers compiled into the object (--trigger). */
  readonly hists?: readonly HistPlan[];
}

/**
 * trace -c: what compiling needs to follow the processes the command starts
 * (child_pid's offset in this kernel's sched_process_fork record); without
 * it, said once, only the command's own process is traced.
 */
async function followForksOf(command: readonly string[] | undefined): Promise<{ followForks?: { childPidOffset: number } }> {
  if (command === undefined) return {};
  const { forkChildPidOffset } = await import('../../runtime/attach/fork-follow.js');
  const { tracefsRoot } = await import('../../runtime/attach/tracefs-probe.js');
  const offset = forkChildPidOffset(tracefsRoot());
  if (typeof offset === 'number') return { followForks: { childPidOffset: offset } };
  process.stderr.write(`kprobe-bpf trace: -c traces the command's own process only (its children are followed through sched:sched_process_fork, and ${offset})\n`);
  return {};
}

/** The object to load: compiled from the lines, or an object file (its metadata describes the events). */
async function loadInput(values: InputValues, objects: readonly string[], sleepable: boolean, scoped: boolean, noTrace: boolean, command?: readonly string[]): Promise<TraceInput | undefined | string> {
  if (objects.length > 1) return 'one object file at a time';
  if (objects.length === 1) {
    if (values.e?.length || values.f?.length || values.filter?.length || values.trigger?.length) return 'give either -e/-f lines (and --filter, --trigger) or an object file, not both';
    if (!sleepable) return "--no-sleepable applies to -e/-f lines: give it to 'kprobe-bpf compile' when writing the object";
    const object = new Uint8Array(readFileSync(objects[0]!));
    // a corrupt or foreign object stops here with one line (ObjectFormatError), before anything is loaded
    const { eventsOfObject } = await import('../../compiler/metadata.js');
    eventsOfObject(object, basename(objects[0]!));
    // the hist triggers it was compiled with (compile --trigger): their tables print as with -e lines
    const { objectHistPlans } = await import('../trigger-input.js');
    const hists = await objectHistPlans(object, basename(objects[0]!));
    if (hists === undefined) return undefined;
    if (noTrace && hists.length === 0) return '--no-trace applies to -e/-f lines with --trigger, or an object compiled with --trigger';
    return { object, definitions: await definitionsOfObject(object), ...(hists.length > 0 ? { hists } : {}) };
  }
  const input = await readFilteredDefinitions(values);
  if (input === undefined) return undefined;
  if (input.defs.length === 0) return 'no probe definitions given (-e LINE, -f FILE or OBJ.o)';
  const { compileDefinitions } = await import('../../compiler/object.js');
  const { btfLowerOptions } = await import('../../compiler/lower.js');
  const { COMPILE_OPTIONS } = await import('../compile-options.js');
  const { onlineCpus } = await import('../../runtime/sys/cpu-list.js');
  // the BPF ring buffer sized to the records and this machine's CPUs (compiler/abi.ts ringbufBytes)
  const follow = await followForksOf(command);
  const compiled = await compileFiltered(input, { ...COMPILE_OPTIONS, sleepable, scoped, ...follow, ringCpus: onlineCpus().length, noTrace });
  if (compiled === undefined) return undefined;
  const hists = input.hists ? { hists: input.hists } : {};
  // the functions whose trampoline the kernel refused get kprobe/kretprobe programs (runtime/tracer.ts)
  const recompile = (s: boolean, noTrampoline: ReadonlySet<string>) =>
    compileDefinitions(input.defs, { ...COMPILE_OPTIONS, ...btfLowerOptions(input.btf), sleepable: s && sleepable, noTrampoline, scoped, ...follow, filters: input.filters, noTrace, ...hists, ...(input.counts ? { counts: input.counts } : {}) }).object;
  return { object: compiled.object, definitions: input.defs, recompile, ...hists };
}

const trace: Command = {
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: normalizeArgv(argv),
      options: {
        ...INPUT_OPTIONS,
        c: { type: 'string', short: 'c' },
        p: { type: 'string', short: 'p' },
        duration: { type: 'string' },
        json: { type: 'boolean' },
        pipe: { type: 'boolean' },
        profile: { type: 'boolean' },
        output: { type: 'string', short: 'o' },
        quiet: { type: 'boolean', short: 'q' },
        'no-sleepable': { type: 'boolean' },
        clock: { type: 'string' },
        'ftrace-comm': { type: 'boolean' },
        'no-trace': { type: 'boolean' },
        interval: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    });
    if (values.help) { process.stdout.write(HELP); return 0; }
    const badKernel = await kernelUsageError(values, 'trace');
    if (badKernel !== undefined) return badKernel;
    const usage = (msg: string) => { process.stderr.write(`kprobe-bpf trace: ${msg}\n`); return 2; };
    if (values.c !== undefined && values.p !== undefined) return usage('-c and -p exclude each other');
    const pid = values.p === undefined ? undefined : Number(values.p);
    if (pid !== undefined && !(Number.isInteger(pid) && pid > 0)) return usage(`-p: not a process id: ${values.p}`);
    const duration = values.duration === undefined ? undefined : Number(values.duration);
    if (duration !== undefined && !(duration > 0)) return usage(`--duration: not a positive number of seconds: ${values.duration}`);
    const command = values.c === undefined ? undefined : splitCommand(values.c);
    if (command !== undefined && command.length === 0) return usage('-c: empty command');

    const clock = values.clock ?? 'local';
    if (!isTraceClock(clock)) return usage(`--clock: not one of ${TRACE_CLOCKS.join(', ')}: ${clock}`);

    const interval = values.interval === undefined ? undefined : Number(values.interval);
    if (interval !== undefined && !(interval > 0)) return usage(`--interval: not a positive number of seconds: ${values.interval}`);
    const noTrace = values['no-trace'] ?? false;
    if ((noTrace || interval !== undefined) && !values.trigger?.length && positionals.length === 0) return usage(`${noTrace ? '--no-trace' : '--interval'} needs a hist trigger (--trigger GRP/EVENT:hist:...)`);
    // the trace clock's offset is measured while the lines compile and load (its tracefs instance waits on the kernel, not on us)
    const clockOffset = startClockOffset(clock);
    const input = await loadInput(values, positionals, !values['no-sleepable'], pid !== undefined || command !== undefined, noTrace, command);
    if (input === undefined) return 1;
    if (typeof input === 'string') return usage(input);

    const need = { tracing: true, attach: true, definitions: input.definitions };
    if (await refusedBeforeStart('trace', need)) return 1;
    const { runTrace } = await import('../../runtime/tracer.js');
    return explainingRefusals('trace', need, () => runTrace({
      object: input.object,
      ...(input.recompile ? { recompile: input.recompile } : {}),
      ...(command ? { command } : {}),
      ...(pid !== undefined ? { pid } : {}),
      ...(duration !== undefined ? { durationMs: duration * 1000 } : {}),
      json: values.json ?? false,
      mode: values.pipe ? 'pipe' : 'trace',
      profile: values.profile ?? false,
      ...(values.output !== undefined ? { output: values.output } : {}),
      quiet: (values.quiet ?? false) || noTrace,
      ...(input.hists?.length ? { hist: { plans: input.hists, ...(interval !== undefined ? { intervalMs: interval * 1000 } : {}) } } : {}),
      clock,
      clockOffset,
      ftraceComm: values['ftrace-comm'] ?? false,
    }));
  },
};
export default trace;
