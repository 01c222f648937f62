// The kernel's struct trace_entry as format files list it, for tests that
// build their own EventFormat and records.
import type { FieldFormat } from '../../../compiler/abi.js';

export const COMMON_FIELDS: readonly FieldFormat[] = [
  { ctype: 'unsigned short', name: 'common_type', offset: 0, size: 2, signed: false },
  { ctype: 'unsigned char', name: 'common_flags', offset: 2, size: 1, signed: false },
  { ctype: 'unsigned char', name: 'common_preempt_count', offset: 3, size: 1, signed: false },
  { ctype: 'int', name: 'common_pid', offset: 4, size: 4, signed: true },
];
