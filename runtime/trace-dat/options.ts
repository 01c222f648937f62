// The optional "options  \0" block before "flyrecord" (trace-cmd.dat.v6(5);
// ids from trace-cmd.dat.v7(5)): u16 id, u32 size, data, ended by id 0. We
// write TRACECLOCK (id 4), the trace_clock file's text with the clock in
// use in brackets: the clock --clock chose (records carry bpf_ktime_get_ns,
// ftrace's "mono"; the writer adds the same offset the text output does).
import { cstring, u16, u32 } from './bytes.js';

const OPTION_DONE = 0;
const OPTION_TRACECLOCK = 4;
export const TRACE_CLOCK = 'mono';

function option(id: number, data: Buffer): Buffer {
  return Buffer.concat([u16(id), u32(data.length), data]);
}

export function optionsSection(clock = TRACE_CLOCK): Buffer {
  return Buffer.concat([Buffer.from('options  \0', 'latin1'), option(OPTION_TRACECLOCK, cstring(`[${clock}]`)), u16(OPTION_DONE)]);
}
