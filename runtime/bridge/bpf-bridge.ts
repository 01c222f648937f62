// bpf(2) for the wasm libbpf. The attr it passes lives in wasm memory and its
// pointer fields hold wasm offsets. Node's own memory sits at low addresses
// that are also valid wasm offsets, so an untranslated pointer would not fail
// cleanly: the kernel would read or write Node's memory. Hence an allow-list:
// known commands only (allow-list.ts), every pointer field named by
// linux/bpf.h (uapi.ts) bounds-checked against the wasm memory and rewritten
// to a real address, everything else refused with a BridgeRefusal.
import { readFileSync, readlinkSync } from 'node:fs';
import { COMMAND_RULES, FD_KIND_INFO, INFO_POINTERS, PERCPU_MAP_TYPES, type CommandRule, type Extent } from './allow-list.js';
import { LINUX_E2BIG, LINUX_EBADF, LINUX_EFAULT, LINUX_EINVAL, LINUX_ENOSYS } from './errno.js';
import { addressOf, lastErrno, sysBpf, SYS_bpf } from './libc.js';
import { commandName, enumValue, uapi, type UapiField } from './uapi.js';

export type RefusalReason = 'unknown-command' | 'short-attr' | 'oversized-attr' | 'pointer-out-of-bounds' | 'pointer-not-allowed' | 'split-field' | 'bad-fd';

/** A call the bridge would not pass to the kernel. */
export class BridgeRefusal extends Error {
  constructor(readonly reason: RefusalReason, message: string, /** Linux errno handed back to libbpf */ readonly errno: number) {
    super(message);
    this.name = 'BridgeRefusal';
  }
}

/** One BPF_PROG_LOAD as the kernel saw it (load time per program for `check`). */
export interface ProgLoadRecord {
  name: string;
  fd: number;
  errno: number;
  ns: bigint;
}

interface Translation {
  /** where the pointer field sits in the attr copy */
  offset: number;
  /** the wasm offset it held */
  original: bigint;
}

const u64 = (b: Uint8Array, off: number): bigint => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);
const setU64 = (b: Uint8Array, off: number, v: bigint): void => new DataView(b.buffer, b.byteOffset, b.byteLength).setBigUint64(off, v, true);
const readUint = (b: Uint8Array, f: UapiField): number => {
  if (f.offset + f.size > b.length) return 0; // beyond the attr's size: the kernel reads zero
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return f.size === 8 ? Number(dv.getBigUint64(f.offset, true)) : f.size === 4 ? dv.getUint32(f.offset, true) : f.size === 2 ? dv.getUint16(f.offset, true) : dv.getUint8(f.offset);
};

/** A fresh, unpooled native buffer (koffi passes its address as is). */
const nativeBuffer = (n: number): Uint8Array => new Uint8Array(new ArrayBuffer(Math.max(n, 8)));

let possibleCpus: number | undefined;
function numPossibleCpus(): number {
  if (possibleCpus === undefined) {
    // kernel: /sys/devices/system/cpu/possible, e.g. "0-1" or "0,2-3"
    const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8');
    possibleCpus = text.trim().split(',').reduce((n, part) => {
      const [a, b] = part.split('-').map(Number);
      return n + (b === undefined ? 1 : b - a! + 1);
    }, 0);
  }
  return possibleCpus;
}

export interface BpfBridgeOptions {
  /** The wasm instance's memory (read again on every call: it can grow). */
  memory: () => WebAssembly.Memory;
  /** Called with each new fd a command returned. */
  onFd?: (fd: number) => void;
}

export class BpfBridge {
  readonly progLoads: ProgLoadRecord[] = [];

  constructor(private readonly opts: BpfBridgeOptions) {}

  private view(): Uint8Array {
    return new Uint8Array(this.opts.memory().buffer);
  }

  /**
   * bpf(cmd, attr, size) with attr at wasm offset `attrOff`. Returns the
   * kernel's result (>= 0) or a negative Linux errno; throws BridgeRefusal
   * for anything not on the allow-list.
   */
  call(cmd: number, attrOff: number, size: number): number {
    const tables = uapi();
    const name = commandName(cmd);
    const rule: CommandRule | undefined = name ? COMMAND_RULES[name] : undefined;
    if (!name || !rule) {
      throw new BridgeRefusal('unknown-command', `bpf command ${name ?? cmd} is not on the bridge's allow-list`, LINUX_ENOSYS);
    }
    const layout = tables.commands[rule.layoutOf ?? name];
    if (!layout || layout.fields.length === 0) {
      throw new BridgeRefusal('unknown-command', `${name}: linux/bpf.h gives no attr layout for it`, LINUX_ENOSYS);
    }
    const fields = layout.fields;
    const minField = fields.find((f) => f.name === rule.minField);
    if (!minField) throw new BridgeRefusal('unknown-command', `${name}: allow-list names field ${rule.minField}, absent from linux/bpf.h`, LINUX_ENOSYS);

    const mem = this.view();
    const minSize = minField.offset + minField.size;
    if (!Number.isInteger(size) || size < minSize) {
      throw new BridgeRefusal('short-attr', `${name}: attr of ${size} bytes is too short (needs at least ${minSize}, to the end of '${rule.minField}')`, LINUX_EINVAL);
    }
    if (attrOff <= 0 || attrOff + size > mem.length) {
      throw new BridgeRefusal('pointer-out-of-bounds', `${name}: attr at 0x${attrOff.toString(16)}+${size} lies outside the wasm memory (${mem.length} bytes)`, LINUX_EFAULT);
    }
    // Bytes past the union we know could hold fields (pointers) of a newer
    // header: like the kernel (bpf_check_uarg_tail_zero) they must be zero.
    const passSize = Math.min(size, tables.attrSize);
    for (let i = passSize; i < size; i++) {
      if (mem[attrOff + i] !== 0) {
        throw new BridgeRefusal('oversized-attr', `${name}: attr of ${size} bytes has non-zero bytes past the ${tables.attrSize} linux/bpf.h defines`, LINUX_E2BIG);
      }
    }
    const attr = nativeBuffer(tables.attrSize);
    attr.set(mem.subarray(attrOff, attrOff + passSize));
    const inAttr = attr.subarray(0, passSize);

    const base = addressOf(mem);
    const translations: Translation[] = [];
    let infoFixup: (() => void) | undefined;
    const allowedOffsets = new Set(fields.filter((f) => rule.pointers[f.name]).map((f) => f.offset));

    for (const f of fields) {
      if (!f.pointer) continue;
      if (f.offset < passSize && f.offset + f.size > passSize) {
        throw new BridgeRefusal('split-field', `${name}: attr size ${size} cuts pointer field '${f.name}' in half`, LINUX_EINVAL);
      }
      if (f.offset + f.size > passSize) continue;
      const value = u64(attr, f.offset);
      const extent = rule.pointers[f.name];
      if (!extent) {
        // Same offset as an allowed field (a union, e.g. value/next_key): handled there.
        if (allowedOffsets.has(f.offset) || value === 0n) continue;
        throw new BridgeRefusal('pointer-not-allowed', `${name}: pointer field '${f.name}' is not on the bridge's allow-list and must be NULL`, LINUX_EINVAL);
      }
      if (value === 0n) continue;
      if (extent.kind === 'info') {
        infoFixup = this.translateInfo(name, inAttr, attr, fields, value, mem, base);
        translations.push({ offset: f.offset, original: value });
        continue;
      }
      const len = this.extentLength(name, f.name, extent, inAttr, fields, value, mem);
      this.checkRange(name, f.name, value, len, mem.length);
      setU64(attr, f.offset, base + value);
      translations.push({ offset: f.offset, original: value });
    }

    const isProgLoad = name === 'BPF_PROG_LOAD';
    const t0 = isProgLoad ? process.hrtime.bigint() : 0n;
    const ret = Number(sysBpf(SYS_bpf, cmd, attr, passSize));
    const errno = ret < 0 ? lastErrno() : 0;
    if (isProgLoad) {
      const nameField = fields.find((f) => f.name === 'prog_name');
      const progName = nameField && nameField.offset + nameField.size <= passSize
        ? Buffer.from(attr.subarray(nameField.offset, nameField.offset + nameField.size)).toString('latin1').replace(/\0.*$/s, '')
        : '';
      this.progLoads.push({ name: progName, fd: ret, errno, ns: process.hrtime.bigint() - t0 });
    }
    infoFixup?.();
    // The kernel writes some attr fields back (info_len, log_true_size, ...):
    // copy the attr back with the wasm offsets restored in the pointer fields.
    for (const t of translations) setU64(attr, t.offset, t.original);
    this.view().set(attr.subarray(0, passSize), attrOff);

    if (ret < 0) return -(errno || LINUX_EINVAL);
    if (rule.returnsFd) this.opts.onFd?.(ret);
    return ret;
  }

  private checkRange(cmd: string, field: string, off: bigint, len: number, memLen: number): void {
    if (off + BigInt(len) > BigInt(memLen) || off < 0n) {
      throw new BridgeRefusal('pointer-out-of-bounds', `${cmd}: pointer field '${field}' = 0x${off.toString(16)} (+${len} bytes) lies outside the wasm memory (${memLen} bytes)`, LINUX_EFAULT);
    }
  }

  private extentLength(cmd: string, field: string, e: Extent, struct: Uint8Array, fields: readonly UapiField[], value: bigint, mem: Uint8Array): number {
    const fieldValue = (n: string): number => {
      const f = fields.find((x) => x.name === n);
      if (!f) throw new BridgeRefusal('unknown-command', `${cmd}: allow-list names field '${n}', absent from linux/bpf.h`, LINUX_ENOSYS);
      return readUint(struct, f);
    };
    switch (e.kind) {
      case 'bytes':
        return fieldValue(e.len);
      case 'records':
        return fieldValue(e.count) * (typeof e.recSize === 'number' ? e.recSize : fieldValue(e.recSize));
      case 'cstring': {
        const start = Number(value);
        if (start >= mem.length) return mem.length; // out of bounds: checkRange refuses it
        const end = mem.subarray(start, Math.min(start + e.max, mem.length)).indexOf(0);
        if (end < 0) throw new BridgeRefusal('pointer-out-of-bounds', `${cmd}: string field '${field}' has no NUL within ${e.max} bytes of wasm memory`, LINUX_EFAULT);
        return end + 1;
      }
      case 'mapKey':
      case 'mapValue': {
        const map = mapShape(fieldValue('map_fd'));
        if (!map) throw new BridgeRefusal('bad-fd', `${cmd}: map_fd ${fieldValue('map_fd')} is not a BPF map`, LINUX_EBADF);
        return e.kind === 'mapKey' ? map.keySize : map.valueSize;
      }
      case 'info':
        return 0;
    }
  }

  /**
   * BPF_OBJ_GET_INFO_BY_FD: the info struct is copied to native memory with
   * its own pointer fields (chosen by the fd's kind) translated; the returned
   * function copies the kernel's answer back into wasm memory afterwards.
   */
  private translateInfo(cmd: string, attr: Uint8Array, fullAttr: Uint8Array, fields: readonly UapiField[], infoOff: bigint, mem: Uint8Array, base: bigint): () => void {
    const get = (n: string) => readUint(attr, fields.find((f) => f.name === n)!);
    const bpfFd = get('info.bpf_fd');
    const infoLen = get('info.info_len');
    this.checkRange(cmd, 'info.info', infoOff, infoLen, mem.length);
    const struct = fdInfoStruct(bpfFd);
    if (!struct) throw new BridgeRefusal('bad-fd', `${cmd}: fd ${bpfFd} is not a BPF object`, LINUX_EBADF);
    const native = nativeBuffer(infoLen);
    const start = Number(infoOff);
    native.set(mem.subarray(start, start + infoLen));
    const info = native.subarray(0, infoLen);
    const infoFields = uapi().infos[struct]?.fields ?? [];
    const extents = INFO_POINTERS[struct] ?? {};
    const restored: Translation[] = [];
    for (const f of infoFields) {
      if (!f.pointer || f.offset + f.size > infoLen) continue;
      const v = u64(info, f.offset);
      if (v === 0n) continue;
      const e = extents[f.name];
      if (!e) throw new BridgeRefusal('pointer-not-allowed', `${cmd}: ${struct}.${f.name} is not on the bridge's allow-list and must be NULL`, LINUX_EINVAL);
      const len = this.extentLength(cmd, `${struct}.${f.name}`, e, info, infoFields, v, mem);
      this.checkRange(cmd, `${struct}.${f.name}`, v, len, mem.length);
      setU64(info, f.offset, base + v);
      restored.push({ offset: f.offset, original: v });
    }
    const infoPtrField = fields.find((f) => f.name === 'info.info')!;
    setU64(fullAttr, infoPtrField.offset, addressOf(native));
    return () => {
      for (const t of restored) setU64(info, t.offset, t.original);
      this.view().set(info, start);
    };
  }
}


/** Which info struct describes a bpf fd, from the anon inode it links to. */
export function fdInfoStruct(fd: number): string | undefined {
  try {
    return FD_KIND_INFO[readlinkSync(`/proc/self/fd/${fd}`)];
  } catch {
    return undefined;
  }
}

/**
 * BPF_OBJ_GET_INFO_BY_FD on a bpf fd, through native memory only, with its
 * nested pointers left NULL: the scalar fields of the info struct by name
 * (e.g. bpf_prog_info.verified_insns). undefined if the fd is not of that kind.
 */
export function objectInfo(fd: number, struct: 'bpf_prog_info' | 'bpf_map_info' | 'bpf_btf_info' | 'bpf_link_info'): Record<string, number> | undefined {
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
  for (const x of layout.fields) if (!x.pointer && [1, 2, 4, 8].includes(x.size)) out[x.name] = readUint(info.subarray(0, layout.size), x);
  return out;
}

/** key/value sizes of a map fd (per-CPU values: 8-byte slots × possible CPUs). */
export function mapShape(fd: number): { keySize: number; valueSize: number } | undefined {
  const info = objectInfo(fd, 'bpf_map_info');
  if (!info) return undefined;
  let valueSize = info.value_size!;
  if (PERCPU_MAP_TYPES.some((m) => enumValue('bpf_map_type', m) === info.type)) valueSize = Math.ceil(valueSize / 8) * 8 * numPossibleCpus();
  return { keySize: info.key_size!, valueSize };
}

