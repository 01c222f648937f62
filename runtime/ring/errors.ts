// A ring this reader cannot read: sizes that are not powers of two, a
// misaligned area, a sample_type with fields it does not decode.
import { KprobeBpfError } from '../../lib/errors.js';

export class RingLayoutError extends KprobeBpfError {}
