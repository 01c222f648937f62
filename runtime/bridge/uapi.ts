// The bpf(2) layout tables generated at build time from the kernel UAPI
// header linux/bpf.h by bpf/wasm/gen-uapi.ts (see mk/wasm.mk). Nothing here
// is typed by hand: offsets, sizes, pointer-ness and command numbers all come
// from the header.
import { readFileSync } from 'node:fs';
import type { UapiField, UapiTables } from '../../bpf/wasm/gen-uapi.js';
import { wasmBuildFile } from './paths.js';

export type { UapiField, UapiTables };

let cached: UapiTables | undefined;

export function uapi(): UapiTables {
  cached ??= JSON.parse(readFileSync(wasmBuildFile('bpf-uapi.json'), 'utf8')) as UapiTables;
  return cached;
}

export function commandName(value: number): string | undefined {
  const t = uapi();
  // BPF_PROG_RUN aliases BPF_PROG_TEST_RUN: report the first name.
  return Object.entries(t.commands).find(([, c]) => c.value === value)?.[0];
}

export function commandValue(name: string): number {
  const c = uapi().commands[name];
  if (!c) throw new Error(`linux/bpf.h has no command ${name}`);
  return c.value;
}

export function infoField(struct: string, name: string): UapiField {
  const f = uapi().infos[struct]?.fields.find((x) => x.name === name);
  if (!f) throw new Error(`linux/bpf.h: struct ${struct} has no field ${name}`);
  return f;
}

export function enumValue(enumName: string, name: string): number {
  const v = uapi().enums[enumName]?.[name];
  if (v === undefined) throw new Error(`linux/bpf.h: enum ${enumName} has no ${name}`);
  return v;
}

/** An unsigned field of a struct copy (0 when it lies past the copy's end: the kernel reads zero there). */
export function readField(b: Uint8Array, f: UapiField): number {
  if (f.offset + f.size > b.length) return 0;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return f.size === 8 ? Number(dv.getBigUint64(f.offset, true)) : f.size === 4 ? dv.getUint32(f.offset, true) : f.size === 2 ? dv.getUint16(f.offset, true) : dv.getUint8(f.offset);
}

/** The end of a layout's last field: bytes past it are not ours to pass on (kernel: CHECK_ATTR). */
export function layoutEnd(fields: readonly UapiField[]): number {
  return fields.reduce((end, f) => Math.max(end, f.offset + f.size), 0);
}
