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
