// The default uprobe file check: what kern_path(LOOKUP_FOLLOW) + d_is_reg()
// decide in the kernel, done with stat(2) from the caller's cwd.
import { statSync } from 'node:fs';
import type { FileKind } from './probe.js';

export function fileKindFromFs(path: string): FileKind {
  try {
    // (no exception built for a missing file: a probe on one is a common mistake, and exceptions are slow)
    const st = statSync(path, { throwIfNoEntry: false });
    if (st === undefined) return 'missing';
    return st.isFile() ? 'regular' : 'other';
  } catch {
    return 'missing';
  }
}

/**
 * fileKindFromFs asked once per path for one input: its lines usually probe
 * the same binary, and a file that changed between two lines of one write
 * would be a race the kernel does not promise anything about either.
 */
export function fileKindOncePerPath(): (path: string) => FileKind {
  const seen = new Map<string, FileKind>();
  return (path) => {
    let kind = seen.get(path);
    if (kind === undefined) seen.set(path, (kind = fileKindFromFs(path)));
    return kind;
  };
}
