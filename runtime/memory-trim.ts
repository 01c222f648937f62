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

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \d+\s*(.*)$/;

/** The read-only, private, unmodified file mappings of an smaps text that have resident pages. */
export function cleanFileMappings(smaps: string): CleanFileMapping[] {
  const found: CleanFileMapping[] = [];
  let head: { start: bigint; end: bigint; perms: string; path: string } | undefined;
  let fields = new Map<string, number>();
  const close = () => {
    if (!head) return;
    const { perms, path } = head;
    const readOnlyPrivate = perms[0] === 'r' && perms[1] === '-' && perms[3] === 'p';
    const file = path.startsWith('/') && !path.endsWith(' (deleted)');
    const rssKiB = fields.get('Rss') ?? 0;
    if (readOnlyPrivate && file && fields.get('Anonymous') === 0 && (fields.get('Locked') ?? 0) === 0 && rssKiB > 0) {
      found.push({ start: head.start, end: head.end, path, rssKiB });
    }
  };
  for (const line of smaps.split('\n')) {
    const h = HEADER.exec(line);
    if (h) {
      close();
      head = { start: BigInt(`0x${h[1]}`), end: BigInt(`0x${h[2]}`), perms: h[3]!, path: h[4]! };
      fields = new Map();
      continue;
    }
    const f = /^(\w+):\s+(\d+) kB$/.exec(line);
    if (f) fields.set(f[1]!, Number(f[2]));
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
