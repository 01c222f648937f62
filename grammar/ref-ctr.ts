// The kernel's one rule across uprobe lines: a place (file and offset) has
// one reference counter offset (kernel: validate_ref_ctr_offset, run when a
// uprobe event registers, over every uprobe event defined). A line that
// gives a place another one is refused with a bare -EINVAL; the kernel says
// why only in its log ("Reference counter offset mismatch.").
import { statSync } from 'node:fs';
import type { ProbeCommand, ProbeDefinition, ProbePoint } from './ast.js';
import { aliveDefinitions } from './append.js';

/** Which file a path names (kernel: d_real_inode): device and inode, or the path itself when it cannot be read. */
export type FileIdentity = (path: string) => string;

export function fileIdentityOncePerPath(): FileIdentity {
  const seen = new Map<string, string>();
  return (path) => {
    let id = seen.get(path);
    if (id === undefined) {
      const st = statSync(path, { throwIfNoEntry: false, bigint: true });
      seen.set(path, (id = st ? `${st.dev}:${st.ino}` : `path:${path}`));
    }
    return id;
  };
}

type FilePlace = Extract<ProbePoint, { kind: 'file' | 'file-symbol' }>;

const isFilePlace = (p: ProbePoint): p is FilePlace => p.kind === 'file' || p.kind === 'file-symbol';

/** The place as the rule compares it: the file, then the offset (a PATH:SYMBOL place by its symbol, resolved later). */
const placeKey = (p: FilePlace, identity: FileIdentity): string =>
  `${identity(p.path)}\0${p.kind === 'file' ? p.offset.toString() : `${p.symbol}+${p.offset}`}`;

/**
 * Whether `def` gives its place another reference counter offset than an
 * event still defined in `earlier` (removals applied, as the kernel's list
 * holds only the events not removed yet).
 */
export function refCtrMismatch(def: ProbeDefinition, earlier: readonly ProbeCommand[], identity: FileIdentity): boolean {
  if (def.tracer !== 'uprobe' || !isFilePlace(def.point)) return false;
  const alive = aliveDefinitions(earlier);
  const ctr = def.point.refCtrOffset ?? 0n;
  // (only places with another counter need the files compared: most inputs stat nothing more)
  const others = alive.filter((d) => d.tracer === 'uprobe' && isFilePlace(d.point) && (d.point.refCtrOffset ?? 0n) !== ctr);
  if (others.length === 0) return false;
  const key = placeKey(def.point, identity);
  return others.some((d) => placeKey(d.point as FilePlace, identity) === key);
}
