// The kernel's one rule across uprobe lines: a place (file and offset) has
// one reference counter offset (kernel: validate_ref_ctr_offset, run when a
// uprobe event registers, over every uprobe event defined). A line that
// gives a place another one is refused with a bare -EINVAL; the kernel says
// why only in its log ("Reference counter offset mismatch.").
import type { ProbeDefinition } from './ast.js';
import type { FileIdentity } from '../lib/file-identity.js';
import { samePlace } from './append.js';

const refCtrOf = (d: ProbeDefinition): bigint => (d.point.kind === 'file' || d.point.kind === 'file-symbol' ? d.point.refCtrOffset ?? 0n : 0n);

/** Whether `def` gives its place another reference counter offset than a uprobe still defined (`alive`). */
export function refCtrMismatch(def: ProbeDefinition, alive: readonly ProbeDefinition[], identity: FileIdentity): boolean {
  if (def.tracer !== 'uprobe') return false;
  const ctr = refCtrOf(def);
  return alive.some((d) => d.tracer === 'uprobe' && refCtrOf(d) !== ctr && samePlace(d, def, identity));
}
