// bpf(2) for the wasm libbpf. The attr it passes lives in wasm memory and its
// pointer fields hold wasm offsets. Node's own memory sits at low addresses
// that are also valid wasm offsets, so an untranslated pointer would not fail
// cleanly: the kernel would read or write Node's memory. Hence an allow-list,
// and the module is treated as hostile (a libbpf parsing bug could hand it to
// an object file): known commands only (allow-list.ts), nothing past the
// layout linux/bpf.h gives (uapi.ts), every pointer field bounds-checked
// against the wasm memory and rewritten to a real address, every fd one the
// module received from the bridge (fd-table.ts), everything else refused with
// a BridgeRefusal before the kernel sees it.
import { LINUX_ERRNO } from '../../lib/errno.js';
import { COMMAND_RULES, INFO_POINTERS, isFdField, type CommandRule, type Extent } from './allow-list.js';
import type { FdTable } from './fd-table.js';
import { addressOf, close, lastErrno, sysBpf, SYS_bpf } from './libc.js';
import { fdInfoStruct, mapShape, nativeBuffer, objectInfo } from './object-info.js';
import { BridgeRefusal } from './refusal.js';
import { commandName, layoutEnd, readField, uapi, type UapiField } from './uapi.js';
import { cStringAt, inBounds } from './wasm-memory.js';

export { BridgeRefusal, type RefusalReason } from './refusal.js';

const { E2BIG, EBADF, EFAULT, EINVAL, ENOENT, ENOSYS, EPERM } = LINUX_ERRNO;

/** One BPF_PROG_LOAD as the kernel saw it (load time per program for `check`). */
export interface ProgLoadRecord {
  /** prog_name as passed (the kernel keeps 15 characters) */
  name: string;
  fd: number;
  errno: number;
  ns: bigint;
  /** wasm offset of the verifier log buffer (0: none): tells which program of the object this was */
  logBuf: number;
}

/** One bpf() call on its way through the bridge. */
interface BpfCall {
  name: string;
  cmd: number;
  rule: CommandRule;
  fields: readonly UapiField[];
  /** bytes passed to the kernel (the attr's size, capped to the union we know) */
  passSize: number;
  /** native copy of the attr, pointers rewritten in place */
  attr: Uint8Array;
  mem: Uint8Array;
  /** native address of wasm offset 0 */
  base: bigint;
}

interface Translation {
  /** where the pointer field sits in its struct copy */
  offset: number;
  /** the wasm offset it held */
  original: bigint;
}

const u64 = (b: Uint8Array, off: number): bigint => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);
const setU64 = (b: Uint8Array, off: number, v: bigint): void => new DataView(b.buffer, b.byteOffset, b.byteLength).setBigUint64(off, v, true);
const setU32 = (b: Uint8Array, off: number, v: number): void => new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(off, v, true);
const fieldOf = (fields: readonly UapiField[], cmd: string, n: string): UapiField => {
  const f = fields.find((x) => x.name === n);
  if (!f) throw new BridgeRefusal('unknown-command', `${cmd}: allow-list names field '${n}', absent from linux/bpf.h`, ENOSYS);
  return f;
};

/** BPF_LD | BPF_IMM | BPF_DW and the src_reg values that make its imm an fd (linux/bpf.h BPF_PSEUDO_*). */
const LD_IMM64 = 0x18;
const PSEUDO_MAP_FD = 1;
const PSEUDO_MAP_VALUE = 2;
const PSEUDO_BTF_ID = 3;

export interface BpfBridgeOptions {
  /** The wasm instance's memory (read again on every call: it can grow). */
  memory: () => WebAssembly.Memory;
  /** The fds the module owns: checked in every fd field, new fds added. */
  fds: FdTable;
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
    const c = this.admit(cmd, attrOff, size);
    this.checkRequired(c);
    this.checkFds(c);
    if (c.name === 'BPF_PROG_LOAD') this.checkInsnFds(c);
    const { translations, copyBackInfo } = this.translatePointers(c);
    const ret = this.syscall(c);
    copyBackInfo?.();
    // The kernel writes some attr fields back (info_len, log_true_size, ...):
    // copy the attr back with the wasm offsets restored in the pointer fields.
    for (const t of translations) setU64(c.attr, t.offset, t.original);
    this.view().set(c.attr.subarray(0, c.passSize), attrOff);
    return this.result(c, ret);
  }

  /** Phase 1: a known command, an attr inside the wasm memory, long enough, and nothing past its known layout; copied to native memory. */
  private admit(cmd: number, attrOff: number, size: number): BpfCall {
    const tables = uapi();
    const name = commandName(cmd);
    const rule = name ? COMMAND_RULES[name] : undefined;
    if (!name || !rule) throw new BridgeRefusal('unknown-command', `bpf command ${name ?? cmd} is not on the bridge's allow-list`, ENOSYS);
    const fields = tables.commands[rule.layoutOf ?? name]?.fields ?? [];
    if (fields.length === 0) throw new BridgeRefusal('unknown-command', `${name}: linux/bpf.h gives no attr layout for it`, ENOSYS);
    const minField = fieldOf(fields, name, rule.minField);
    const mem = this.view();
    const minSize = minField.offset + minField.size;
    if (!Number.isInteger(size) || size < minSize) {
      throw new BridgeRefusal('short-attr', `${name}: attr of ${size} bytes is too short (needs at least ${minSize}, to the end of '${rule.minField}')`, EINVAL);
    }
    if (attrOff <= 0 || !inBounds(attrOff, size, mem.length)) {
      throw new BridgeRefusal('pointer-out-of-bounds', `${name}: attr at 0x${attrOff.toString(16)}+${size} lies outside the wasm memory (${mem.length} bytes)`, EFAULT);
    }
    // Bytes past the command's fields could be fields (pointers) of a newer
    // kernel than the header we know: like the kernel's own CHECK_ATTR and
    // bpf_check_uarg_tail_zero, they must be zero.
    const known = layoutEnd(fields);
    const stray = mem.subarray(attrOff + known, attrOff + size).findIndex((b) => b !== 0);
    if (stray >= 0) {
      const at = known + stray;
      if (at >= tables.attrSize) throw new BridgeRefusal('oversized-attr', `${name}: attr of ${size} bytes has non-zero bytes past the ${tables.attrSize} linux/bpf.h defines`, E2BIG);
      throw new BridgeRefusal('unknown-bytes', `${name}: attr byte ${at} is non-zero, past the last field linux/bpf.h gives the command (byte ${known})`, EINVAL);
    }
    const passSize = Math.min(size, tables.attrSize);
    const attr = nativeBuffer(tables.attrSize);
    attr.set(mem.subarray(attrOff, attrOff + passSize));
    return { name, cmd, rule, fields, passSize, attr, mem, base: addressOf(mem) };
  }

  /** Phase 2: fields pinned to one value (load-only commands such as BPF_LINK_CREATE). */
  private checkRequired(c: BpfCall): void {
    for (const [field, want] of Object.entries(c.rule.require ?? {})) {
      const value = typeof want === 'number' ? want : uapi().enums[want.enum]?.[want.name];
      if (value === undefined) throw new BridgeRefusal('unknown-command', `${c.name}: linux/bpf.h has no ${typeof want === 'number' ? want : want.name}: bpf-uapi.json predates it (run make)`, ENOSYS);
      const got = readField(c.attr.subarray(0, c.passSize), fieldOf(c.fields, c.name, field));
      if (got !== value) {
        const shown = typeof want === 'number' ? `${value}` : `${want.name} (${value})`;
        throw new BridgeRefusal('not-load-only', `${c.name}: '${field}' is ${got}, the bridge allows only ${shown}: libbpf's feature probe, never an attachment`, EPERM);
      }
    }
  }

  /** Phase 3: every fd field names an fd the module owns. */
  private checkFds(c: BpfCall): void {
    const attr = c.attr.subarray(0, c.passSize);
    for (const f of c.fields) {
      if (!isFdField(f.name, f.pointer) || f.offset + f.size > c.passSize) continue;
      this.checkFd(readField(attr, f), `${c.name}: '${f.name}'`);
    }
  }

  /**
   * An fd value from the module: one it owns, no fd at all (negative), or 0
   * where the UAPI means "none" (only while fd 0 is not a BPF object).
   */
  private checkFd(value: number, what: string): void {
    if (value >= 0x80000000 || this.opts.fds.has(value)) return;
    if (value === 0 && fdInfoStruct(0) === undefined) return;
    throw new BridgeRefusal('bad-fd', `${what}: fd ${value} was not handed to the module by the bridge`, EBADF);
  }

  /** Map and BTF fds inside the instructions (ld_imm64 pseudo sources) must be the module's too. */
  private checkInsnFds(c: BpfCall): void {
    const attr = c.attr.subarray(0, c.passSize);
    const insns = Number(u64(attr, fieldOf(c.fields, c.name, 'insns').offset));
    const count = readField(attr, fieldOf(c.fields, c.name, 'insn_cnt'));
    if (!inBounds(insns, count * 8, c.mem.length)) return; // refused when the pointer is translated
    const dv = new DataView(c.mem.buffer, c.mem.byteOffset + insns, count * 8);
    for (let i = 0; i + 1 < count; i++) {
      if (dv.getUint8(i * 8) !== LD_IMM64) continue;
      const src = dv.getUint8(i * 8 + 1) >> 4;
      if (src === PSEUDO_MAP_FD || src === PSEUDO_MAP_VALUE) this.checkFd(dv.getUint32(i * 8 + 4, true), `${c.name}: instruction ${i} (ld_imm64 map)`);
      if (src === PSEUDO_BTF_ID && dv.getUint32(i * 8 + 12, true) !== 0) this.checkFd(dv.getUint32(i * 8 + 12, true), `${c.name}: instruction ${i} (ld_imm64 BTF object)`);
      i++; // the second half of ld_imm64
    }
  }

  /** Phase 4: pointer fields bounds-checked and rewritten to host addresses; returns what to restore. */
  private translatePointers(c: BpfCall): { translations: Translation[]; copyBackInfo?: () => void } {
    const translations: Translation[] = [];
    let copyBackInfo: (() => void) | undefined;
    const allowedOffsets = new Set(c.fields.filter((f) => c.rule.pointers[f.name]).map((f) => f.offset));
    for (const f of c.fields) {
      if (!f.pointer) continue;
      if (f.offset < c.passSize && f.offset + f.size > c.passSize) {
        throw new BridgeRefusal('split-field', `${c.name}: attr size ${c.passSize} cuts pointer field '${f.name}' in half`, EINVAL);
      }
      if (f.offset + f.size > c.passSize) continue;
      const value = u64(c.attr, f.offset);
      const extent = c.rule.pointers[f.name];
      if (!extent) {
        // Same offset as an allowed field (a union, e.g. value/next_key): handled there.
        if (allowedOffsets.has(f.offset) || value === 0n) continue;
        throw new BridgeRefusal('pointer-not-allowed', `${c.name}: pointer field '${f.name}' is not on the bridge's allow-list and must be NULL`, EINVAL);
      }
      if (value === 0n) continue;
      translations.push({ offset: f.offset, original: value });
      if (extent.kind === 'info') {
        copyBackInfo = this.translateInfo(c, value);
        continue;
      }
      const len = this.extentLength(c.name, f.name, extent, c.attr.subarray(0, c.passSize), c.fields, value, c.mem);
      this.checkRange(c.name, f.name, value, len, c.mem.length);
      setU64(c.attr, f.offset, c.base + value);
    }
    return { translations, copyBackInfo };
  }

  /** Phase 5: the system call itself (BPF_PROG_LOAD timed and recorded). */
  private syscall(c: BpfCall): number {
    const t0 = process.hrtime.bigint();
    const ret = Number(sysBpf(SYS_bpf, c.cmd, c.attr, c.passSize));
    const errno = ret < 0 ? lastErrno() || EINVAL : 0;
    if (c.name === 'BPF_PROG_LOAD') {
      const ns = process.hrtime.bigint() - t0;
      const attr = c.attr.subarray(0, c.passSize);
      const nameField = c.fields.find((f) => f.name === 'prog_name');
      const name = nameField && nameField.offset + nameField.size <= c.passSize ? cStringAt(attr.subarray(0, nameField.offset + nameField.size), nameField.offset)?.text ?? '' : '';
      const logField = fieldOf(c.fields, c.name, 'log_buf');
      const logBuf = this.restoredPointer(c, logField);
      this.progLoads.push({ name, fd: ret, errno, ns, logBuf });
    }
    return ret < 0 ? -errno : ret;
  }

  /** Phase 6: a new fd becomes the module's (a BTF fd only if it is the kernel's). */
  private result(c: BpfCall, ret: number): number {
    if (ret < 0 || !c.rule.returnsFd) return ret;
    if (c.rule.returnsKernelBtf && objectInfo(ret, 'bpf_btf_info')?.kernel_btf !== 1) {
      // Another process's BTF (its programs' types): not the module's to
      // read. libbpf's load_module_btfs() walks every BTF id and skips one
      // that vanished (ENOENT) without a warning, which is what it gets.
      close(ret);
      return -ENOENT;
    }
    this.opts.fds.add(ret);
    return ret;
  }

  /** The wasm offset a pointer field held before translation (0 when absent or NULL). */
  private restoredPointer(c: BpfCall, f: UapiField): number {
    if (f.offset + f.size > c.passSize) return 0;
    const v = u64(c.attr, f.offset);
    return v === 0n ? 0 : Number(v - c.base);
  }

  private checkRange(cmd: string, field: string, off: bigint, len: number, memLen: number): void {
    if (!inBounds(off, len, memLen)) {
      throw new BridgeRefusal('pointer-out-of-bounds', `${cmd}: pointer field '${field}' = 0x${off.toString(16)} (+${len} bytes) lies outside the wasm memory (${memLen} bytes)`, EFAULT);
    }
  }

  private extentLength(cmd: string, field: string, e: Extent, struct: Uint8Array, fields: readonly UapiField[], value: bigint, mem: Uint8Array): number {
    const fieldValue = (n: string): number => readField(struct, fieldOf(fields, cmd, n));
    switch (e.kind) {
      case 'bytes':
        return fieldValue(e.len);
      case 'records':
        return fieldValue(e.count) * (typeof e.recSize === 'number' ? e.recSize : fieldValue(e.recSize));
      case 'cstring': {
        if (value >= BigInt(mem.length)) return mem.length; // out of bounds: checkRange refuses it
        const s = cStringAt(mem, Number(value), e.max);
        if (!s) throw new BridgeRefusal('pointer-out-of-bounds', `${cmd}: string field '${field}' has no NUL within ${e.max} bytes of wasm memory`, EFAULT);
        return s.bytes;
      }
      case 'mapKey':
      case 'mapValue': {
        const map = mapShape(fieldValue('map_fd'));
        if (!map) throw new BridgeRefusal('bad-fd', `${cmd}: map_fd ${fieldValue('map_fd')} is not a BPF map`, EBADF);
        return e.kind === 'mapKey' ? map.keySize : map.valueSize;
      }
      case 'info':
        return 0;
    }
  }

  /**
   * BPF_OBJ_GET_INFO_BY_FD: the info struct is copied to native memory with
   * its own pointer fields (chosen by the fd's kind) translated, and its
   * length capped to the struct linux/bpf.h gives, as the kernel does for an
   * older caller: a field we do not know (a pointer of a newer kernel) never
   * reaches the kernel. The kernel's answer is copied back after the call.
   */
  private translateInfo(c: BpfCall, infoOff: bigint): () => void {
    const attr = c.attr.subarray(0, c.passSize);
    const bpfFd = readField(attr, fieldOf(c.fields, c.name, 'info.bpf_fd'));
    const lenField = fieldOf(c.fields, c.name, 'info.info_len');
    const struct = fdInfoStruct(bpfFd);
    if (!struct) throw new BridgeRefusal('bad-fd', `${c.name}: fd ${bpfFd} is not a BPF object`, EBADF);
    const layout = uapi().infos[struct] ?? { size: 0, fields: [] };
    const infoLen = Math.min(readField(attr, lenField), layout.size);
    this.checkRange(c.name, 'info.info', infoOff, infoLen, c.mem.length);
    const native = nativeBuffer(infoLen);
    const start = Number(infoOff);
    native.set(c.mem.subarray(start, start + infoLen));
    const info = native.subarray(0, infoLen);
    const extents = INFO_POINTERS[struct] ?? {};
    const restored: Translation[] = [];
    for (const f of layout.fields) {
      if (!f.pointer || f.offset + f.size > infoLen) continue;
      const v = u64(info, f.offset);
      if (v === 0n) continue;
      const e = extents[f.name];
      if (!e) throw new BridgeRefusal('pointer-not-allowed', `${c.name}: ${struct}.${f.name} is not on the bridge's allow-list and must be NULL`, EINVAL);
      const len = this.extentLength(c.name, `${struct}.${f.name}`, e, info, layout.fields, v, c.mem);
      this.checkRange(c.name, `${struct}.${f.name}`, v, len, c.mem.length);
      setU64(info, f.offset, c.base + v);
      restored.push({ offset: f.offset, original: v });
    }
    setU32(c.attr, lenField.offset, infoLen);
    setU64(c.attr, fieldOf(c.fields, c.name, 'info.info').offset, addressOf(native));
    return () => {
      for (const t of restored) setU64(info, t.offset, t.original);
      this.view().set(info, start);
    };
  }
}
