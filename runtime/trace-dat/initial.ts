// The file's first bytes (trace-cmd.dat.v6(5) "INITIAL FORMAT"): magic
// 0x17 0x08 0x44, "tracing", the version string "6\0", endianness (0 =
// little), the size of userspace's long, and the traced machine's page size.
import { cstring, u32 } from './bytes.js';

export const TRACE_DAT_MAGIC = Buffer.from([0x17, 0x08, 0x44]);
/** Version 6: uncompressed, no sections; trace-cmd 2.x and 3.x read it. */
export const TRACE_DAT_VERSION = '6';

export function initialFormat(pageSize: number, longSize: 4 | 8 = 8): Buffer {
  return Buffer.concat([TRACE_DAT_MAGIC, Buffer.from('tracing', 'latin1'), cstring(TRACE_DAT_VERSION), Buffer.from([0, longSize]), u32(pageSize)]);
}
