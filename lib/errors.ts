// The error vocabulary every stage builds on. Each stage declares its own
// subclasses (ProbeSyntaxError, ObjectFormatError, VerifierError, ...) beside
// the code that throws them; this file only fixes how they look, so a caller
// can test `instanceof`, read `name`, and walk `cause` the same way everywhere.

/**
 * Base of every error kprobe-bpf throws on purpose. `name` is the subclass's
 * own (set once here from the constructor), `cause` is the lower-level error
 * it wraps (standard ES2022 `Error.cause`).
 */
export class KprobeBpfError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An error that carries a Linux errno (a refused system call, or what the kernel would answer). */
export class ErrnoError extends KprobeBpfError {
  readonly errno: number;
  constructor(message: string, errno: number, options?: { cause?: unknown }) {
    super(message, options);
    this.errno = errno;
  }
}

/** The first error of a chain of causes that is an instance of `type`, if any. */
export function findCause<T extends Error>(err: unknown, type: abstract new (...args: never[]) => T): T | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 16; e = e.cause, depth++) {
    if (e instanceof type) return e;
  }
  return undefined;
}
