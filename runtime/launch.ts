// `-c CMD`: start the command held before it runs a single instruction of
// its own, so probes (and -p scoping by its pid) are in place first. The
// child is a shell that blocks reading a pipe and then execs the command: exec
// keeps the pid, and uprobes are placed on the new image as it is mapped, so
// nothing the command does is missed. Tracing ends when it exits.
import { spawn, type ChildProcess } from 'node:child_process';

export interface HeldCommand {
  /** The pid the command will run as (the shell execs into it). */
  readonly pid: number;
  /** Lets the command run. */
  release(): void;
  /** Resolves with the exit code (or 128+signal) once the command exits. */
  readonly exited: Promise<number>;
  /** Kills it (e.g. when attaching failed and it was never released). */
  kill(signal?: NodeJS.Signals): void;
}

const SIGNUM: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

/** Starts argv[0] with argv[1..] held; stdio is inherited unless told otherwise. */
export function launchHeld(argv: readonly string[], stdio: 'inherit' | 'ignore' | 'pipe' = 'inherit'): Promise<HeldCommand> {
  if (argv.length === 0) return Promise.reject(new Error('-c: empty command'));
  // fd 3 is the hold pipe; `read` returns at EOF too, so closing it releases as well.
  const child: ChildProcess = spawn('/bin/sh', ['-c', 'read -r _ <&3; exec 3<&-; exec "$@"', 'kprobe-bpf-held', ...argv], {
    stdio: [stdio, stdio, stdio, 'pipe'],
  });
  const hold = child.stdio[3] as NodeJS.WritableStream | null;
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => {
      const exited = new Promise<number>((res) =>
        child.once('exit', (code, signal) => res(code ?? 128 + (signal ? (SIGNUM[signal] ?? 0) : 0))),
      );
      resolve({
        pid: child.pid!,
        release: () => hold?.end('go\n'),
        exited,
        kill: (sig = 'SIGTERM') => void child.kill(sig),
      });
    });
  });
}
