// "PROCESS INFORMATION" (trace-cmd.dat.v6(5)): tracefs's saved_cmdlines,
// "PID COMM\n" per task, with a u64 size. The reader names each event's
// common_pid from it; like ftrace we keep the last comm a pid had.
import { sized } from './bytes.js';

export function savedCmdlinesText(comms: ReadonlyMap<number, string>): string {
  let s = '';
  for (const [pid, comm] of [...comms].sort((a, b) => a[0] - b[0])) s += `${pid} ${comm}\n`;
  return s;
}

export function cmdlinesSection(comms: ReadonlyMap<number, string>): Buffer {
  return sized(savedCmdlinesText(comms), 8);
}
