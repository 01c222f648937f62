// closeFdAsync: each close on a thread of its own, joined off the event
// loop. Judged by the kernel: fstat on a closed fd fails with EBADF.
import t from 'tap';
import { openSync } from 'node:fs';
import { closeFdAsync } from '../../../runtime/sys/index.js';
import { isOpen } from '../../lib/fd.js';


t.test('many closes at once each close their fd; a close of a closed fd is EBADF', async (t) => {
  const fds = Array.from({ length: 40 }, () => openSync('/dev/null', 'r'));
  const results = await Promise.allSettled(fds.map(closeFdAsync));
  t.same(results.filter((r) => r.status === 'rejected'), [], 'every close succeeded');
  t.same(fds.filter(isOpen), [], 'every fd is closed');
  await t.rejects(closeFdAsync(fds[0]!), /close.*EBADF/, 'closing it again is refused with EBADF');
  t.notOk(isOpen(fds[0]!), 'and nothing else was opened at that number meanwhile');
});
