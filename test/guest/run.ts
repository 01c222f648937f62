// The guest suite's entry point: ONE node process that imports every guest
// test file, so the guest (~18x slower than the host; a node start costs
// ~1 s, loading tap ~10-20 s there) pays for node and tap once. Each file
// registers its subtests on tap's root test, which runs them in order and
// prints one TAP stream; test/vm.test.ts boots the guest, runs this file,
// and relays the stream as host subtests.
//
//   node dist/test/guest/run.js [NAME-SUBSTRING...]   (inside the guest)
import { existsSync, mkdirSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ensureTracefs, TRACEFS } from '../lib/kernel.js';

/**
 * Saved-cmdline recording held on for the whole suite: an event enabled in a
 * private instance (one that rarely fires). Recording starts with the first
 * enabled event and stops with the last, registering and unregistering probes
 * on the sched_switch/sched_wakeup tracepoints, and each of those rewrites a
 * static call in the scheduler with text_poke_bp. Under QEMU's TCG that
 * rewrite has deadlocked the guest (a CPU spinning on the int3 in __schedule
 * while the other waits for its IPI: soft lockups, "Oops: int3"), and the
 * tests enable and disable events hundreds of times. Held, the recording
 * never stops between them. Best effort: without tracefs there is nothing to hold.
 */
function holdCmdlineRecording(): () => void {
  const dir = `${TRACEFS}/instances/kbpf-hold-cmdlines`;
  try {
    if (ensureTracefs() !== undefined) return () => {};
    if (!existsSync(dir)) mkdirSync(dir);
    writeFileSync(`${dir}/events/sched/sched_kthread_stop/enable`, '1');
  } catch {
    return () => {};
  }
  return () => {
    try {
      writeFileSync(`${dir}/events/sched/sched_kthread_stop/enable`, '0');
      rmdirSync(dir);
    } catch {
      // the guest is powered off after the suite anyway
    }
  };
}

const here = new URL('.', import.meta.url);
const wanted = process.argv.slice(2);
const files = readdirSync(fileURLToPath(here))
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort();
if (files.length === 0) process.stdout.write(`TAP version 14\n1..0 # SKIP no guest test file matches ${wanted.join(' ')}\n`);
const release = holdCmdlineRecording();
process.on('exit', release);
for (const f of files) await import(new URL(f, here).href);
