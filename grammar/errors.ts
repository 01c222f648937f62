// The kernel's probe-parsing errors: the message table and the error value we
// throw, printed the way tracing/error_log prints an entry.
import { KprobeBpfError } from '../lib/errors.js';

/**
 * Message text per error code, as this machine's kernel (6.18) writes it
 * (kernel: kernel/trace/trace_probe.h ERRORS). Checked line by line against
 * the live error_log by test/grammar/kernel-diff.test.ts. Older kernels'
 * wording, and the refusals they do not log: ProbeRules (kernel-rules/).
 */
export const TP_ERR = {
  FILE_NOT_FOUND: 'Failed to find the given file',
  NO_REGULAR_FILE: 'Not a regular file',
  BAD_REFCNT: 'Invalid reference counter offset',
  REFCNT_OPEN_BRACE: 'Reference counter brace is not closed',
  BAD_REFCNT_SUFFIX: 'Reference counter has wrong suffix',
  BAD_UPROBE_OFFS: 'Invalid uprobe offset',
  BAD_MAXACT_TYPE: 'Maxactive is only for function exit',
  BAD_MAXACT: 'Invalid maxactive number',
  MAXACT_TOO_BIG: 'Maxactive is too big',
  BAD_PROBE_ADDR: 'Invalid probed address or symbol',
  NON_UNIQ_SYMBOL: 'The symbol is not unique',
  BAD_RETPROBE: 'Retprobe address must be an function entry',
  BAD_ADDR_SUFFIX: 'Invalid probed address suffix',
  NO_GROUP_NAME: 'Group name is not specified',
  GROUP_TOO_LONG: 'Group name is too long',
  BAD_GROUP_NAME: 'Group name must follow the same rules as C identifiers',
  NO_EVENT_NAME: 'Event name is not specified',
  EVENT_TOO_LONG: 'Event name is too long',
  BAD_EVENT_NAME: 'Event name must follow the same rules as C identifiers',
  RETVAL_ON_PROBE: '$retval is not available on probe',
  BAD_STACK_NUM: 'Invalid stack number',
  BAD_ARG_NUM: 'Invalid argument number',
  BAD_VAR: 'Invalid $-variable specified',
  BAD_REG_NAME: 'Invalid register name',
  BAD_MEM_ADDR: 'Invalid memory address',
  BAD_IMM: 'Invalid immediate value',
  IMMSTR_NO_CLOSE: 'String is not closed with \'"\'',
  FILE_ON_KPROBE: 'File offset is not available with kprobe',
  BAD_FILE_OFFS: 'Invalid file offset value',
  SYM_ON_UPROBE: 'Symbol is not available with uprobe',
  TOO_MANY_OPS: 'Dereference is too much nested',
  DEREF_NEED_BRACE: 'Dereference needs a brace',
  BAD_DEREF_OFFS: 'Invalid dereference offset',
  DEREF_OPEN_BRACE: 'Dereference brace is not closed',
  COMM_CANT_DEREF: '$comm can not be dereferenced',
  BAD_FETCH_ARG: 'Invalid fetch argument',
  ARRAY_NO_CLOSE: 'Array is not closed',
  BAD_ARRAY_SUFFIX: 'Array has wrong suffix',
  BAD_ARRAY_NUM: 'Invalid array size',
  ARRAY_TOO_BIG: 'Array number is too big',
  BAD_TYPE: 'Unknown type is specified',
  BAD_STRING: 'String accepts only memory argument',
  BAD_SYMSTRING: "Symbol String doesn't accept data/userdata",
  BAD_BITFIELD: 'Invalid bitfield',
  ARG_NAME_TOO_LONG: 'Argument name is too long',
  NO_ARG_NAME: 'Argument name is not specified',
  BAD_ARG_NAME: 'Argument name must follow the same rules as C identifiers',
  USED_ARG_NAME: 'This argument name is already used',
  ARG_TOO_LONG: 'Argument expression is too long',
  NO_ARG_BODY: 'No argument expression',
  NO_RETVAL: "This function returns 'void' type",
  NOSUP_BTFARG: 'BTF is not available or not supported',
  NO_BTFARG: 'This variable is not found at this probe point',
  NO_BTF_ENTRY: 'No BTF entry for this probe point',
  BAD_VAR_ARGS: '$arg* must be an independent parameter without name etc.',
  NOFENTRY_ARGS: '$arg* can be used only on function entry or exit',
  DOUBLE_ARGS: '$arg* can be used only once in the parameters',
  ARGS_2LONG: '$arg* failed because the argument list is too long',
  ARGIDX_2BIG: '$argN index is too big',
  NO_PTR_STRCT: 'This is not a pointer to union/structure.',
  NOSUP_DAT_ARG: 'Non pointer structure/union argument is not supported.',
  BAD_HYPHEN: "Failed to parse single hyphen. Forgot '>'?",
  NO_BTF_FIELD: 'This field is not found.',
  BAD_BTF_TID: 'Failed to get BTF type info.',
  BAD_TYPE4STR: 'This type does not fit for string.',
  NEED_STRING_TYPE: '$comm and immediate-string only accepts string type',
  TOO_MANY_ARGS: 'Too many arguments are specified',
  FAIL_REG_PROBE: 'Failed to register probe event',
  // a definition naming an event already defined (append_trace_*probe)
  DIFF_PROBE_TYPE: 'Probe type is different from existing probe',
  DIFF_ARG_TYPE: 'Argument type or name is different from existing probe',
  SAME_PROBE: 'There is already the exact same probe event',
  EVENT_EXIST: 'Given group/event name is already used by another event',
  // event probes (trace_eprobe.c)
  NO_EVENT_INFO: 'This requires both group and event name to attach',
  BAD_ATTACH_EVENT: 'Attached event does not exist',
  BAD_ATTACH_ARG: 'Attached event does not have this field',
  NO_EP_FILTER: "No filter rule after 'if'",
  // fprobe and tracepoint probe events (6.5)
  NO_TRACEPOINT: 'Tracepoint is not found',
  BAD_TP_NAME: 'Invalid character in tracepoint name',
} as const;

export type ErrorCode = keyof typeof TP_ERR;

/**
 * kernel: trace_probe_log_err(offset, code) and the -EINVAL that follows it.
 * The rules pass the offset within the current argv word; the caller, who
 * knows the word, turns it into the ProbeSyntaxError it throws. Never returns.
 */
export type Refuse = (code: ErrorCode, offset: number, then?: ErrorCode) => never;
// `then`: a second entry the kernel logs at the same place before failing
// (fprobe's register argument: BAD_VAR, then BAD_FETCH_ARG); the error is `then`'s.

/** An error_log entry logged for the same line before the one that failed it. */
export interface EarlierEntry {
  readonly message: string;
  readonly caretColumn: number;
}

/**
 * Subsystem names as they prefix error_log entries; an eprobe's `if FILTER`
 * is logged by the filter parser under its own name.
 */
export type Subsystem = 'trace_kprobe' | 'trace_uprobe' | 'trace_fprobe' | 'event_probe' | 'event filter parse error';

/** Prefix of the command line in error_log (kernel: trace.c CMD_PREFIX). */
export const CMD_PREFIX = '  Command: ';

export interface ProbeSyntaxErrorInit {
  readonly subsystem: Subsystem;
  readonly code: ErrorCode | 'NOT_A_PROBE';
  readonly message: string;
  readonly command: string;
  readonly caretColumn: number;
  readonly lineNumber: number;
  readonly logged: boolean;
  /**
   * The kernel's caret here is not a position (6.12 reports an error after a
   * BTF member chain at an offset computed from a NULL pointer): ours is the
   * word's end, and a comparison with the kernel should not judge it.
   */
  readonly caretUnknown?: boolean;
  /** Entries the kernel logged for this line before this one, oldest first. */
  readonly earlier?: readonly EarlierEntry[];
}

/**
 * A line the kernel would refuse. `command` is the line as the kernel rebuilds
 * it (argv joined by single spaces), `caretColumn` the 0-based column in it.
 * `logged` is false for the few refusals the kernel returns as a bare EINVAL
 * without an error_log entry (not a probe line at all, e.g. an unknown command
 * letter or a uprobe place without '/').
 */
export class ProbeSyntaxError extends KprobeBpfError {
  readonly subsystem: Subsystem;
  readonly code: ErrorCode | 'NOT_A_PROBE';
  readonly command: string;
  readonly caretColumn: number;
  readonly lineNumber: number;
  readonly logged: boolean;
  readonly caretUnknown: boolean;
  readonly earlier: readonly EarlierEntry[];

  constructor(init: ProbeSyntaxErrorInit) {
    super(init.message);
    this.subsystem = init.subsystem;
    this.code = init.code;
    this.command = init.command;
    this.caretColumn = init.caretColumn;
    this.lineNumber = init.lineNumber;
    this.logged = init.logged;
    this.caretUnknown = init.caretUnknown ?? false;
    this.earlier = init.earlier ?? [];
  }

  /** The three lines error_log shows for this error (after any earlier entries), less the timestamps. */
  toErrorLog(): string {
    return formatErrorLog(this);
  }

  /** Every entry error_log gains from the refused write: the earlier ones, then this one (if the kernel logs it). */
  errorLogEntries(): string[] {
    const at = { subsystem: this.subsystem, command: this.command };
    return [...this.earlier, ...(this.logged ? [{ message: this.message, caretColumn: this.caretColumn }] : [])].map((x) => formatErrorLog({ ...at, ...x }));
  }
}

/** `<subsystem>: error: <text>` / `  Command: <cmd>` / caret line (kernel: tracing_err_log_show_pos). */
export function formatErrorLog(e: Pick<ProbeSyntaxError, 'subsystem' | 'message' | 'command' | 'caretColumn'> & { readonly earlier?: readonly EarlierEntry[] }): string {
  if (e.earlier?.length) {
    const at = { subsystem: e.subsystem, command: e.command };
    return [...e.earlier, { message: e.message, caretColumn: e.caretColumn }].map((x) => formatErrorLog({ ...at, ...x })).join('\n');
  }
  return `${e.subsystem}: error: ${e.message}\n${CMD_PREFIX}${e.command}\n${' '.repeat(CMD_PREFIX.length + e.caretColumn)}^`;
}
