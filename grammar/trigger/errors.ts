// The trigger parser's refusals as the kernel reports them: hist errors are
// logged to error_log at `hist:GRP:EVENT` with the command `hist:PARAMS`
// (kernel: trace_events_hist.c last_cmd_set, hist_err), the caret where the
// kernel's err_pos finds the offending text (the first occurrence of it in
// the command, as strstr finds it); many refusals are only an errno, with
// nothing logged (the write fails, error_log stays as it was).
import { ErrnoError } from '../../lib/errors.js';
import { LINUX_ERRNO } from '../../lib/errno.js';
import { CMD_PREFIX } from '../errors.js';

/** kernel: trace_events_hist.c ERRORS (the ones a hist trigger on one event can reach). */
export const HIST_ERR = {
  DUPLICATE_VAR: 'Variable already defined',
  VAR_NOT_UNIQUE: 'Variable name not unique, need to use fully qualified name (subsys.event.var) for variable',
  TOO_MANY_VARS: 'Too many variables defined',
  MALFORMED_ASSIGNMENT: 'Malformed assignment',
  NAMED_MISMATCH: "Named hist trigger doesn't match existing named trigger (includes variables)",
  TRIGGER_EEXIST: 'Hist trigger already exists',
  TRIGGER_ENOENT_CLEAR: "Can't clear or continue a nonexistent hist trigger",
  BAD_FIELD_MODIFIER: 'Invalid field modifier',
  TOO_MANY_SUBEXPR: 'Too many subexpressions (3 max)',
  TIMESTAMP_MISMATCH: "Timestamp units in expression don't match",
  INVALID_REF_KEY: 'Using variable references in keys not supported',
  VAR_NOT_FOUND: "Couldn't find variable",
  FIELD_NOT_FOUND: "Couldn't find field",
  EMPTY_ASSIGNMENT: 'Empty assignment',
  INVALID_SORT_MODIFIER: 'Invalid sort modifier',
  EMPTY_SORT_FIELD: 'Empty sort field',
  TOO_MANY_SORT_FIELDS: 'Too many sort fields (Max = 2)',
  INVALID_SORT_FIELD: 'Sort field must be a key or a val',
  INVALID_STR_OPERAND: 'String type can not be an operand in expression',
  EXPECT_NUMBER: 'Expecting numeric literal',
  UNARY_MINUS_SUBEXPR: 'Unary minus not supported in sub-expressions',
  DIVISION_BY_ZERO: 'Division by zero',
} as const;
export type HistErrorCode = keyof typeof HIST_ERR;

export const EINVAL = LINUX_ERRNO.EINVAL;
export const ENOENT = LINUX_ERRNO.ENOENT;
export const EEXIST = LINUX_ERRNO.EEXIST;
export const EDOM = LINUX_ERRNO.EDOM;

/** kernel: err_pos — where `str` first occurs in the command, 0 when it does not. */
export function errPos(command: string, str: string): number {
  const at = command.indexOf(str);
  return at < 0 ? 0 : at;
}

/**
 * A trigger the kernel would refuse. `logged` false: the kernel only fails
 * the write (its errno); otherwise `location`, `command` and `pos` are the
 * error_log entry's.
 */
export class TriggerError extends ErrnoError {
  constructor(
    message: string,
    errno: number,
    readonly logged: boolean,
    readonly location = '',
    readonly command = '',
    readonly pos = 0,
    /** Entries the kernel logged before this one for the same write (a failed variable lookup, then the field lookup). */
    readonly earlier: readonly TriggerError[] = [],
  ) {
    super(message, errno);
  }

  /** The error_log entries of the write, less their timestamps (kernel: tracing_log_err). */
  toErrorLog(): string {
    const own = `${this.location}: error: ${this.message}\n${CMD_PREFIX}${this.command}\n${' '.repeat(CMD_PREFIX.length + this.pos)}^`;
    return [...this.earlier.map((e) => e.toErrorLog()), own].join('\n');
  }
}

/** A refusal the kernel logs: `code` at byte `pos` of `command`, logged at `location`. */
export const histError = (code: HistErrorCode, location: string, command: string, pos: number, errno: number = EINVAL): TriggerError =>
  new TriggerError(HIST_ERR[code], errno, true, location, command, pos);

/** A refusal the kernel does not log: the write fails with `errno`. */
export const silentError = (errno: number = EINVAL, why = 'Invalid argument'): TriggerError => new TriggerError(why, errno, false);
