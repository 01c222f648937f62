// The ObjectMetadata model (compiler/abi.ts) as a checkable schema: decoded
// JSON is walked against it and the first mismatch is named by its path
// ("events[0].format.argFields[2].offset: not a non-negative integer"), then
// the promises the layout makes are checked (fields inside the entry, sizes
// that match their print kind, the probe fields of the event's direction,
// unique event ids), so a corrupt or foreign object is refused before the
// runtime trusts a field: the printer reads exactly what these allow.
import {
  FIELD_STRING_FUNC, FIELD_STRING_IP, FIELD_STRING_RETIP, PRINT_KINDS, PRINT_KIND_SIZE, RECORD_PREFIX_SIZE, SCRATCH_VALUE_MAX,
  type EventFormat, type ObjectMetadata,
} from './abi.js';

/** Returns what is wrong with `v` at `path`, or undefined. */
type Check = (v: unknown, path: string) => string | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

const expect = (test: (v: unknown) => boolean, what: string): Check => (v, path) => (test(v) ? undefined : `${path}: not ${what}`);
const str = expect((v) => typeof v === 'string', 'a string');
const bool = expect((v) => typeof v === 'boolean', 'a boolean');
const big = expect((v) => typeof v === 'bigint', 'a tagged bigint');
const count = expect((v) => Number.isSafeInteger(v) && (v as number) >= 0, 'a non-negative integer');
const oneOf = (values: readonly string[]): Check => expect((v) => typeof v === 'string' && values.includes(v), `one of ${values.join('|')}`);

const optional = (c: Check): Check => (v, path) => (v === undefined ? undefined : c(v, path));

function list(item: Check): Check {
  return (v, path) => {
    if (!Array.isArray(v)) return `${path}: not a list`;
    for (let i = 0; i < v.length; i++) {
      const p = item(v[i], `${path}[${i}]`);
      if (p) return p;
    }
    return undefined;
  };
}

function record(fields: Readonly<Record<string, Check>>): Check {
  return (v, path) => {
    if (!isObject(v)) return `${path}: not an object`;
    for (const [k, c] of Object.entries(fields)) {
      const p = c(v[k], path ? `${path}.${k}` : k);
      if (p) return p;
    }
    return undefined;
  };
}

/** A tagged union: `kind` picks the record the rest must match. */
function union(tag: string, variants: Readonly<Record<string, Check>>): Check {
  return (v, path) => {
    const kind = isObject(v) ? v[tag] : undefined;
    const c = typeof kind === 'string' ? variants[kind] : undefined;
    return c ? c(v, path) : `${path}.${tag}: not one of ${Object.keys(variants).join('|')}`;
  };
}

const FIELD = { ctype: str, name: str, offset: count, size: count, signed: bool };

const EVENT_FORMAT = record({
  group: str, event: str, tracer: oneOf(['kprobe', 'uprobe', 'eprobe', 'fprobe', 'tprobe']), isReturn: bool,
  attached: optional(record({ system: str, event: str })),
  commonFields: list(record(FIELD)),
  probeFields: list(record(FIELD)),
  argFields: list(record({ ...FIELD, print: oneOf(PRINT_KINDS), count: optional(count), printFragment: str })),
  entrySize: count,
  printFmt: str,
});

const PROBE_PLACE = union('kind', {
  symbol: record({ module: optional(str), symbol: str, offset: big }),
  address: record({ address: big }),
  file: record({ path: str, offset: big, refCtrOffset: optional(big) }),
  'file-symbol': record({ path: str, symbol: str, offset: big, refCtrOffset: optional(big) }),
  event: record({ system: str, event: str }),
  function: record({ module: optional(str), symbol: str }),
  tracepoint: record({ name: str }),
});

const OBJECT_METADATA = record({
  version: count,
  events: list(record({
    id: count, program: str, section: str, sleepable: bool, maxStringSize: count,
    definition: str, place: PROBE_PLACE, maxactive: optional(count), entryProgram: optional(str), format: EVENT_FORMAT, filter: optional(str),
  })),
  triggers: optional(record({ kernel: optional(str), writes: list(str) })),
});

/** What breaks the layout's promises in one event's format, or undefined. */
function checkLayout(f: EventFormat, path: string): string | undefined {
  if (f.entrySize > SCRATCH_VALUE_MAX - RECORD_PREFIX_SIZE) return `${path}.entrySize: ${f.entrySize} is more than a record can hold`;
  const probeNames = f.probeFields.map((x) => x.name).join(',');
  const want = f.tracer === 'eprobe' ? '' : f.isReturn ? `${FIELD_STRING_FUNC},${FIELD_STRING_RETIP}` : FIELD_STRING_IP;
  if (probeNames !== want) return `${path}.probeFields: ${probeNames || 'none'}, not ${want || 'none'}`;
  const fields = [...f.commonFields.map((x) => ['commonFields', x] as const), ...f.probeFields.map((x) => ['probeFields', x] as const)];
  for (const [list, x] of fields) {
    if (x.offset + x.size > f.entrySize) return `${path}.${list}: ${x.name} ends past the entry`;
  }
  for (const [i, a] of f.argFields.entries()) {
    if (a.offset + a.size > f.entrySize) return `${path}.argFields[${i}]: ${a.name} ends past the entry`;
    if (a.size !== (a.count ?? 1) * PRINT_KIND_SIZE[a.print]) return `${path}.argFields[${i}]: ${a.name}'s size ${a.size} does not hold ${a.count ?? 1} ${a.print}`;
  }
  return undefined;
}

/** What is wrong with decoded metadata, or undefined when it matches the model and keeps its promises. */
export function checkObjectMetadata(v: unknown): string | undefined {
  const shape = OBJECT_METADATA(v, '');
  if (shape) return shape;
  const ids = new Set<number>();
  for (const [i, e] of (v as ObjectMetadata).events.entries()) {
    if (e.id === 0 || ids.has(e.id)) return `events[${i}].id: ${e.id} is ${e.id === 0 ? 'not an event id' : 'used twice'}`;
    ids.add(e.id);
    const layout = checkLayout(e.format, `events[${i}].format`);
    if (layout) return layout;
  }
  return undefined;
}
