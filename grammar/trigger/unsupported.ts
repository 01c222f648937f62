// A trigger the kernel takes but kprobe-bpf does not run (yet): said as
// such, never silently dropped or approximated.
import { KprobeBpfError } from '../../lib/errors.js';

export class TriggerUnsupportedError extends KprobeBpfError {}
