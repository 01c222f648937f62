// runInGuest: boot a throwaway guest (6.1 unless images names another
// kernel, e.g. 6.12), run one command in it as root
// in the caller's cwd (the host's / read-only over 9p, with a tmpfs overlay),
// and hand back its output and exit status. Anything short of the command
// finishing and its exit code reaching the host (a panic, a hang, qemu dying)
// is a GuestError carrying the console tail: never a pass.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readImages, type GuestImages } from './images.js';
import { DEFAULT_SHAPE, QEMU, qemuArgs, type BootPaths, type MachineShape } from './qemu.js';
import { runScript } from './shell.js';

export interface GuestRun {
  /** argv; the guest sees the host's files, so host paths work. */
  command: string[];
  /** Working directory inside the guest (a host path). */
  cwd: string;
  /** Wall-clock limit from qemu's start, boot included. */
  timeoutMs: number;
  /** Environment of the command; defaults to guestEnv(). */
  env?: Record<string, string>;
  /** Images to boot; defaults to build/vm/guest.json. */
  images?: GuestImages;
  shape?: MachineShape;
}

export interface GuestResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** Last lines the guest printed on its serial console (from the first oops or panic line, if any). */
  consoleTail: string;
  /** Host wall clock, qemu start to exit. */
  seconds: number;
  /** Guest uptime when the command started: kernel boot plus /init. */
  bootSeconds: number;
  /** Guest uptime spent in the command. */
  commandSeconds: number;
}

export type GuestFailure = 'timeout' | 'panic' | 'no-exit-code' | 'qemu-failed';

export class GuestError extends Error {
  constructor(
    readonly failure: GuestFailure,
    message: string,
    readonly consoleTail: string,
    readonly stdout: string,
    readonly stderr: string,
    readonly seconds: number,
  ) {
    super(`${message}\n--- guest console (tail) ---\n${consoleTail}`);
    this.name = 'GuestError';
  }
}

const CONSOLE_TAIL_LINES = 40;
const BACKSTOP_SECONDS = 30;

/** What a guest command gets unless the caller says otherwise. */
export function guestEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    LANG: 'C.UTF-8',
    TERM: 'dumb',
    ...extra,
  };
}

function readText(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

function tail(text: string, lines: number): string {
  return text.replace(/\r/g, '').trimEnd().split('\n').slice(-lines).join('\n');
}

// How the kernel starts reporting trouble (kernel/panic.c, arch/x86/mm/fault.c,
// lib/bug.c). A panic's header sits above a long register and stack dump.
export const TROUBLE = /Kernel panic - not syncing|BUG: |Oops: |general protection fault/;
const MAX_TROUBLE_LINES = 200;

/** The console's last lines, reaching back to the first sign of trouble when there is one. */
function consoleTail(text: string): string {
  const lines = text.replace(/\r/g, '').trimEnd().split('\n');
  const first = lines.findIndex((l) => TROUBLE.test(l));
  const from = first < 0 ? lines.length - CONSOLE_TAIL_LINES : Math.max(first - 5, lines.length - MAX_TROUBLE_LINES);
  return lines.slice(Math.max(0, from)).join('\n');
}

function readNumber(path: string): number | undefined {
  const s = readText(path).trim();
  return s === '' || Number.isNaN(Number(s)) ? undefined : Number(s);
}

interface QemuExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  spawnError?: Error;
  qemuStderr: string;
}

export async function runInGuest(run: GuestRun): Promise<GuestResult> {
  const images = run.images ?? readImages();
  if (!images) throw new Error('runInGuest: no guest images; run `make vm` (build/vm/guest.json is missing)');
  const work = mkdtempSync(join(tmpdir(), 'kprobe-bpf-vm-'));
  const paths: BootPaths = {
    xchg: join(work, 'xchg'),
    console: join(work, 'console.log'),
    stdout: join(work, 'stdout'),
    stderr: join(work, 'stderr'),
  };
  mkdirSync(paths.xchg);
  writeFileSync(join(paths.xchg, 'run.sh'), runScript(run.command, run.cwd, run.env ?? guestEnv()));
  const started = process.hrtime.bigint();
  try {
    const { code, signal, timedOut, spawnError, qemuStderr } = await new Promise<QemuExit>((resolve) => {
      // coreutils timeout kills qemu even if this process dies first (a
      // killed test runner must not leave a VM eating a core); the timer
      // below is the normal path and fires earlier.
      const backstop = String(Math.ceil(run.timeoutMs / 1000) + BACKSTOP_SECONDS);
      const qemu = spawn('timeout', ['-s', 'KILL', backstop, QEMU, ...qemuArgs(images, paths, run.shape ?? DEFAULT_SHAPE)], { stdio: ['ignore', 'ignore', 'pipe'] });
      let qemuStderr = '';
      let timedOut = false;
      // SIGTERM: timeout(1) passes it on to qemu, which quits; SIGKILL would orphan qemu.
      const killOnExit = () => qemu.kill('SIGTERM');
      process.once('exit', killOnExit);
      qemu.stderr.on('data', (d: Buffer) => { qemuStderr += d.toString(); });
      const timer = setTimeout(() => { timedOut = true; qemu.kill('SIGTERM'); }, run.timeoutMs);
      qemu.on('error', (e) => { clearTimeout(timer); process.off('exit', killOnExit); resolve({ code: null, signal: null, timedOut, spawnError: e, qemuStderr }); });
      qemu.on('close', (code, signal) => {
        clearTimeout(timer);
        process.off('exit', killOnExit);
        resolve({ code, signal, timedOut, qemuStderr });
      });
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const consoleLog = readText(paths.console);
    const tailText = consoleTail(consoleLog);
    const stdout = readText(paths.stdout);
    const stderr = readText(paths.stderr);
    const fail = (kind: GuestFailure, why: string): never => {
      throw new GuestError(kind, why, tailText, stdout, stderr, seconds);
    };
    if (spawnError) fail('qemu-failed', `cannot start ${QEMU}: ${spawnError.message}`);
    if (timedOut) fail('timeout', `guest timed out after ${(run.timeoutMs / 1000).toFixed(0)} s running ${run.command.join(' ')}`);
    // A panic makes qemu exit 0 (panic=-1, -no-reboot): only the console
    // tells, and it fails the run even if the command got to report.
    if (/Kernel panic/.test(consoleLog)) fail('panic', `guest kernel panicked running ${run.command.join(' ')}`);
    const exitCode = readNumber(join(paths.xchg, 'exit'));
    if (exitCode === undefined) {
      if (code !== 0) fail('qemu-failed', `${QEMU} exited ${code ?? signal}: ${tail(qemuStderr, 10)}`);
      fail('no-exit-code', `guest stopped without reporting an exit code for ${run.command.join(' ')}`);
    }
    const bootSeconds = readNumber(join(paths.xchg, 'started')) ?? NaN;
    const commandSeconds = (readNumber(join(paths.xchg, 'finished')) ?? NaN) - bootSeconds;
    return { stdout, stderr, exitCode: exitCode as number, consoleTail: tailText, seconds, bootSeconds, commandSeconds };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
