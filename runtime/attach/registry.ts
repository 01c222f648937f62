// Everything attached is tracked here and detached on close — also when the
// process is told to stop (SIGINT, SIGTERM, SIGHUP), on an uncaught error,
// and at exit. Detaching is synchronous (close fds, tracefs writes), so it
// runs even from the 'exit' hook.
import { closeAll } from '../../lib/close-all.js';
import type { ProbeAttachment } from './probe.js';
import { mark } from '../../lib/timing.js';

const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
/** 128 + signal number, the shell's exit status for a death by signal. */
const SIGNAL_EXIT: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

export class AttachRegistry {
  private readonly live = new Set<ProbeAttachment>();
  private readonly cleanups = new Set<() => void>();
  private hooked = false;
  private readonly onExit = (): void => this.closeAll();
  private readonly onSignal = (sig: NodeJS.Signals): void => {
    this.closeAll();
    this.unhook();
    if (this.signalHandler) this.signalHandler(sig);
    else process.exit(SIGNAL_EXIT[sig] ?? 1);
  };
  private readonly onError = (err: Error): void => {
    this.closeAll();
    this.unhook();
    process.stderr.write(`kprobe-bpf: ${err.stack ?? err.message}\n`);
    process.exit(1);
  };

  /**
   * @param signalHandler called after everything is detached on a stop signal
   *   (default: exit with 128+signo). The trace command passes one that
   *   drains and prints before exiting.
   */
  constructor(private readonly signalHandler?: (sig: NodeJS.Signals) => void) {}

  /** Starts detaching on signals, uncaught errors and exit. */
  hook(): this {
    if (this.hooked) return this;
    this.hooked = true;
    for (const s of STOP_SIGNALS) process.on(s, this.onSignal);
    process.on('uncaughtException', this.onError);
    process.on('exit', this.onExit);
    return this;
  }

  unhook(): void {
    if (!this.hooked) return;
    this.hooked = false;
    for (const s of STOP_SIGNALS) process.off(s, this.onSignal);
    process.off('uncaughtException', this.onError);
    process.off('exit', this.onExit);
  }

  add<T extends ProbeAttachment>(a: T): T {
    this.live.add(a);
    return a;
  }

  /** Any other resource to release with the probes (perf readers, BPF objects). */
  addCleanup(fn: () => void): () => void {
    this.cleanups.add(fn);
    return fn;
  }

  get size(): number {
    return this.live.size;
  }

  /**
   * closeAll(), with the probes closed side by side off this thread (each
   * close waits for the kernel's synchronisation: together they wait once or
   * a few times, not once each). A stop signal or exit meanwhile still
   * detaches the rest synchronously. For the normal end of a session.
   */
  async closeAllAsync(): Promise<void> {
    const probes = [...this.live].reverse();
    if (probes.length) mark('run');
    const closed = await Promise.allSettled(probes.map(async (a) => {
      try {
        await (a.closeAsync ? a.closeAsync() : a.close());
      } finally {
        this.live.delete(a);
      }
    }));
    const failed = closed.find((r) => r.status === 'rejected');
    if (probes.length) mark('detach');
    const cleanups = [...this.cleanups].reverse();
    this.cleanups.clear();
    closeAll([...(failed ? [() => { throw failed.reason; }] : []), ...cleanups]);
  }

  /** Detaches everything; keeps going past failures and reports the first. */
  closeAll(): void {
    const probes = [...this.live].reverse();
    const cleanups = [...this.cleanups].reverse();
    this.live.clear();
    this.cleanups.clear();
    if (probes.length) mark('run');
    closeAll([...probes.map((a) => () => a.close()), () => { if (probes.length) mark('detach'); }, ...cleanups]);
  }
}
