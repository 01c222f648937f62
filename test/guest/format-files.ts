// The format files `compile --format` prints against the kernel's own for
// the same definitions, written to dynamic_events for the comparison and
// removed after.
import type { Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TRACEFS, withKernelLock } from '../lib/kernel.js';
import { formatWithoutId, writeDynamicEvent } from './ftrace.js';
import { runCli, splitFormats } from './kdiff.js';

/** One assertion per event `events` lists once the definitions are in: our format file equals the kernel's, the ID line aside. */
export async function formatFilesMatch(
  t: Test, dir: string, definitions: readonly string[], events: () => readonly { group: string; event: string }[],
): Promise<void> {
  const defsFile = join(dir, 'defs-format');
  writeFileSync(defsFile, definitions.join('\n') + '\n');
  const ours = await runCli(['compile', '-f', defsFile, '-o', join(dir, 'format.o'), '--format']);
  t.equal(ours.code, 0, 'compile --format', { stderr: ours.stderr });
  const formats = splitFormats(ours.stdout);
  await withKernelLock(async () => {
    for (const d of definitions) writeDynamicEvent('fprobe', d);
    try {
      for (const e of events()) {
        const kernel = readFileSync(`${TRACEFS}/events/${e.group}/${e.event}/format`, 'utf8');
        t.equal(formatWithoutId(formats.get(e.event) ?? ''), formatWithoutId(kernel), `${e.group}/${e.event}`);
      }
    } finally {
      for (const d of definitions) writeDynamicEvent('fprobe', `-:${/^[prft]\d*:(\S+)/.exec(d)![1]}`);
    }
  });
}
