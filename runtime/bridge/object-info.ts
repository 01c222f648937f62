// What kind of BPF object an fd is and what the kernel says about it
// (BPF_OBJ_GET_INFO_BY_FD through native memory only, its nested pointers
// left NULL): the bridge sizes map keys and values from it and checks the
// BTF fds it hands out; the loader reads verified_insns from it.
import { readlinkSync } from 'node:fs';
import { possibleCpuCount } from '../sys/cpu-list.js';
import { FD_KIND_INFO, PERCPU_MAP_TYPES } from './allow-list.js';
import { addressOf, sysBpf, SYS_bpf } from './libc.js';
import { enumValue, readField, uapi } from './uapi.js';

export type InfoStruct = 'bpf_prog_info' | 'bpf_map_info' | 'bpf_btf_info' | 'bpf_link_info';

/** A fresh, unpooled native buffer (koffi passes its address as is). */
export const nativeBuffer = (n: number): Uint8Array => new Uint8Array(new ArrayBuffer(Math.max(n, 8)));

/** Which info struct describes a bpf fd, from the anon inode it links to. */
export function fdInfoStruct(fd: number): string | undefined {
  try {
    return FD_KIND_INFO[readlinkSync(`/proc/self/fd/${fd}`)];
  } catch {
    return undefined;
  }
}

/**
 * The scalar fields of the info struct of a bpf fd by name (e.g.
 * bpf_prog_info.verified_insns); undefined if the fd is not of that kind.
 */
export function objectInfo(fd: number, struct: InfoStruct): Record<string, number> | undefined {
  if (fdInfoStruct(fd) !== struct) return undefined;
  const t = uapi();
  const layout = t.infos[struct]!;
  const info = nativeBuffer(layout.size);
  const attr = nativeBuffer(t.attrSize);
  const f = (n: string) => t.commands.BPF_OBJ_GET_INFO_BY_FD!.fields.find((x) => x.name === n)!;
  const dv = new DataView(attr.buffer);
  dv.setUint32(f('info.bpf_fd').offset, fd, true);
  dv.setUint32(f('info.info_len').offset, layout.size, true);
  dv.setBigUint64(f('info.info').offset, addressOf(info), true);
  if (sysBpf(SYS_bpf, t.commands.BPF_OBJ_GET_INFO_BY_FD!.value, attr, t.attrSize) < 0) return undefined;
  const out: Record<string, number> = {};
  for (const x of layout.fields) if (!x.pointer && [1, 2, 4, 8].includes(x.size)) out[x.name] = readField(info.subarray(0, layout.size), x);
  return out;
}

/** key/value sizes of a map fd (per-CPU values: 8-byte slots × possible CPUs). */
export function mapShape(fd: number): { keySize: number; valueSize: number } | undefined {
  const info = objectInfo(fd, 'bpf_map_info');
  if (!info) return undefined;
  let valueSize = info.value_size!;
  if (PERCPU_MAP_TYPES.some((m) => enumValue('bpf_map_type', m) === info.type)) valueSize = Math.ceil(valueSize / 8) * 8 * possibleCpuCount();
  return { keySize: info.key_size!, valueSize };
}
