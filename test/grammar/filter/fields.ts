// The uprobe event the unit tests use, as this kernel's format file
// describes `a=%di:s32 b=%si:u8 c=%si:x16 d=%si:s64 s=+0(%si):string
// u=+0(%si):ustring arr=+0(%si):u32[4] ch=+0(%si):char ar8=+0(%si):u8[3]
// cs=+0(%si):char[4] st=+0(%si):string[2]` (copied from a live 6.18).
import { fieldsFromFormat, type EventField } from '../../../grammar/filter/index.js';

export const FORMAT = `name: e1
ID: 2326
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;
\tfield:s32 a;\toffset:16;\tsize:4;\tsigned:1;
\tfield:u8 b;\toffset:20;\tsize:1;\tsigned:0;
\tfield:u16 c;\toffset:21;\tsize:2;\tsigned:0;
\tfield:s64 d;\toffset:23;\tsize:8;\tsigned:1;
\tfield:__data_loc char[] s;\toffset:31;\tsize:4;\tsigned:1;
\tfield:__data_loc char[] u;\toffset:35;\tsize:4;\tsigned:1;
\tfield:u32 arr[];\toffset:39;\tsize:16;\tsigned:0;
\tfield:u8 ch;\toffset:55;\tsize:1;\tsigned:0;
\tfield:u8 ar8[];\toffset:56;\tsize:3;\tsigned:0;
\tfield:u8 cs[];\toffset:59;\tsize:4;\tsigned:0;
\tfield:__data_loc char[][2] st;\toffset:63;\tsize:8;\tsigned:1;

print fmt: "(%lx) a=%d"
`;

export const FIELDS: readonly EventField[] = fieldsFromFormat(FORMAT);

/** A tracepoint-like event with the string kinds probes never make: char[16], char *, a cpumask. */
export const TP_FIELDS: readonly EventField[] = [
  { name: 'prev_comm', type: 'char[16]', offset: 8, size: 16, signed: false },
  { name: 'name', type: 'const char *', offset: 24, size: 8, signed: false },
  { name: 'mask', type: '__data_loc cpumask_t', offset: 32, size: 4, signed: false },
  { name: 'rel', type: '__rel_loc char[]', offset: 36, size: 4, signed: false },
];
