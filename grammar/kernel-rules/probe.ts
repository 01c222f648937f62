// What kprobe_events / uprobe_events accept on a given kernel
// (kernel/trace/trace_probe.c, trace_kprobe.c, trace_uprobe.c): the fields
// the rules table sets per version. The grammar's checks read these fields;
// none of them compares version numbers.
import type { ErrorCode } from '../errors.js';

export interface ProbeRules {
  /** The kernel version these rules describe, "MAJOR.MINOR". */
  readonly version: string;
  /** Error texts this kernel words differently from the table in grammar/errors.ts (6.18's). */
  readonly errorTexts: Readonly<Partial<Record<ErrorCode, string>>>;
  /**
   * Refusals this kernel returns as a bare error (EINVAL, E2BIG) without an
   * error_log entry: the check exists, its logged error does not yet.
   */
  readonly unloggedErrors: readonly ErrorCode[];
  /** The `char` fetch type (6.3). */
  readonly charType: boolean;
  /** The `symstr` fetch type (6.2; in Debian's 6.1 through a stable backport). */
  readonly symstrType: boolean;
  /**
   * BTF arguments (6.5): a bare name or `(` starts a BTF argument (refused
   * here, "BTF is not available or not supported"), and every `$arg...` word
   * is checked up front (traceprobe_expand_meta_args: `$arg*` once, only on a
   * function entry or exit). Before, a bare name is "Invalid fetch argument"
   * and `$argN` off a function entry "Invalid $-variable specified".
   */
  readonly btfArgs: boolean;
  /** `$argN` in a return probe, saved at entry (6.9). */
  readonly exitArgs: boolean;
  /** More than MAX_TRACE_ARGS arguments: 'ignore' the rest (6.1), or 'refuse' (E2BIG). */
  readonly extraArgs: 'ignore' | 'refuse';
  /**
   * Where a type error after a dereference is reported (String accepts only
   * memory argument, Invalid bitfield): at the type within the argument
   * ('argument', 6.1: the offset is passed by value), or from the place the
   * dereference moved the parse context's offset to ('dereference').
   */
  readonly typeErrorOffset: 'argument' | 'dereference';
  /**
   * When an eprobe's `$FIELD` is looked up in the attached event: 'update'
   * (6.1: any `$NAME` parses, the field is looked up after the argument and a
   * miss is "Attached event does not have this field" at the word's start)
   * or 'parse' (6.5, the common parser's parse_trace_event_arg: a miss is
   * BAD_VAR at the `$`). Both leave `$comm` and `\"str"` the default type
   * there, as an event may have a `comm` field.
   */
  readonly eventFields: 'update' | 'parse';
  /**
   * A '(' starts a BTF argument (a typecast) as a letter or '_' does: live
   * 6.18 (uprobes) says "BTF is not available or not supported"; 6.12.95's
   * parse_probe_arg only knows letters and '_' (eprobes there: "Invalid fetch argument").
   */
  readonly btfTypecast: boolean;
}

/**
 * Debian's 6.1 (bookworm, 6.1.0-57 = 6.1.192), checked line by line against
 * its kprobe_events (test/guest/kprobe-grammar.test.ts) and its ERRORS table
 * (the strings in its vmlinux). It has stable backports 6.1.4 lacks: symstr,
 * "The symbol is not unique", "Event too big", and BAD_VAR spelt "variable"
 * (6.1.4: "Invalid $-valiable specified"). The table describes the current
 * Debian 6.1, not 6.1.4.
 */
export const PROBE_BASE: Omit<ProbeRules, 'version'> = {
  errorTexts: { BAD_MAXACT_TYPE: 'Maxactive is not for kprobe' },
  unloggedErrors: ['NEED_STRING_TYPE'],
  charType: false,
  symstrType: true,
  btfArgs: false,
  exitArgs: false,
  extraArgs: 'ignore',
  typeErrorOffset: 'argument',
  eventFields: 'update',
  btfTypecast: false,
};
