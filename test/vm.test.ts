// The kernel-kprobe part of `make test`: boots the throwaway 6.1 guest once
// (test/vm/harness.ts), runs the whole guest suite (dist/test/guest/*.test.js)
// in one process inside it, and relays every guest result as a host
// subtest. Then checks the harness itself: output and exit status come
// back, a panic and a hang are failures with the console tail.
// Skips only when the guest cannot exist here (not x86-64 Linux, or its
// Debian packages absent and not installable).
import t from 'tap';
import { mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestError, guestEnv, runInGuest, type GuestResult } from './vm/harness.js';
import { prepareGuest, REPO_ROOT } from './vm/images.js';
import { relay } from './vm/relay.js';
import { failures, parseTap } from './vm/tap-tree.js';

// The budget for the guest part of `make test` is 10 minutes; the suite gets
// most of it, boot included. Its speed is the emulator's on a shared host,
// so overrunning the budget is reported with the time it took, not failed;
// only a guest that runs past SUITE_HANG_MS (a hang) is killed and failed.
const SUITE_BUDGET_MS = 9.5 * 60_000;
const SUITE_HANG_MS = 2 * SUITE_BUDGET_MS;
// tap's per-file limit (package.json) must not cut the guest off first.
t.setTimeout(SUITE_HANG_MS + 5 * 60_000);

const prepared = prepareGuest();

if (prepared.kind === 'unavailable') {
  t.test('kernel kprobes in a QEMU guest', { skip: prepared.reason }, async () => {});
} else if (prepared.kind === 'broken') {
  t.fail('guest images build', { diagnostic: true, output: prepared.reason });
} else {
  const images = prepared.images;

  t.test(`guest suite on Debian's ${images.release} kernel under QEMU TCG`, async (t) => {
    let res: GuestResult;
    try {
      res = await runInGuest({
        command: [process.execPath, `${REPO_ROOT}/dist/test/guest/run.js`],
        cwd: REPO_ROOT,
        timeoutMs: SUITE_HANG_MS,
        images,
        // The root TAP's own default limit (30 s) is far too short at guest speed.
        env: guestEnv({ TAP_TIMEOUT: String(SUITE_HANG_MS / 1000) }),
      });
    } catch (e) {
      if (!(e instanceof GuestError)) throw e;
      // What did finish still shows, then the failure with the console.
      relay(t, parseTap(e.stdout));
      t.fail(`guest ${e.failure} after ${e.seconds.toFixed(1)} s`, { diagnostic: true, console: e.consoleTail, stderr: e.stderr.slice(-4000) });
      return;
    }
    const doc = parseTap(res.stdout);
    relay(t, doc);
    const time = `guest part ${res.seconds.toFixed(1)} s: boot ${res.bootSeconds.toFixed(1)} s, suite ${res.commandSeconds.toFixed(1)} s inside the guest`;
    t.comment(time);
    if (res.seconds * 1000 > SUITE_BUDGET_MS) {
      t.comment(`OVER BUDGET: the guest part took ${res.seconds.toFixed(1)} s, its budget is ${SUITE_BUDGET_MS / 1000} s (reported, not failed: a hang is failed at ${SUITE_HANG_MS / 1000} s)`);
    }
    t.ok(doc.results.length > 0, 'the guest suite reported results', { stdout: res.stdout.slice(-4000), stderr: res.stderr.slice(-4000) });
    if (doc.bailOut !== undefined) t.fail(`guest suite bailed out: ${doc.bailOut}`);
    const failed = failures(doc.results).map((f) => [...f.path, f.result.name].join(' > '));
    t.equal(res.exitCode, 0, `guest suite exited 0 (${time})`, { failed, stderr: res.stderr.slice(-4000), console: res.consoleTail });
  });

  t.test('runInGuest: stdout, stderr, cwd and a non-zero exit status come back; the guest runs 6.1 and writes only to its overlay', async (t) => {
    const cwd = mkdtempSync(join(tmpdir(), 'kprobe-bpf-vm-cwd-'));
    try {
      const r = await runInGuest({
        command: ['/bin/sh', '-c', 'echo out; echo err >&2; pwd; uname -r; echo x > guest-wrote; cat guest-wrote; exit 7'],
        cwd,
        timeoutMs: 120_000,
        images,
      });
      t.equal(r.exitCode, 7, 'exit status');
      t.equal(r.stdout, `out\n${cwd}\n${images.release}\nx\n`, 'stdout: the caller cwd, the guest kernel release, the overlay write');
      t.equal(r.stderr, 'err\n', 'stderr apart from stdout');
      t.notOk(existsSync(join(cwd, 'guest-wrote')), 'the host file system is untouched');
      t.comment(`small command: ${r.seconds.toFixed(1)} s wall, boot ${r.bootSeconds.toFixed(1)} s`);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  t.test('runInGuest: a guest kernel panic is a failure carrying the console tail, never a pass', async (t) => {
    const err = await runInGuest({ command: ['/bin/sh', '-c', 'echo c > /proc/sysrq-trigger; exit 0'], cwd: '/', timeoutMs: 120_000, images }).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof GuestError, 'rejected with GuestError');
    if (!(err instanceof GuestError)) return;
    t.equal(err.failure, 'panic');
    t.match(err.consoleTail, /Kernel panic/, 'the console tail shows the panic');
  });

  t.test('runInGuest: a guest that overruns its time is killed and fails with the console tail', async (t) => {
    const err = await runInGuest({ command: ['sleep', '3600'], cwd: '/', timeoutMs: 8_000, images }).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof GuestError, 'rejected with GuestError');
    if (!(err instanceof GuestError)) return;
    t.equal(err.failure, 'timeout');
    t.match(err.message, /--- guest console \(tail\) ---/, 'the message carries the console tail');
  });
}
