// Split BTF (a kernel module's, /sys/kernel/btf/<module>) parsed whole on top
// of its base (vmlinux's): its type ids continue after the base's last id, its
// string offsets after the base's string section (kernel: btf_parse_module,
// btf->start_id = base's nr_types, btf->start_str_off = base's hdr.str_len).
// The compiler's readers (fexit argument slots, CO-RE member paths) work on a
// parsed Btf; this gives them one that sees the base's types and the module's
// under one id space, base first, as libbpf's lookups do.
import { readFileSync } from 'node:fs';
import { btfOver, parseBtf, parseBtfHeader, readBtfTypes, type Btf, type BtfType, type TypeId } from './btf.js';
import { btfLayout, VMLINUX_BTF } from './btf-kernel.js';
import { moduleLocator, type ModuleLocator } from './btf-split-modules.js';
import { cString } from './string-table.js';

/** Parses `bytes`, split BTF whose base is `base`, into one Btf holding both (ids and strings continued). */
export function parseSplitBtf(base: Btf, bytes: Uint8Array): Btf {
  const layout = parseBtfHeader(bytes);
  const own = bytes.subarray(layout.strOff, layout.strOff + layout.strLen);
  const baseLen = base.strings.length;
  const str = (off: number): string => (off < baseLen ? base.str(off) : off - baseLen < own.length ? cString(own, off - baseLen) : '');
  const first = base.types.length;
  // readBtfTypes numbers from 1: shift the module's own ids past the base's
  const added = readBtfTypes(bytes, layout, str).slice(1);
  for (const t of added) (t as { id: TypeId }).id = t.id - 1 + first;
  const types: BtfType[] = [...base.types, ...added];
  const strings = new Uint8Array(baseLen + own.length);
  strings.set(base.strings);
  strings.set(own, baseLen);
  return btfOver(types, strings, str);
}

/**
 * A kernel's BTF as the compiler reads it, parsed whole on first use: vmlinux
 * (`path` as `--btf` takes it, see btfLayout), and each module's on top of it
 * when a lookup names that module.
 */
export class KernelBtfFiles {
  private vmlinux: Btf | undefined;
  private readonly modules = new Map<string, Btf | null>();
  private readonly layout: ReturnType<typeof btfLayout>;

  constructor(path: string) {
    this.layout = btfLayout(path);
  }

  /** vmlinux's BTF. */
  base(): Btf {
    this.vmlinux ??= parseBtf(readFileSync(this.layout.vmlinux));
    return this.vmlinux;
  }

  /** vmlinux's and `module`'s types together, or undefined when the module has no BTF there. */
  withModule(module: string): Btf | undefined {
    let m = this.modules.get(module);
    if (m === undefined) {
      m = null;
      const kernel = this.locator();
      const path = kernel?.path(module);
      if (path !== undefined) m = parseSplitBtf(this.base(), readFileSync(path));
      this.modules.set(module, m);
    }
    return m ?? undefined;
  }

  private locatorMemo: ModuleLocator | undefined | null = null;
  private locator(): ModuleLocator | undefined {
    if (this.locatorMemo === null) this.locatorMemo = this.layout.modulesDir === undefined ? undefined : moduleLocator(this.layout.modulesDir);
    return this.locatorMemo;
  }
}

const opened = new Map<string, KernelBtfFiles>();
/** One KernelBtfFiles per path and process, so fexit slots and CO-RE paths share one parse (default: the running kernel's). */
export function kernelBtfFiles(path: string = VMLINUX_BTF): KernelBtfFiles {
  let f = opened.get(path);
  if (!f) opened.set(path, (f = new KernelBtfFiles(path)));
  return f;
}
