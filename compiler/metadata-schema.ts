// The ObjectMetadata model (compiler/abi.ts) as a checkable schema: decoded
// JSON is walked against it and the first mismatch is named by its path
// ("events[0].format.argFields[2].offset: not a non-negative integer"), so a
// corrupt or foreign object is refused before the runtime trusts a field.
import { PRINT_KINDS } from './abi.js';

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
  group: str, event: str, tracer: oneOf(['kprobe', 'uprobe']), isReturn: bool,
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
});

const OBJECT_METADATA = record({
  version: count,
  events: list(record({
    id: count, program: str, section: str, sleepable: bool, maxStringSize: count,
    definition: str, place: PROBE_PLACE, maxactive: optional(count), format: EVENT_FORMAT,
  })),
});

/** What is wrong with decoded metadata, or undefined when it matches the model. */
export const checkObjectMetadata = (v: unknown): string | undefined => OBJECT_METADATA(v, '');
