// Kernel versions as the rules table keys them: "MAJOR.MINOR", read from a
// version the user gives (--kernel 6.12) or from a uname release
// ("6.1.0-57-amd64", "6.18.44-fc-v1045").
import { release } from 'node:os';
import { KprobeBpfError } from '../../lib/errors.js';

/** "6.12" -> 6012: a number that orders versions. */
export function versionKey(version: string): number {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) throw new RangeError(`not a kernel version: ${JSON.stringify(version)}`);
  return Number(m[1]) * 1000 + Number(m[2]);
}

/** The "MAJOR.MINOR" of a version or release. */
export function majorMinor(version: string): string {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) throw new RangeError(`not a kernel version: ${JSON.stringify(version)}`);
  return `${Number(m[1])}.${Number(m[2])}`;
}

/** The release of the kernel this process runs on (uname -r). */
export const runningRelease = (): string => (hostRelease ??= release());
/** uname's release, asked once: it cannot change while the process runs. */
let hostRelease: string | undefined;

/** A --kernel value the rules table does not describe. */
export class UnknownKernelError extends KprobeBpfError {}
