// What the bridge throws for a call it will not pass to the kernel. The
// host import wrapper (host.ts) turns it into -errno for libbpf and keeps it
// for the loader's report.
import { ErrnoError } from '../../lib/errors.js';

export type RefusalReason =
  | 'unknown-command'
  | 'short-attr'
  | 'oversized-attr'
  | 'unknown-bytes'
  | 'pointer-out-of-bounds'
  | 'pointer-not-allowed'
  | 'split-field'
  | 'bad-fd'
  | 'not-load-only'
  | 'path-not-allowed';

/** A call the bridge would not pass to the kernel; `errno` (Linux) is what libbpf is told. */
export class BridgeRefusal extends ErrnoError {
  constructor(readonly reason: RefusalReason, message: string, errno: number) {
    super(message, errno);
  }
}
