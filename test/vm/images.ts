// Where the guest's kernel, initramfs and fixtures live, and how they get
// built: mk/vm.mk owns the rules and the caching (make reruns nothing when
// no input changed); this module only asks make and reads its manifest.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The checkout's root, from dist/test/vm/images.js or test/vm/images.ts alike. */
export const REPO_ROOT = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../' : '../../', import.meta.url)).replace(/\/$/, '');

/** build/vm/guest.json (or build/vm612/guest.json), written by mk/vm.mk. */
export interface GuestImages {
  /** The guest kernel's release (Debian's linux-image-amd64, e.g. 6.1.0-56-amd64). */
  release: string;
  /** Uncompressed ELF vmlinux, booted through its PVH entry. */
  kernel: string;
  initramfs: string;
  /** Directory of the fixtures built on the host for the guest suite. */
  fixtures: string;
  /**
   * A kernel not installed on the host brings its own modules tree (the
   * directory holding `<release>/`), which the guest's /init binds at
   * /lib/modules/<release>; absent for the installed 6.1 kernel.
   */
  modules?: string;
}

/** One guest kernel the suite runs on, and how mk/vm.mk gets it. */
export interface GuestKernel {
  /** Where it comes from, for test names: "bookworm", "bookworm-backports". */
  suite: string;
  /** make target building its images. */
  target: string;
  /** make target fetching a kernel that is not installed; its failure means the kernel is unavailable here. */
  fetchTarget?: string;
  manifest: string;
}

/** Debian 12's own kernel (6.1), installed with linux-image-amd64. */
export const BOOKWORM: GuestKernel = { suite: 'bookworm', target: 'vm', manifest: `${REPO_ROOT}/build/vm/guest.json` };
/** Debian's 6.12 from bookworm-backports, unpacked under build/vm612 (test/vm/fetch-kernel.sh). */
export const BACKPORTS: GuestKernel = { suite: 'bookworm-backports', target: 'vm612', fetchTarget: 'vm612-kernel', manifest: `${REPO_ROOT}/build/vm612/guest.json` };
export const GUEST_KERNELS: readonly GuestKernel[] = [BOOKWORM, BACKPORTS];

/** The 6.1 guest's manifest: the fixtures named there serve every guest kernel. */
export const MANIFEST = BOOKWORM.manifest;

export function readImages(manifest: string = MANIFEST): GuestImages | undefined {
  if (!existsSync(manifest)) return undefined;
  const m = JSON.parse(readFileSync(manifest, 'utf8')) as GuestImages;
  return existsSync(m.kernel) && existsSync(m.initramfs) ? m : undefined;
}

function make(targets: string[]): { ok: boolean; output: string } {
  const r = spawnSync('make', ['-s', '--no-print-directory', '-C', REPO_ROOT, ...targets], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim() };
}

/** Outcome of preparing the guest: images to boot, or why the VM cannot run here at all, or a build failure. */
export type Prepared =
  | { kind: 'ready'; images: GuestImages }
  | { kind: 'unavailable'; reason: string }
  | { kind: 'broken'; reason: string };

function lastLines(text: string): string {
  return text.split('\n').slice(-3).join(' ');
}

/**
 * Installs the guest's Debian packages if missing (make vm-deps), fetches a
 * kernel that is not installed (its fetch target), and builds the images.
 * Only a platform without them, or packages that cannot be installed or
 * downloaded, makes the VM unavailable; a failing build is broken, which a
 * test must report as a failure.
 */
export function prepareGuest(kernel: GuestKernel = BOOKWORM): Prepared {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return { kind: 'unavailable', reason: `the test guest is x86-64 Linux under qemu-system-x86_64, this is ${process.platform}/${process.arch}` };
  }
  const deps = make(['vm-deps']);
  if (!deps.ok) return { kind: 'unavailable', reason: `the guest's Debian packages are absent and could not be installed: ${lastLines(deps.output)}` };
  if (!existsSync('/usr/bin/qemu-system-x86_64')) return { kind: 'unavailable', reason: 'qemu-system-x86_64 is not installed (package qemu-system-x86)' };
  if (kernel.fetchTarget !== undefined) {
    const fetched = make([kernel.fetchTarget]);
    if (!fetched.ok) return { kind: 'unavailable', reason: `the ${kernel.suite} kernel could not be downloaded from Debian: ${lastLines(fetched.output)}` };
  }
  const built = make([kernel.target]);
  if (!built.ok) return { kind: 'broken', reason: `make ${kernel.target} failed:\n${built.output}` };
  const images = readImages(kernel.manifest);
  if (!images) return { kind: 'broken', reason: `make ${kernel.target} succeeded but ${kernel.manifest} names no kernel/initramfs:\n${built.output}` };
  return { kind: 'ready', images };
}
