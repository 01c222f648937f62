// bpftool as the kernel's verifier front door: `prog loadall` opens an
// object with Debian's libbpf and loads every program through the running
// kernel's verifier, pinning each one in bpffs. Guest tests use it for the
// 6.1 verifier; the caller unpins what it pinned with unpinAll().
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';

export const BPFFS = '/sys/fs/bpf';

export interface LoadAllResult {
  ok: boolean;
  /** Paths of the programs bpftool pinned. */
  pinned: string[];
  /** bpftool's stdout and stderr: libbpf's messages and, on rejection, the verifier log. */
  output: string;
}

/** A fresh bpffs directory name for this process. */
export function pinDir(tag: string): string {
  return `${BPFFS}/kbpf-${tag}-${process.pid}-${Date.now()}`;
}

export function loadAll(object: string, dir: string): LoadAllResult {
  const r = spawnSync('bpftool', ['prog', 'loadall', object, dir], { encoding: 'utf8' });
  const pinned = existsSync(dir) ? readdirSync(dir).map((n) => `${dir}/${n}`) : [];
  return { ok: r.status === 0, pinned, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}` };
}

/** `bpftool prog show pinned PATH -j`: the kernel's view of a loaded program. */
export interface ProgInfo {
  id: number;
  type: string;
  name: string;
  bytes_xlated: number;
  bytes_jited?: number;
}

export function showPinned(path: string): ProgInfo {
  const r = spawnSync('bpftool', ['-j', 'prog', 'show', 'pinned', path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bpftool prog show pinned ${path}: ${r.stderr}`);
  return JSON.parse(r.stdout) as ProgInfo;
}

/** Unpins everything under dir (a bpffs directory this process made) and removes it. */
export function unpinAll(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
