// Where a guest test is running, and the fixtures mk/vm.mk built for it on
// the host before boot (the guest is ~18x slower than the host).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { MANIFEST, REPO_ROOT, type GuestImages } from '../vm/images.js';

/** The guest's /init finds its exchange dir from this kernel parameter (test/vm/qemu.ts). */
const GUEST_MARK = /(^|\s)kbpf\.xchg=/;

/** True inside the test guest: its kernel was booted with the harness's own parameter. */
export function inGuest(): boolean {
  try {
    return GUEST_MARK.test(readFileSync('/proc/cmdline', 'utf8'));
  } catch {
    return false;
  }
}

/** Skip reason for a guest-only test file, or undefined inside the guest. */
export function notInGuestReason(): string | undefined {
  return inGuest() ? undefined : `runs inside the kprobe test guest only (test/vm.test.ts boots it); this is the host's kernel ${release()}`;
}

const FIXTURE_DIR = (() => {
  try {
    return (JSON.parse(readFileSync(MANIFEST, 'utf8')) as GuestImages).fixtures;
  } catch {
    return `${REPO_ROOT}/build/vm/fixtures`;
  }
})();

/**
 * Path of a fixture built by `make vm-fixtures` (test/guest/fixtures/*.c).
 * On the host a missing fixture is built on the spot; inside the guest it
 * must already exist, since the guest only sees the host's files.
 */
export function fixture(name: string): string {
  const path = `${FIXTURE_DIR}/${name}`;
  if (!existsSync(path) && !inGuest()) {
    const r = spawnSync('make', ['-s', '--no-print-directory', '-C', REPO_ROOT, 'vm-fixtures'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`make vm-fixtures failed:\n${r.stdout}${r.stderr}`);
  }
  if (!existsSync(path)) throw new Error(`fixture ${path} is missing: run \`make vm\` on the host before booting the guest`);
  return path;
}
