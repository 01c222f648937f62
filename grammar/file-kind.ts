// The default uprobe file check: what kern_path(LOOKUP_FOLLOW) + d_is_reg()
// decide in the kernel, done with stat(2) from the caller's cwd.
import { statSync } from 'node:fs';
import type { FileKind } from './probe.js';

export function fileKindFromFs(path: string): FileKind {
  try {
    return statSync(path).isFile() ? 'regular' : 'other';
  } catch {
    return 'missing';
  }
}
