// The self-describing part of a .o: each event's name, probe point and field
// layout, in a section of our own, so the runtime can decode records from the
// object alone. JSON, with bigints tagged so they survive the round trip.
import { readObject } from '../bpf/elf-reader.js';
import type { EventFormat } from './format.js';

export const METADATA_SECTION = '.kprobe_bpf.events';
export const METADATA_VERSION = 1;

export interface EventMetadata {
  /** The value the program writes into common_type: the record's event. */
  readonly id: number;
  /** Program (function) name and its section in the object. */
  readonly program: string;
  readonly section: string;
  /** Bytes reserved per string in the record's dynamic area. */
  readonly maxStringSize: number;
  readonly format: EventFormat;
}

export interface ObjectMetadata {
  readonly version: number;
  readonly events: readonly EventMetadata[];
}

const BIGINT_TAG = '$bigint';

export function encodeMetadata(meta: ObjectMetadata): Uint8Array {
  const json = JSON.stringify(meta, (_k, v: unknown) => (typeof v === 'bigint' ? { [BIGINT_TAG]: v.toString() } : v));
  return new TextEncoder().encode(json);
}

export function decodeMetadata(bytes: Uint8Array): ObjectMetadata {
  const meta = JSON.parse(new TextDecoder().decode(bytes), (_k, v: unknown) =>
    v !== null && typeof v === 'object' && BIGINT_TAG in v ? BigInt((v as Record<string, string>)[BIGINT_TAG]!) : v) as ObjectMetadata;
  if (meta.version !== METADATA_VERSION) throw new Error(`object metadata version ${meta.version} is not ${METADATA_VERSION}`);
  return meta;
}

/** The events an object written by `kprobe-bpf compile` describes. */
export function eventsOfObject(bytes: Uint8Array): readonly EventMetadata[] {
  const sec = readObject(bytes).section(METADATA_SECTION);
  if (!sec) throw new Error(`not an object written by kprobe-bpf compile (no ${METADATA_SECTION} section)`);
  return decodeMetadata(sec.data).events;
}
