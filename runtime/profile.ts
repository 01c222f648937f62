// The probe profile tables as tracefs prints them:
//   kprobe_profile: "  %-44s %15lu %15lu\n"  event, hits, misses   (trace_kprobe.c: probes_profile_seq_show)
//   uprobe_profile: "  %s %-44s %15lu\n"     file, event, hits     (trace_uprobe.c: probes_profile_seq_show)
// Hits come from the records each event printed; misses are the samples the
// caller knows were dropped for that event (for BPF probes: the program's
// failed outputs), and the ring's lost samples, which name no event, are
// reported on a line of their own rather than hidden.

export interface ProfileRow {
  readonly event: string;
  readonly hits: number;
  readonly misses: number;
  /** uprobes: the probed file, printed first as uprobe_profile does. */
  readonly file?: string;
}

const padEnd = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const padStart = (s: string, n: number): string => (s.length >= n ? s : ' '.repeat(n - s.length) + s);

export function kprobeProfileLine(r: ProfileRow): string {
  return `  ${padEnd(r.event, 44)} ${padStart(String(r.hits), 15)} ${padStart(String(r.misses), 15)}\n`;
}

export function uprobeProfileLine(r: ProfileRow): string {
  return `  ${r.file ?? ''} ${padEnd(r.event, 44)} ${padStart(String(r.hits), 15)}\n`;
}

/** The kprobe_profile table (event, hits, misses) for every row, then lost samples per CPU if any. */
export function renderProfile(rows: readonly ProfileRow[], lostPerCpu: ReadonlyMap<number, number> = new Map()): string {
  let s = rows.map(kprobeProfileLine).join('');
  for (const [cpu, n] of lostPerCpu) if (n > 0) s += `# CPU ${cpu}: ${n} samples lost (perf ring full)\n`;
  return s;
}

/** uprobe_profile's own format, for comparing with the kernel's file. */
export function renderUprobeProfile(rows: readonly ProfileRow[]): string {
  return rows.map(uprobeProfileLine).join('');
}
