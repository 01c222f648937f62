// Loading the object for `trace`: the one place that reads the loader's
// result, turned into what the tracer needs (program fds, map fds) or into
// why it cannot go on (a kernel refusing sleepable programs, any other
// failure). Only the wanted programs are loaded.
import { LINUX_ERRNO } from '../lib/errno.js';
import { LoaderError, VerifierError, type BpfObject, type LoadedObject } from './loader.js';

/** A loaded map as the tracer uses it. */
export interface TraceMap {
  readonly fd: number;
  readonly maxEntries: number;
}

export type TraceLoad =
  | {
      readonly kind: 'loaded';
      readonly programFds: ReadonlyMap<string, number>;
      readonly maps: ReadonlyMap<string, TraceMap>;
      /** Programs loaded for a uprobe_multi link (LoadOptions.uprobeMulti). */
      readonly uprobeMulti: ReadonlySet<string>;
    }
  /** The kernel refused sleepable programs (EINVAL): the lines can be compiled again without them. */
  | { readonly kind: 'sleepable-refused'; readonly reason: string }
  | { readonly kind: 'failed'; readonly message: string };

/**
 * Loads the programs of `wanted` (kprobe programs that cannot be attached
 * are not loaded either). `sleepable`: the object has sleepable programs, so
 * EINVAL means this kernel does not run them.
 */
export function loadForTrace(obj: BpfObject, wanted: ReadonlySet<string>, sleepable: boolean, uprobeMulti = false): TraceLoad {
  for (const p of obj.programs()) if (!wanted.has(p.name)) obj.setAutoload(p.name, false);
  let loaded: LoadedObject;
  try {
    loaded = obj.load({ uprobeMulti });
  } catch (e) {
    if (!(e instanceof LoaderError)) throw e;
    if (sleepable && e.errno === LINUX_ERRNO.EINVAL) {
      return { kind: 'sleepable-refused', reason: `loading ${e instanceof VerifierError ? `program ${e.program.name}` : 'the object'} failed with EINVAL` };
    }
    const detail = e instanceof VerifierError ? `${e.cause instanceof Error ? e.cause.message : e.message}\n${e.program.name}: verifier log:\n${e.log}` : e.message;
    return { kind: 'failed', message: `loading failed: ${detail}` };
  }
  return {
    kind: 'loaded',
    programFds: new Map(loaded.programs.filter((p) => p.loaded && p.fd >= 0).map((p) => [p.name, p.fd])),
    maps: new Map(loaded.maps.map((m) => [m.name, { fd: m.fd, maxEntries: m.maxEntries }])),
    uprobeMulti: new Set(loaded.programs.filter((p) => p.loaded && p.uprobeMulti).map((p) => p.name)),
  };
}
