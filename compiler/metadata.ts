// The self-describing part of a .o: its ObjectMetadata (compiler/abi.ts) in a
// section of our own, so the runtime can attach and print from the object
// alone. JSON, with bigints tagged so they survive the round trip. An object
// is untrusted input: what comes back is checked against the model, field by
// field, before anything uses it, and a bad one is an ObjectFormatError.
import { readObject } from '../bpf/elf-reader.js';
import { KprobeBpfError } from '../lib/errors.js';
import {
  METADATA_SECTION, METADATA_VERSION, type EventFormat, type EventMetadata, type ObjectMetadata, type ProbeSite,
} from './abi.js';
import { checkObjectMetadata } from './metadata-schema.js';
import { SHARED_FIELD_LISTS } from './layout.js';

/** An object file that is not what it claims: one line naming the object and what is wrong. */
export class ObjectFormatError extends KprobeBpfError {}

const BIGINT_TAG = '$bigint';

const encoder = new TextEncoder();

/**
 * `v` with every bigint replaced by {"$bigint": "123"}: copies only the
 * objects and arrays on the way to a bigint, shares the rest. JSON.stringify
 * then runs without a replacer function (its fast path: a replacer called
 * for every key cost more than the rest of the object writer). Same text as
 * JSON.stringify(v, bigint replacer) for plain data, as metadata is.
 */
function tagBigints(v: unknown): unknown {
  if (typeof v === 'bigint') return { [BIGINT_TAG]: v.toString() };
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const t = tagBigints(v[i]);
      if (t !== v[i]) (copy ??= v.slice())[i] = t;
    }
    return copy ?? v;
  }
  let copy: Record<string, unknown> | undefined;
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const t = tagBigints(o[k]);
    if (t !== o[k]) (copy ??= { ...o })[k] = t;
  }
  return copy ?? v;
}

export function encodeMetadata(meta: ObjectMetadata): Uint8Array {
  return encoder.encode(metadataText(meta));
}

/** SHARED_FIELD_LISTS' JSON, made on first use. */
let sharedFieldJson: readonly string[] | undefined;

/**
 * The metadata section's text (the object writer writes it as UTF-8 in
 * place: no encoded copy first). The field lists events share are written as
 * their list's index, then that is replaced by the list's JSON, made once:
 * the same text as stringifying them in place, for a fraction of the time
 * (field objects were most of what JSON.stringify walked). The replacement
 * is exact: `"commonFields":` with its quotes unescaped only occurs as a key,
 * never inside a JSON string, and a list written in place starts with `[`, not a digit.
 */
export function metadataText(meta: ObjectMetadata): string {
  let json: string;
  try {
    // the places are where the model keeps bigints: tag only those, without walking the formats
    json = JSON.stringify({ ...meta, events: meta.events.map((e) => ({ ...e, place: tagBigints(e.place), format: withSharedIndices(e.format) })) });
  } catch (e) {
    // a bigint somewhere else (JSON.stringify refuses those): the whole walk, no shared lists
    if (!(e instanceof TypeError)) throw e;
    return JSON.stringify(tagBigints(meta));
  }
  return spliceSharedLists(json, (sharedFieldJson ??= SHARED_FIELD_LISTS.map((l) => JSON.stringify(l))));
}

const LIST_KEYS = ['"commonFields":', '"probeFields":'];

/**
 * `json` with each `"commonFields":N` and `"probeFields":N` replaced by list
 * N's JSON: one scan, no regex. The pieces are joined once at the end: built
 * with += they were a chain of concatenations the object writer then had to
 * flatten into a second copy of the whole text to measure and encode it.
 */
function spliceSharedLists(json: string, lists: readonly string[]): string {
  const parts: string[] = [];
  let copied = 0;
  let at = 0;
  for (;;) {
    const colon = json.indexOf('Fields":', at) + 7;
    if (colon < 7) break;
    at = colon + 1;
    // (fewer than 10 lists: the one digit after the colon is the whole index)
    const n = json.charCodeAt(at) - 48;
    if (n < 0 || n >= lists.length || !LIST_KEYS.some((k) => json.startsWith(k, colon + 1 - k.length))) continue;
    parts.push(json.slice(copied, at), lists[n]!);
    copied = at + 1;
  }
  parts.push(json.slice(copied));
  return parts.join('');
}

/** `f` with each shared field list replaced by its index in SHARED_FIELD_LISTS (both or neither, so the markers are exactly these). */
function withSharedIndices(f: EventFormat): EventFormat | Omit<EventFormat, 'commonFields' | 'probeFields'> & { commonFields: number; probeFields: number } {
  const c = SHARED_FIELD_LISTS.indexOf(f.commonFields);
  const p = SHARED_FIELD_LISTS.indexOf(f.probeFields);
  return c < 0 || p < 0 ? f : { ...f, commonFields: c, probeFields: p };
}

/** A {"$bigint": "123"} object back to 123n; anything else as it is (the schema check judges it). */
function reviveBigint(_k: string, v: unknown): unknown {
  if (v === null || typeof v !== 'object' || !(BIGINT_TAG in v)) return v;
  const text = (v as Record<string, unknown>)[BIGINT_TAG];
  return typeof text === 'string' && /^-?\d+$/.test(text) ? BigInt(text) : v;
}

/**
 * The metadata of the object named `label`, checked: valid UTF-8 JSON, our
 * version, and every field the runtime reads present with the right type.
 */
export function decodeMetadata(bytes: Uint8Array, label = 'object'): ObjectMetadata {
  const fail = (what: string, cause?: unknown): never => {
    throw new ObjectFormatError(`${label}: ${METADATA_SECTION} metadata ${what}`, cause === undefined ? {} : { cause });
  };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (e) {
    return fail('is not UTF-8 text: the object is corrupt', e);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text, reviveBigint);
  } catch (e) {
    return fail('is not valid JSON: the object is corrupt', e);
  }
  const version = raw !== null && typeof raw === 'object' ? (raw as { version?: unknown }).version : undefined;
  if (typeof version !== 'number') return fail('has no version number: the object is corrupt');
  if (version !== METADATA_VERSION) {
    return fail(`is version ${version}, this kprobe-bpf reads version ${METADATA_VERSION}: compile the object again with this kprobe-bpf`);
  }
  const problem = checkObjectMetadata(raw);
  if (problem !== undefined) return fail(`is malformed (${problem}): the object is corrupt`);
  return raw as ObjectMetadata;
}

/** The events an object written by `kprobe-bpf compile` describes; `label` names it in errors. */
export function eventsOfObject(bytes: Uint8Array, label = 'object'): readonly EventMetadata[] {
  return metadataOfObject(bytes, label).events;
}

/** The whole checked metadata of an object written by `kprobe-bpf compile` (events, and the --trigger writes it was compiled with). */
export function metadataOfObject(bytes: Uint8Array, label = 'object'): ObjectMetadata {
  let sec;
  try {
    sec = readObject(bytes).section(METADATA_SECTION);
  } catch (e) {
    throw new ObjectFormatError(`${label}: not a readable ELF object (${(e as Error).message})`, { cause: e });
  }
  if (!sec) throw new ObjectFormatError(`${label}: not an object written by kprobe-bpf compile (no ${METADATA_SECTION} section)`);
  return decodeMetadata(sec.data, label);
}

/** What attaching the event's probe needs. */
export function probeSiteOf(e: EventMetadata): ProbeSite {
  const f = e.format;
  return {
    tracer: f.tracer, isReturn: f.isReturn, group: f.group, event: f.event, point: e.place,
    ...(e.maxactive !== undefined ? { maxactive: e.maxactive } : {}), section: e.section,
  };
}
