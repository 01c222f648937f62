// The kprobe grammar disagreements with the guest's 6.1 kernel that are
// understood, each recorded with both answers exactly as they were seen
// (kprobe-grammar.test.ts turns one into a todo only while both answers stay
// exactly so, and fails an entry that no longer occurs). Most are 6.1 behaving
// like 6.1 where the grammar follows the kernel this machine runs (6.18).
import type { Answer } from '../lib/grammar-diff.js';

/** The corpus's event group. */
export const G = 'kbgk';
/** Stands for __x64_sys_getpid's address ("0x" and 16 hex digits) in lines and answers. */
export const ADDRESS = '{getpid}';

export interface KnownCase { readonly line: string; readonly kernel: Answer; readonly ours: Answer }
export interface Known { readonly why: string; readonly cases: readonly KnownCase[] }

export const KNOWN: readonly Known[] = [
  { why: '6.1 reads a return probe back with its default maxactive (r10:) where none was given; newer kernels print r:', cases: [] },
  { why: '6.1 says "Maxactive is not for kprobe"; newer kernels "Maxactive is only for function exit"', cases: [] },
  { why: 'removing an event that does not exist is a live-kernel check (ENOENT, nothing logged), not a grammar rule', cases: [] },
  {
    why: '6.1 refuses $comm / \\"str" with a non-string type without an error_log entry; newer kernels log "$comm and immediate-string only accepts string type"',
    cases: [],
  },
  {
    why: '6.1 says "Invalid $-variable specified" for $argN off a function entry, and refuses $argN on return probes; newer kernels allow it there and word the error differently',
    cases: [],
  },
  {
    why: '@SYM is resolved when the kernel registers the probe: a symbol it cannot resolve ("@sym+", "@sym+x") fails there, a load-time check '
      + '(an empty name, "@" or "@-1", can never resolve: the grammar refuses it as the kernel does, BAD_PROBE_ADDR at the place)',
    cases: [],
  },
  { why: '6.1 has no char type (added in 6.5)', cases: [] },
  {
    why: 'caret of "String accepts only memory argument" on a dereferenced array: 6.1 points at the type, 6.18 (checked on the host with uprobes) and we at its [N]',
    cases: [],
  },
  { why: 'bare names are BTF arguments in newer kernels ("BTF is not available"); 6.1 says "Invalid fetch argument"', cases: [] },
  { why: '6.1 silently drops arguments past 128; newer kernels refuse with "Too many arguments are specified"', cases: [] },
];
