// The function of a return uprobe line, `(RET <- FUNC)`, on kernels before
// 6.6: bpf_get_func_ip learned uprobes in 6.6 (before, it answers 0 there),
// and the kernel's own line prints the probed instruction's address in the
// hitting process. That address is the probe's file offset (the probe's own
// metadata, resolved at attach time for PATH:SYMBOL) placed where the process
// maps that part of the file: /proc/PID/maps, read once per process the first
// time one of its records needs it (a process gone by then keeps 0x0).
import { readFileSync, realpathSync, statSync } from 'node:fs';
import type { ProbePlace } from '../../compiler/abi.js';
import { resolveFileSymbol } from '../elf-symbols.js';

/** The probed function's address in process `pid`, when it can be found. */
export type UprobeFunc = (pid: number) => bigint | undefined;

/** "start-end perms offset major:minor inode path" (fs/proc/task_mmu.c show_map_vma). */
const MAPS_LINE = /^([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) ([0-9a-f]+):([0-9a-f]+) (\d+)\s*(.*)$/;

interface FileId {
  readonly path: string;
  readonly major: bigint;
  readonly minor: bigint;
  readonly ino: bigint;
}

function fileId(path: string): FileId | undefined {
  try {
    const st = statSync(path, { bigint: true });
    // kernel: new_encode_dev's split of dev_t, as glibc's major()/minor()
    const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn);
    const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn);
    return { path: realpathSync(path), major, minor, ino: st.ino };
  } catch {
    return undefined;
  }
}

/** Where file offset `off` of the file is mapped in a maps text, if it is. */
export function mappedAddress(maps: string, file: FileId, off: bigint): bigint | undefined {
  for (const line of maps.split('\n')) {
    const m = MAPS_LINE.exec(line);
    if (!m) continue;
    const sameFile = (BigInt(m[6]!) === file.ino && BigInt(`0x${m[4]}`) === file.major && BigInt(`0x${m[5]}`) === file.minor) || m[7] === file.path;
    if (!sameFile) continue;
    const start = BigInt(`0x${m[1]}`), end = BigInt(`0x${m[2]}`), pgoff = BigInt(`0x${m[3]}`);
    if (off >= pgoff && off < pgoff + (end - start)) return start + (off - pgoff);
  }
  return undefined;
}

const readMaps = (pid: number): string | undefined => {
  try {
    return readFileSync(`/proc/${pid}/maps`, 'latin1');
  } catch {
    return undefined;
  }
};

/** Where the place's instruction is in the file: its offset, and the file's identity (undefined if unreadable). */
function probedFile(place: Extract<ProbePlace, { kind: 'file' | 'file-symbol' }>): { file: FileId; off: bigint } | undefined {
  const file = fileId(place.path);
  if (!file) return undefined;
  try {
    const off = place.kind === 'file-symbol' ? resolveFileSymbol(place.path, place.symbol, place.offset) : place.offset;
    return { file, off };
  } catch {
    return undefined;
  }
}

/**
 * The resolver for a uprobe's place (undefined for a kprobe place). The file
 * is looked at only when a record first needs it: on 6.6+ never.
 */
export function uprobeFuncOf(place: ProbePlace, maps: (pid: number) => string | undefined = readMaps): UprobeFunc | undefined {
  if (place.kind !== 'file' && place.kind !== 'file-symbol') return undefined;
  let probed: { file: FileId; off: bigint } | undefined | null = null;
  const known = new Map<number, bigint | undefined>();
  return (pid) => {
    if (probed === null) probed = probedFile(place);
    if (!probed) return undefined;
    if (!known.has(pid)) {
      const text = maps(pid);
      known.set(pid, text === undefined ? undefined : mappedAddress(text, probed.file, probed.off));
    }
    return known.get(pid);
  };
}
