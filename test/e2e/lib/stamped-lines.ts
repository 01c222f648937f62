// Trace lines with the columns the plain differential sets aside: the flags
// column and the timestamp (in µs, as printed), for the clock and flags tests.

export interface StampedLine {
  readonly comm: string;
  readonly pid: number;
  readonly flags: string;
  /** The TIMESTAMP column in µs ("%5lu.%06lu"). */
  readonly us: number;
  /** "EVENT: (ip) name=value ..." */
  readonly body: string;
}

const LINE_RE = /^\s*(.*)-(\d+)\s+\[\d{3}\] (.{5}) +(\d+)\.(\d{6}): (.*)$/;

export function stampedLines(trace: string): StampedLine[] {
  const out: StampedLine[] = [];
  for (const line of trace.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = LINE_RE.exec(line);
    if (!m) continue; // the workload's own output shares stdout
    out.push({ comm: m[1]!, pid: Number(m[2]), flags: m[3]!, us: Number(m[4]) * 1e6 + Number(m[5]), body: m[6]! });
  }
  return out;
}
