// Differential runs of `kprobe-bpf trace` against the guest kernel's own
// kprobe_events tracer on the SAME probe hits: the kernel's events record
// into a private tracing instance while our CLI traces a command with the
// same definitions, so every value (registers, $stack, kernel pointers,
// jiffies-free data) is identical hit for hit and the lines compare as they
// are, comm, pid and CPU included; only timestamps are set aside, and the
// flags column is compared on its own (kernelFlags/oursFlags).
//
// Window: `-c CMD` starts the command as a held /bin/sh that execs CMD once
// every probe is attached. The kernel, recording all along, also saw that
// shell's own exec and start-up, which ran while we were still attaching.
// Both sides are therefore cut at the command's execve: a marker event on
// the execve system call, the last one of the command's pid.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { TRACEFS } from '../lib/kernel.js';
import { TraceInstance, comparable, defineEvents, parseTrace, removeEvents, type DynamicEvent, type ProbeKind, type TraceLine } from './ftrace.js';

/** The CLI's entry point (bin/kprobe-bpf execs node on it). */
export const CLI_JS = fileURLToPath(new URL('../../bin/cli.js', import.meta.url));

/**
 * V8 flags for the CLI in the guest. Under QEMU TCG (multi-threaded) code
 * from V8's Liftoff wasm tier crashes at random: libbpf (wasm) trapped with
 * "memory access out of bounds" / "table index is out of bounds", or node
 * died of SIGILL/SIGSEGV, in about 1 run of 3 of `check` on the same input
 * (measured: 0 of 7 with --no-liftoff; also bad with --no-wasm-tier-up, and
 * with AVX/BMI off). The host never shows it, so it is the emulator, not
 * the tool: the guest runs the CLI's JS with TurboFan only.
 */
export const GUEST_NODE_FLAGS: readonly string[] = ['--no-liftoff'];

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  signal: NodeJS.Signals | null;
  /** The CLI printed more than OUTPUT_CAP and was killed (a runaway trace). */
  truncated: boolean;
}

/** Beyond this much output the CLI is killed: a scoped trace of the workload prints a few kB. */
const OUTPUT_CAP = 16 << 20;

/** Runs `kprobe-bpf ARGS` to completion, collecting its output (latin1: byte-exact). */
export function runCli(args: readonly string[], timeoutMs = 240_000): Promise<CliRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...GUEST_NODE_FLAGS, CLI_JS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let truncated = false;
    child.stdout.setEncoding('latin1').on('data', (d: string) => {
      if (stdout.length < OUTPUT_CAP) stdout += d;
      else if (!truncated) { truncated = true; child.kill('SIGKILL'); }
    });
    child.stderr.setEncoding('latin1').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, seconds: (Date.now() - started) / 1000, truncated });
    });
  });
}

/** One kallsyms entry of the guest (KASLR is off there, and kptr_restrict 0). */
export interface Ksym {
  addr: bigint;
  type: string;
  module?: string;
}

export function readKallsyms(path = '/proc/kallsyms'): Map<string, Ksym> {
  const out = new Map<string, Ksym>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+) (\S) (\S+)(?:\t\[(\S+)\])?/.exec(line);
    if (!m || out.has(m[3]!)) continue;
    out.set(m[3]!, { addr: BigInt(`0x${m[1]}`), type: m[2]!, ...(m[4] ? { module: m[4] } : {}) });
  }
  return out;
}

/**
 * The kernel's trace line body without its event name's group — nothing to
 * strip: ftrace prints only the event name. Lines of one pid in order.
 */
export function ofPid(lines: readonly TraceLine[], pid: number): TraceLine[] {
  return lines.filter((l) => l.pid === pid);
}

/** Lines from the last marker event on (marker included); [] if there is none. */
export function fromLastMarker(lines: readonly TraceLine[], marker: string): TraceLine[] {
  let at = -1;
  lines.forEach((l, i) => { if (l.body.startsWith(`${marker}: `)) at = i; });
  return at < 0 ? [] : lines.slice(at);
}

export interface DiffRun {
  kernel: { events: DynamicEvent[]; formats: Record<string, string>; lines: TraceLine[]; header: string; other: string[]; profile: string };
  ours: CliRun & { lines: TraceLine[]; other: string[] };
  /** The command's pid (from our marker line), or undefined. */
  pid: number | undefined;
  /** Both sides cut to the command's window, through comparable(). */
  kernelWindow: string[];
  oursWindow: string[];
  /** The flags column of each window line, `FLAGS EVENT` (kprobe-diff.test.ts compares them apart). */
  kernelFlags: string[];
  oursFlags: string[];
}

/** `FLAGS EVENT` of a trace line: the column comparable() leaves out, with the event it belongs to. */
export const flagsOf = (l: TraceLine): string => `${l.flags ?? '-'} ${l.body.slice(0, l.body.indexOf(':'))}`;

const dbg = (m: string) => { if (process.env.KBPF_DUMP) process.stderr.write(`[kdiff ${(performance.now() / 1000).toFixed(1)}] ${m}\n`); };

// The instance keeps its default buffer size and clock: on 6.1, resizing
// an instance's buffer (and switching its clock) before this run corrupted
// its ring (trace_find_cmdline warned about pid 0x81367550, an address) and
// its rmdir hit a list_del BUG. A run fits in the default size; the header's
// entries-in-buffer/entries-written says whether anything was overwritten.

/**
 * Defines `definitions` in kprobe_events, enables them in a private instance,
 * runs `kprobe-bpf trace -f defsFile ARGS -c COMMAND`,
 * then cuts both sides at `marker`. Call inside withKernelLock. Removes
 * everything it created.
 */
export async function diffRun(opts: {
  /** Our definitions file. */
  definitions: string[];
  /** What the kernel is given instead, when it must differ (see symstrAsSymbol); by default the same. */
  kernelDefinitions?: string[];
  /** Maps each kernel comparable line to what we must print (see quoteArgs). */
  kernelLineFix?: (line: string) => string;
  defsFile: string;
  command: string;
  marker: string;
  extraArgs?: string[];
  /** Compare our comms as ftrace would show them (lastCommPerPid); default true. */
  ftraceComm?: boolean;
  /** Where the kernel's definitions go: kprobe_events (default) or dynamic_events for f/t lines. */
  kind?: ProbeKind;
}): Promise<DiffRun> {
  writeFileSync(opts.defsFile, opts.definitions.join('\n') + '\n');
  const inst = new TraceInstance(TRACEFS);
  let events: DynamicEvent[] = [];
  try {
    events = defineEvents(opts.kind ?? 'kprobe', opts.kernelDefinitions ?? opts.definitions);
    const formats: Record<string, string> = {};
    for (const e of events) formats[`${e.group}/${e.event}`] = readFileSync(`${TRACEFS}/events/${e.group}/${e.event}/format`, 'utf8');
    for (const e of events) inst.enable(e);
    inst.start();
    dbg('recording; starting the CLI');
    let cli: CliRun;
    try {
      cli = await runCli(['trace', '-f', opts.defsFile, ...(opts.extraArgs ?? []), '-c', opts.command]);
    } finally {
      inst.stop();
    }
    dbg(`cli done code=${cli.code} ${cli.seconds}s out=${cli.stdout.length}`);
    // Read while the events still exist: every kprobe event's hits and misses so far.
    const profile = readFileSync(`${TRACEFS}/kprobe_profile`, 'utf8');
    const text = inst.read();
    dbg(`kernel trace ${text.length} bytes`);
    const kernel = parseTrace(text);
    const ours = parseTrace(cli.stdout);
    const marker = ours.lines.find((l) => l.body.startsWith(`${opts.marker}: `));
    const pid = marker?.pid;
    const fix = opts.kernelLineFix ?? ((l: string) => l);
    const kernelLines = pid === undefined ? [] : fromLastMarker(ofPid(kernel.lines, pid), opts.marker);
    const ourLines = pid === undefined ? [] : fromLastMarker(opts.ftraceComm === false ? ours.lines : lastCommPerPid(ours.lines), opts.marker);
    const kernelWindow = kernelLines.map((l) => fix(comparable(l)));
    const oursWindow = ourLines.map((l) => comparable(l));
    return {
      kernel: { events, formats, lines: kernel.lines, header: text.split('\n').filter((l) => l.startsWith('#')).join('\n'), other: kernel.other, profile },
      ours: { ...cli, lines: ours.lines, other: ours.other },
      pid,
      kernelWindow,
      oursWindow,
      kernelFlags: kernelLines.map(flagsOf),
      oursFlags: ourLines.map(flagsOf),
    };
  } finally {
    try {
      inst.destroy();
    } finally {
      removeEvents(events);
    }
  }
}

/** `kprobe-bpf compile --format` output split into format files, keyed by event name. */
export function splitFormats(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(/^(?=name: )/m)) {
    const m = /^name: (\S+)\n/.exec(part);
    if (m) out.set(m[1]!, part);
  }
  return out;
}

/**
 * 6.1's own `symstr` is unsafe to use as a reference: fetch_store_symstring
 * sprint_symbol()s straight into the ring buffer entry, and kallsyms writes
 * namebuf[KSYM_NAME_LEN - 1] = 0, up to 511 bytes past the space reserved
 * for the string. Seen here: other entries corrupted (trace_find_cmdline
 * warning about a pid that is a probe address, a list_del BUG on instance
 * rmdir) and an oops in kallsyms_lookup_buildid at a page end. So the kernel
 * gets `symbol` for those arguments, which prints the same "sym+off/size"
 * (%pS) unquoted, and quoteArgs() turns its line into what `symstr` prints.
 */
export function symstrAsSymbol(line: string): string {
  return line.replace(/:symstr\b/g, ':symbol');
}

/** Event name -> names of its `symstr` arguments, from definition lines. */
export function symstrArgs(lines: readonly string[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of lines) {
    const m = /^[pr]\d*:(?:[^/.\s]+[/.])?(\S+)\s/.exec(line);
    if (!m) continue;
    const names = [...line.matchAll(/\s(\w+)=\S+:symstr\b/g)].map((a) => a[1]!);
    if (names.length) out.set(m[1]!, new Set(names));
  }
  return out;
}

/** Quotes the values of the named arguments in a comparable line (`name=v` -> `name="v"`). */
export function quoteArgs(byEvent: ReadonlyMap<string, ReadonlySet<string>>): (line: string) => string {
  return (line) => {
    const m = /^\S+ (?:\[\d+\] )?(\w+): /.exec(line);
    const names = m ? byEvent.get(m[1]!) : undefined;
    if (!names) return line;
    // values of symbol type hold no spaces except before a module name: "sym+0x1/0x2 [mod]"
    return line.replace(/ (\w+)=(\S+(?: \[\w+\])?)(?= \w+=|$)/g, (all, name: string, value: string) => (names.has(name) ? ` ${name}="${value}"` : all));
  };
}

/**
 * A return probe's "(RET <- FUNC)" as the kernel's event prints it depends on
 * the order kretprobes hooked the function: trace_kprobe prints the return
 * address its own rethook node saved, which is the trampoline when another
 * kretprobe on the function hooked first ("[unknown/kretprobe'd]",
 * trace_output.c kretprobed()), as ours do here; BPF sees regs->ip, the real
 * return address. Where the kernel line has it and also an `ip=...` argument
 * (%ip:symbol: the kernel's own rendering of the real return address), that
 * value stands in for the trampoline; the comparison stays exact otherwise.
 */
export function realReturnAddress(line: string): string {
  const m = / ip=(\S+(?: \[\w+\])?)(?= \w+=|$)/.exec(line);
  return m ? line.replace("([unknown/kretprobe'd] <- ", `(${m[1]} <- `) : line;
}

/**
 * ftrace prints a line's comm at read time from saved_cmdlines, so every
 * line of a pid shows the comm it had last (trace.c trace_find_cmdline); we
 * print the comm at the hit (bpf_get_current_comm). They differ for hits
 * before an exec renamed the task. Gives each of our lines its pid's last comm.
 */
export function lastCommPerPid(lines: readonly TraceLine[]): TraceLine[] {
  const last = new Map<number, string>();
  for (const l of lines) last.set(l.pid, l.comm);
  return lines.map((l) => ({ ...l, comm: last.get(l.pid)! }));
}

/** Our trace window equals the kernel's line for line (one assertion), the first differing lines in a comment. */
export function sameWindows(t: Test, kernel: readonly string[], ours: readonly string[], aside = 'timestamps and flags'): void {
  t.same(ours, kernel, `every line equal (${aside} aside), in order`);
  const diffs: string[] = [];
  for (let i = 0; i < Math.max(ours.length, kernel.length) && diffs.length < 8; i++) {
    if (ours[i] !== kernel[i]) diffs.push(`#${i}\n  kernel: ${kernel[i]}\n  ours:   ${ours[i]}`);
  }
  if (diffs.length) t.comment(diffs.join('\n'));
}
