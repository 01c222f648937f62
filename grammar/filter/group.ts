// A group's filter (events/GRP/filter): the same text applied to every event
// of the group (kernel: apply_subsystem_event_filter, process_system_preds).
// An event the filter does not fit is left unfiltered with the group error;
// the write itself succeeds as long as the group has events (verified live).
import type { CheckedFilter } from './checked.js';
import { FilterSyntaxError } from './errors.js';
import type { EventField } from './fields.js';
import { compileFilter, type CompileFilterOptions } from './compile.js';
import { LINUX_ERRNO } from '../../lib/errno.js';
import { ErrnoError } from '../../lib/errors.js';

/** kernel: DEFAULT_SYS_FILTER_MESSAGE, what events/GRP/filter reads after any write. */
export const GROUP_FILTER_FILE = '### global filter ###\n# Use this to set filters for multiple events.\n'
  + '# Only events with the given fields will be affected.\n# If no events are modified, an error message will be displayed here';

export interface GroupFilterResult {
  /** Per event: its checked filter, or the group error it is left with (unfiltered). */
  readonly events: ReadonlyMap<string, CheckedFilter | FilterSyntaxError>;
}

/** Each event's answer to `written` applied to the group (a `0`, which clears them all, is the caller's: clearsFilter). */
export function applyGroupFilter(written: string, events: ReadonlyMap<string, readonly EventField[]>, options: CompileFilterOptions = {}): GroupFilterResult {
  if (events.size === 0) throw new ErrnoError('the group has no events', LINUX_ERRNO.ENODEV);
  const out = new Map<string, CheckedFilter | FilterSyntaxError>();
  for (const [name, fields] of events) {
    try {
      out.set(name, compileFilter(written, fields, options));
    } catch (e) {
      if (!(e instanceof FilterSyntaxError)) throw e;
      out.set(name, new FilterSyntaxError(e.filter, { code: 'BAD_SUBSYS_FILTER', pos: 0, errno: LINUX_ERRNO.EINVAL }));
    }
  }
  return { events: out };
}
