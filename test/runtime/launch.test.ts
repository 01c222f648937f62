// -c CMD: the command is held until probes are attached, so its very first
// calls are seen; -p scoping by the held pid covers the command after exec.
import t from 'tap';
import { uprobeEventsSkipReason, withKernelLock } from '../lib/kernel.js';
import { launchHeld } from '../../runtime/launch.js';
import { attachUprobe, readPmu } from '../../runtime/attach/index.js';
import { ElfSymbols } from '../../runtime/elf-symbols.js';
import { buildTarget, runTarget } from './lib/target.js';

const skip = uprobeEventsSkipReason() ?? (readPmu('uprobe') ? undefined : 'no uprobe PMU');

t.test('a held command is probed from its first call, and only it', { skip }, async (t) => {
  await withKernelLock(async () => {
    const target = buildTarget();
    try {
      const off = new ElfSymbols(target.path).resolve('kpb_target');
      const held = await launchHeld([target.path, '5'], 'ignore');
      const probe = attachUprobe({ path: target.path, offset: off, isReturn: false }, { pid: held.pid });
      try {
        probe.enable();
        runTarget(target, ['7']); // an unrelated run of the same binary
        held.release();
        t.equal(await held.exited, 1, 'the command ran to its own exit status (sum & 1)');
        t.equal(probe.count(), 5n, 'all 5 calls of the held command counted, none of the other run');
      } finally {
        probe.close();
      }
    } finally {
      target.cleanup();
    }
  });
});

t.test('a held command that is never released can be killed', async (t) => {
  const held = await launchHeld(['/bin/true'], 'ignore');
  held.kill();
  t.equal(await held.exited, 143, 'SIGTERM before release: 128+15');
});
