// Which module's split BTF can hold a function, found without reading every
// module's BTF. The kernel (kernel/bpf/btf.c bpf_find_btf_id) searches
// vmlinux, then each loaded module's BTF in BTF id order, which is module load
// order; a function of a module is also one of that module's kallsyms
// symbols, tagged `[mod]` in /proc/kallsyms. So for the running kernel the
// candidates are the modules kallsyms tags the name with, and only their BTF
// is opened. /proc/kallsyms lists module symbols newest module first
// (kernel/module/kallsyms.c walks the `modules` list, which load adds to at
// its head), so the tags are taken last to first to follow load order.
//
// For another kernel's BTF (`--btf DIR`), the running kernel's kallsyms says
// nothing: each module file there is searched for the name in its string
// section (a byte search, no type is parsed), in file name order.
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { parseBtfHeader } from './btf.js';

/** Where module BTF lives and which modules may hold a name. */
export interface ModuleLocator {
  /** The module's BTF file, or undefined when it has none (not loaded, or built without BTF). */
  path(module: string): string | undefined;
  /** Modules that may hold a FUNC named `name`, in the order the kernel searches them. */
  holders(name: string): readonly string[];
}

/** Where the running kernel publishes its BTF (vmlinux and one file per loaded module). */
export const SYS_KERNEL_BTF = '/sys/kernel/btf';

/** A C identifier: BTF names functions by theirs, so nothing else (`MOD:SYM` as written, `f.isra.0`) is in any BTF. */
const C_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A module's name (kernel: MODULE_NAME_LEN, `-` made `_` by kmod; `9pnet` starts with a digit): never a path. */
const MODULE_NAME = /^[A-Za-z0-9_-]{1,55}$/;

/** Module names for a symbol in kallsyms text: lines `ADDR T NAME\t[MOD]`, in the order given. */
export function kallsymsModulesOf(kallsyms: Buffer, name: string): string[] {
  const needle = Buffer.from(` ${name}\t[`, 'latin1');
  const found: string[] = [];
  for (let at = kallsyms.indexOf(needle); at >= 0; at = kallsyms.indexOf(needle, at + needle.length)) {
    const from = at + needle.length;
    const end = kallsyms.indexOf(']', from);
    if (end < 0) break;
    found.push(kallsyms.toString('latin1', from, end));
  }
  return found;
}

let kallsymsText: Buffer | undefined;
let modulesSeen: string | undefined;
/** The loaded modules' names (/proc/modules' first column; a few KiB). */
function loadedModules(): string {
  try { return readFileSync('/proc/modules', 'latin1').split('\n').map((l) => l.slice(0, l.indexOf(' '))).join(' '); } catch { return ''; }
}
/**
 * /proc/kallsyms, read only when a name is missing from vmlinux's BTF, and
 * again only when modules were loaded or unloaded since (a process that lives
 * across a modprobe: a library caller, the guest suite's one process).
 */
function kallsyms(): Buffer {
  const modules = loadedModules();
  if (kallsymsText === undefined || modules !== modulesSeen) {
    kallsymsText = readFileSync('/proc/kallsyms');
    modulesSeen = modules;
  }
  return kallsymsText;
}

/** Load order from kallsyms' tags (newest module first there), each module once. */
function loadOrder(tags: readonly string[]): string[] {
  return [...new Set([...tags].reverse())];
}

/** Whether a BTF blob's string section holds `name` as a whole string (cheap: no type is read). */
function btfHasString(bytes: Uint8Array, name: string): boolean {
  try {
    const layout = parseBtfHeader(bytes);
    const strings = Buffer.from(bytes.buffer, bytes.byteOffset + layout.strOff, layout.strLen);
    return strings.indexOf(Buffer.from(`\0${name}\0`, 'utf8')) >= 0;
  } catch {
    return false;
  }
}

const isRunningKernelDir = (dir: string): boolean => {
  try {
    return realpathSync(dir) === SYS_KERNEL_BTF;
  } catch {
    return false;
  }
};

/**
 * The locator for module BTF files in `dir`: the running kernel's
 * (/sys/kernel/btf) finds holders through kallsyms, any other directory by
 * searching its files' strings.
 */
export function moduleLocator(dir: string): ModuleLocator {
  const path = (module: string): string | undefined => {
    if (module === 'vmlinux' || !MODULE_NAME.test(module)) return undefined;
    const p = join(dir, module);
    return existsSync(p) ? p : undefined;
  };
  let files: string[] | undefined;
  const moduleFiles = (): string[] => (files ??= existsSync(dir) ? readdirSync(dir).filter((f) => f !== 'vmlinux').sort() : []);
  if (isRunningKernelDir(dir)) {
    // no module BTF published (a kernel without modules, or without CONFIG_DEBUG_INFO_BTF_MODULES): kallsyms is not read
    // (listed again each time: modules come and go while a process lives)
    const anyModule = (): boolean => existsSync(dir) && readdirSync(dir).some((f) => f !== 'vmlinux');
    return { path, holders: (name) => (C_NAME.test(name) && anyModule() ? loadOrder(kallsymsModulesOf(kallsyms(), name)) : []) };
  }
  return {
    path,
    holders(name) {
      if (!C_NAME.test(name)) return [];
      return moduleFiles().filter((m) => {
        const p = path(m);
        return p !== undefined && btfHasString(readFileSync(p), name);
      });
    },
  };
}
