// kprobe-bpf: one CLI, subcommands loaded lazily so `parse` does not pay for
// koffi or the wasm loader at start-up. cli.ts (the entry) loads this file.
import { readFileSync } from 'node:fs';
import type { Command } from './command.js';
import { mark } from '../lib/timing.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  parse: { summary: 'parse probe definitions and print them as the kernel reads them back', load: async () => (await import('./commands/parse.js')).default },
  compile: { summary: 'compile probe definitions to a BPF object (.o), or print its annotated assembly', load: async () => (await import('./commands/compile.js')).default },
  check: { summary: 'load every program through the kernel verifier without attaching; one row per probe', load: async () => (await import('./commands/check.js')).default },
  trace: { summary: 'attach the probes and print every hit as ftrace prints it', load: async () => (await import('./commands/trace.js')).default },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'usage: kprobe-bpf <command> [options]',
    '',
    'Compiles kprobe_events / uprobe_events lines to eBPF and traces with them.',
    '',
    'commands:',
    ...rows,
    '',
    "Run 'kprobe-bpf help <command>' (or '<command> --help') for a command's options,",
    "'kprobe-bpf --version' for the version.",
  ].join('\n');
}

/** The version of the package this file belongs to (dist/bin/main.js or dist/bundle/main.js -> package.json). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** `help COMMAND` is `COMMAND --help`; bare `help` (or -h) the overview. */
function helpArgv(rest: readonly string[]): string[] | undefined {
  return rest[0] === undefined ? undefined : [rest[0], '--help'];
}

async function run(argv: string[]): Promise<number> {
  const asked = argv[0] === 'help' ? helpArgv(argv.slice(1)) : argv;
  if (asked === undefined) {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  const [name, ...rest] = asked;
  if (name === undefined || name === '-h' || name === '--help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`kprobe-bpf ${packageVersion()}\n`);
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`kprobe-bpf: unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  const command = await entry.load();
  mark('module load (command)');
  return command.run(rest);
}

/**
 * Runs the command argv names and sets the exit code. `startedAt` is when the
 * entry started (performance.now()): before it is node's own start, after it
 * the loading of this file.
 */
export async function main(argv: string[], startedAt: number): Promise<void> {
  mark('node start', startedAt);
  mark('module load (cli)');
  try {
    process.exitCode = await run(argv);
  } catch (err) {
    process.stderr.write(`kprobe-bpf: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.KPROBE_BPF_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  }
}
