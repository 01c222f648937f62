// trace -c follows what the command starts: the scope's fork program (compiler/
// filter-scope.ts) on the sched:sched_process_fork tracepoint adds each child
// of a scoped process to the scope. Its record layout differs between kernels
// (6.1's comms are char[16], 6.18's __data_loc), so child_pid's offset is read
// from the running kernel's format file before compiling.
import { readFileSync } from 'node:fs';
import { PERF_SAMPLE_RAW, PERF_TYPE_TRACEPOINT, perfEventOpen } from '../sys/index.js';
import { PerfProbe } from './probe.js';
import { tracepointId } from './tracepoint.js';

const FORK = ['sched', 'sched_process_fork'] as const;

/** child_pid's offset in sched_process_fork's record, or why it cannot be known (no tracefs, no such event). */
export function forkChildPidOffset(root: string | undefined): number | string {
  if (root === undefined) return 'tracefs is not mounted';
  let format: string;
  try {
    format = readFileSync(`${root}/events/${FORK.join('/')}/format`, 'utf8');
  } catch (e) {
    return `cannot read ${root}/events/${FORK.join('/')}/format (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  const m = /field:pid_t child_pid;\s*offset:(\d+);\s*size:4;/.exec(format);
  return m ? Number(m[1]) : `${FORK.join('/')} has no child_pid field`;
}

/** The fork program on its tracepoint, enabled: one perf event (the program runs for every fork on every CPU). */
export function attachForkFollower(progFd: number, root: string): PerfProbe {
  const fd = perfEventOpen({ type: PERF_TYPE_TRACEPOINT, config: tracepointId(FORK[0], FORK[1], root), samplePeriod: 1n, sampleType: PERF_SAMPLE_RAW, flags: ['disabled'] }, -1, 0, -1, `tracepoint ${FORK.join('/')}: perf_event_open`);
  const probe = new PerfProbe('tracepoint', `tracepoint ${FORK.join('/')} (the -c command's children)`, [fd]);
  try {
    probe.setBpf(progFd);
    probe.enable();
  } catch (e) {
    probe.close();
    throw e;
  }
  return probe;
}
