// Where the guest's kernel, initramfs and fixtures live, and how they get
// built: mk/vm.mk owns the rules and the caching (make reruns nothing when
// no input changed); this module only asks make and reads its manifest.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The checkout's root, from dist/test/vm/images.js or test/vm/images.ts alike. */
export const REPO_ROOT = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../' : '../../', import.meta.url)).replace(/\/$/, '');

/** build/vm/guest.json, written by mk/vm.mk. */
export interface GuestImages {
  /** The guest kernel's release (Debian's linux-image-amd64, e.g. 6.1.0-56-amd64). */
  release: string;
  /** Uncompressed ELF vmlinux, booted through its PVH entry. */
  kernel: string;
  initramfs: string;
  /** Directory of the fixtures built on the host for the guest suite. */
  fixtures: string;
}

export const MANIFEST = `${REPO_ROOT}/build/vm/guest.json`;

export function readImages(): GuestImages | undefined {
  if (!existsSync(MANIFEST)) return undefined;
  const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as GuestImages;
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

/**
 * Installs the guest's Debian packages if missing (make vm-deps) and builds
 * the images (make vm). Only a platform without them, or packages that cannot
 * be installed, makes the VM unavailable; a failing build is broken, which a
 * test must report as a failure.
 */
export function prepareGuest(): Prepared {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return { kind: 'unavailable', reason: `the test guest is x86-64 Linux under qemu-system-x86_64, this is ${process.platform}/${process.arch}` };
  }
  const deps = make(['vm-deps']);
  if (!deps.ok) return { kind: 'unavailable', reason: `the guest's Debian packages are absent and could not be installed: ${deps.output.split('\n').slice(-3).join(' ')}` };
  if (!existsSync('/usr/bin/qemu-system-x86_64')) return { kind: 'unavailable', reason: 'qemu-system-x86_64 is not installed (package qemu-system-x86)' };
  const built = make(['vm']);
  if (!built.ok) return { kind: 'broken', reason: `make vm failed:\n${built.output}` };
  const images = readImages();
  if (!images) return { kind: 'broken', reason: `make vm succeeded but ${MANIFEST} names no kernel/initramfs:\n${built.output}` };
  return { kind: 'ready', images };
}
