// The filter parser's errors as the kernel reports them: the message table
// (kernel: trace_events_filter.c ERRORS / err_text[]), the errno write(2)
// returns, and the two places the text shows up: the error_log entry and
// what `cat events/GRP/EVENT/filter` prints after the failed write.
import { ErrnoError } from '../../lib/errors.js';
import { LINUX_ERRNO } from '../../lib/errno.js';
import { CMD_PREFIX } from '../errors.js';
import { fromBytes } from './ctype.js';

/** kernel: ERRORS, 6.12 order (6.1 lacks the brace, cpulist and function entries). */
export const FILTER_ERR = {
  INVALID_OP: 'Invalid operator',
  TOO_MANY_OPEN: "Too many '('",
  TOO_MANY_CLOSE: "Too few '('",
  MISSING_QUOTE: 'Missing matching quote',
  MISSING_BRACE_OPEN: "Missing '{'",
  MISSING_BRACE_CLOSE: "Missing '}'",
  OPERAND_TOO_LONG: 'Operand too long',
  EXPECT_STRING: 'Expecting string field',
  EXPECT_DIGIT: 'Expecting numeric field',
  ILLEGAL_FIELD_OP: 'Illegal operation for field type',
  FIELD_NOT_FOUND: 'Field not found',
  ILLEGAL_INTVAL: 'Illegal integer value',
  BAD_SUBSYS_FILTER: "Couldn't find or set field in one of a subsystem's events",
  TOO_MANY_PREDS: 'Too many terms in predicate expression',
  INVALID_FILTER: 'Meaningless filter expression',
  INVALID_CPULIST: 'Invalid cpulist',
  IP_FIELD_ONLY: "Only 'ip' field is supported for function trace",
  INVALID_VALUE: 'Invalid value (did you forget quotes)?',
  NO_FUNCTION: 'Function not found',
  /** A refusal without an error code (lasterr 0): empty filter, `()`, a term that is not a predicate. */
  ERRNO: 'Error',
  NO_FILTER: 'No filter found',
} as const;

export type FilterErrorCode = keyof typeof FILTER_ERR;

/** The kernel's (errno, error code, position) triple for one refusal. */
export interface FilterErrorAt {
  readonly code: FilterErrorCode;
  /** kernel: pe->lasterr_pos, a byte offset into the stored filter text (not clamped). */
  readonly pos: number;
  /** What write(2) fails with (a positive errno). */
  readonly errno: number;
}

export const EINVAL = LINUX_ERRNO.EINVAL;
export const EPERM = LINUX_ERRNO.EPERM;

/** kernel: the "Error" refusal, logged at position 0. */
export const errnoRefusal = (errno: number): FilterErrorAt => ({ code: 'ERRNO', pos: 0, errno });

/**
 * A filter the kernel would refuse. `filter` is the text as the kernel stored
 * it (trailing whitespace removed); `pos` its lasterr_pos in bytes.
 */
export class FilterSyntaxError extends ErrnoError {
  readonly code: FilterErrorCode;
  readonly filter: string;
  readonly pos: number;
  /** False for the one refusal the kernel neither logs nor stores: a write of a page or more. */
  readonly logged: boolean;

  constructor(filter: string, at: FilterErrorAt, logged = true) {
    super(FILTER_ERR[at.code], at.errno);
    this.code = at.code;
    this.filter = filter;
    this.pos = at.pos;
    this.logged = logged;
  }

  /** The error_log entry less its timestamp (kernel: tracing_log_err, tracing_err_log_show_pos). */
  toErrorLog(): string {
    return `event filter parse error: error: ${this.message}\n${CMD_PREFIX}${this.filter}\n${' '.repeat(CMD_PREFIX.length + this.pos)}^`;
  }

  /**
   * What the event's `filter` file reads after the failed write, less the final
   * newline (kernel: append_filter_err; the caret clamped to the text's end).
   */
  toFilterFile(): string {
    if (this.code === 'ERRNO') return `${this.filter}\nError: (0)\n`;
    const bytes = Buffer.byteLength(this.filter, 'utf8');
    const pos = Math.min(this.pos, bytes);
    return `${this.filter}\n${' '.repeat(pos)}^\nparse_error: ${this.message}\n`;
  }
}

/** Error for a filter held as bytes (the parser's view). */
export const filterError = (bytes: string, at: FilterErrorAt): FilterSyntaxError => new FilterSyntaxError(fromBytes(bytes), at);
