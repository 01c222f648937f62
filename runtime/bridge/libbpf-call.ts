// Calls into the wasm libbpf on behalf of an untrusted object file. libbpf's
// parsers can be driven off their tracks by a corrupt object: it may trap
// (an out-of-bounds access the wasm sandbox catches) or never return. Both
// become a LoaderError that says what happened and in which phase; a call
// that runs past its time limit is stopped (V8 terminates the script the
// call runs in, wasm frames included: node:vm's timeout), so a hang is never
// an outcome. The instance is unusable afterwards; the caller discards it.
import vm from 'node:vm';
import { ErrnoError } from '../../lib/errors.js';
import { LINUX_ERRNO } from '../../lib/errno.js';
import { WasiExit } from './wasi.js';

/** Loading an object failed: libbpf's account, with the Linux errno. */
export class LoaderError extends ErrnoError {}

/** libbpf trapped or called exit() inside the sandbox: the object drove it off its tracks. */
export class LibbpfCrashError extends LoaderError {}

/** libbpf did not finish within its time limit and was stopped. */
export class LibbpfTimeoutError extends LoaderError {}

/** What libbpf was doing, for the messages. */
export type LibbpfPhase = 'open' | 'load';

export const PHASE_TEXT: Readonly<Record<LibbpfPhase, string>> = {
  open: 'opening the object (ELF sections, BTF, maps, relocations)',
  load: 'loading the object (maps, relocations, programs)',
};

/**
 * Default time limits (ms): they only tell a hang from work. Opening parses a
 * file of kilobytes in milliseconds on hardware, but took over 5 s in a QEMU
 * TCG guest (6.12, a 9-event object, wasm still on its baseline tier);
 * loading includes the kernel verifier, which can take seconds on a large program.
 */
export const DEFAULT_TIME_LIMIT_MS: Readonly<Record<LibbpfPhase, number>> = { open: 30_000, load: 60_000 };

const context = vm.createContext({ call: undefined as (() => unknown) | undefined });
const script = new vm.Script('call()');

/**
 * Runs `fn` (a call into libbpf) with a time limit. A wasm trap, exit() or
 * timeout is rethrown as a LibbpfCrashError / LibbpfTimeoutError whose
 * message `describe` words (given the trap's own text).
 */
export function callLibbpf<T>(fn: () => T, limitMs: number, describe: (what: string) => string): T {
  context.call = fn;
  try {
    return script.runInContext(context, { timeout: limitMs }) as T;
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
      throw new LibbpfTimeoutError(describe(`did not finish within ${limitMs / 1000} s and was stopped`), LINUX_ERRNO.ETIMEDOUT, { cause: e });
    }
    if (e instanceof WebAssembly.RuntimeError) throw new LibbpfCrashError(describe(`crashed (wasm trap: ${e.message})`), LINUX_ERRNO.EFAULT, { cause: e });
    if (e instanceof WasiExit) throw new LibbpfCrashError(describe(`called exit(${e.code})`), LINUX_ERRNO.EFAULT, { cause: e });
    throw e;
  } finally {
    context.call = undefined;
  }
}
