// Whether an fd number is open in this process, as the kernel says (fstat
// fails with EBADF on a closed one): tests of code that closes fds.
import { fstatSync } from 'node:fs';

export function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}
