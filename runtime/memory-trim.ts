// Start-up runs megabytes of code a trace never runs again: Node's module
// loader, V8's parser and compilers for our modules, libbpf's wasm compile,
// the BTF and ELF readers. Those pages of the node binary (and of the
// shared libraries) stay mapped, and counted in the process's RSS, until
// something unmaps them: in a 200k-event trace they were two thirds of the
// peak (issue 13). A read-only private file mapping whose pages are all the
// file's own can drop them (MADV_DONTNEED) and lose nothing: a page used
// again is read back from the page cache (a minor fault, the file is still
// cached), so only what the running trace touches comes back.
//
// A mapping holding any page of its own (Anonymous > 0 in smaps) is left
// alone: RELRO data the dynamic linker wrote before making it read-only, or
// a uprobe's breakpoint in someone's trace of node itself; dropping those
// would bring back the file's bytes instead. Shared mappings (perf and BPF
// ring buffers), writable ones and anonymous memory are never touched.
import { readFileSync } from 'node:fs';
import { madvise, MADV_DONTNEED } from './sys/mman.js';

/** One mapping of /proc/PID/smaps that can drop its pages. */
export interface CleanFileMapping {
  readonly start: bigint;
  readonly end: bigint;
  readonly path: string;
  /** Resident now, KiB. */
  readonly rssKiB: number;
}

/** Mappings holding less than this are left: each madvise costs more than they give back. */
const MIN_RSS_KIB = 256;

/** The read-only, private, unmodified file mappings of an smaps text holding MIN_RSS_KIB or more. */
export function cleanFileMappings(smaps: string): CleanFileMapping[] {
  const found: CleanFileMapping[] = [];
  // per mapping: a header line (RANGE PERMS OFFSET DEV INODE PATH), then "Key:   N kB" lines
  let head: { start: bigint; end: bigint; path: string } | undefined;
  let rssKiB = 0;
  let anonymousKiB = 0;
  let lockedKiB = 0;
  const close = () => {
    if (head && anonymousKiB === 0 && lockedKiB === 0 && rssKiB >= MIN_RSS_KIB) found.push({ ...head, rssKiB });
    head = undefined;
  };
  const kib = (line: string) => Number.parseInt(line.slice(line.indexOf(':') + 1), 10);
  for (const line of smaps.split('\n')) {
    const c = line.charCodeAt(0);
    // field names start with a capital letter; headers with a hex digit
    if (c >= 65 && c <= 90) {
      if (line.startsWith('Rss:')) rssKiB = kib(line);
      else if (line.startsWith('Anonymous:')) anonymousKiB = kib(line);
      else if (line.startsWith('Locked:')) lockedKiB = kib(line);
      continue;
    }
    if (line === '') continue;
    close();
    rssKiB = anonymousKiB = lockedKiB = 0;
    const f = line.split(' ', 2);
    const perms = f[1] ?? '';
    const at = line.indexOf(' /');
    const path = at < 0 ? '' : line.slice(at + 1);
    // r-?p: readable, not writable, private; a file's path, not one since deleted
    if (perms[0] !== 'r' || perms[1] !== '-' || perms[3] !== 'p' || !path.startsWith('/') || path.endsWith(' (deleted)')) continue;
    const dash = f[0]!.indexOf('-');
    head = { start: BigInt(`0x${f[0]!.slice(0, dash)}`), end: BigInt(`0x${f[0]!.slice(dash + 1)}`), path };
  }
  close();
  return found;
}

/**
 * Drops this process's clean file pages; the KiB that were resident in them.
 * Best effort: memory is all it is about, so a trace never fails for it (no
 * /proc, a mapping madvise refuses): what cannot be dropped stays.
 */
export function dropCleanFilePages(smapsPath = '/proc/self/smaps'): number {
  let smaps: string;
  try {
    smaps = readFileSync(smapsPath, 'utf8');
  } catch {
    return 0;
  }
  let kib = 0;
  for (const m of cleanFileMappings(smaps)) {
    try {
      madvise(m.start, Number(m.end - m.start), MADV_DONTNEED);
      kib += m.rssKiB;
    } catch {
      // EINVAL (a mapping gone or changed since smaps was read): keep it
    }
  }
  return kib;
}
