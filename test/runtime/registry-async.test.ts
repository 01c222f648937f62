// AttachRegistry.closeAllAsync, the session's normal detach: every probe's
// fds are closed (off-thread), cleanups run after, and a synchronous
// closeAll() meanwhile (a stop signal, exit) finds the probes already
// closing and closes nothing twice. Judged by the kernel: fstat on a
// closed fd fails with EBADF.
import t from 'tap';
import { closeSync, openSync } from 'node:fs';
import { AttachRegistry, PerfProbe } from '../../runtime/attach/index.js';
import { isOpen } from '../lib/fd.js';


t.test('closeAllAsync closes every probe, then the cleanups; a closeAll meanwhile closes nothing twice', async (t) => {
  const registry = new AttachRegistry();
  const fds = [openSync('/dev/null', 'r'), openSync('/dev/null', 'r'), openSync('/dev/null', 'r')];
  const order: string[] = [];
  registry.add(new PerfProbe('uprobe', 'a', [fds[0]!], () => order.push('a closed')));
  registry.add(new PerfProbe('uprobe', 'b', [fds[1]!, fds[2]!], () => order.push('b closed')));
  registry.addCleanup(() => order.push(`cleanup (fds open: ${fds.filter(isOpen).length})`));
  const pending = registry.closeAllAsync();
  t.doesNotThrow(() => registry.closeAll(), 'a synchronous closeAll while the closes are under way does not close the fds again (no EBADF)');
  await pending;
  t.same(fds.map(isOpen), [false, false, false], 'every fd is closed');
  t.ok(order.includes('a closed') && order.includes('b closed'), "each probe's after-close step ran");
  t.equal(order.filter((o) => o.startsWith('cleanup')).length, 1, 'the cleanup ran once');
  t.equal(registry.size, 0, 'nothing is left registered');
});

t.test('closeAllAsync keeps going past a failing probe and reports it after the cleanups', async (t) => {
  const registry = new AttachRegistry();
  const good = openSync('/dev/null', 'r');
  const gone = openSync('/dev/null', 'r');
  registry.add(new PerfProbe('uprobe', 'good', [good]));
  registry.add(new PerfProbe('uprobe', 'bad', [gone]));
  closeSync(gone); // behind the probe's back: its off-thread close fails with EBADF
  let cleaned = false;
  registry.addCleanup(() => (cleaned = true));
  await t.rejects(registry.closeAllAsync(), /close/, 'the failure is reported');
  t.notOk(isOpen(good), 'the other probe is closed');
  t.ok(cleaned, 'the cleanup ran');
});
