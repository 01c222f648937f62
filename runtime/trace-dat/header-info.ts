// "HEADER INFO FORMAT" (trace-cmd.dat.v6(5)): tracefs's events/header_page
// and events/header_event as the kernel prints them (kernel/trace/
// ring_buffer.c: ring_buffer_print_page_header, ring_buffer_print_entry_header),
// each after its NUL-terminated name and a u64 size. The reader learns the
// ring page layout from them: a u64 timestamp, a local_t commit (the bytes of
// data used), then the data.
import { cstring, sized } from './bytes.js';

/** struct buffer_data_page: timestamp u64, commit local_t (a long). */
export const PAGE_HEADER_SIZE = 16;

export function headerPageText(pageSize: number): string {
  return (
    '\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n' +
    '\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n' +
    '\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n' +
    `\tfield: char data;\toffset:${PAGE_HEADER_SIZE};\tsize:${pageSize - PAGE_HEADER_SIZE};\tsigned:0;\n`
  );
}

export const HEADER_EVENT_TEXT =
  '# compressed entry header\n' +
  '\ttype_len    :    5 bits\n' +
  '\ttime_delta  :   27 bits\n' +
  '\tarray       :   32 bits\n' +
  '\n' +
  '\tpadding     : type == 29\n' +
  '\ttime_extend : type == 30\n' +
  '\ttime_stamp : type == 31\n' +
  '\tdata max type_len  == 28\n';

export function headerInfo(pageSize: number): Buffer {
  return Buffer.concat([cstring('header_page'), sized(headerPageText(pageSize), 8), cstring('header_event'), sized(HEADER_EVENT_TEXT, 8)]);
}
