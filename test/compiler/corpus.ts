// A generated corpus of probe definitions covering every fetch kind, type,
// bitfield, array and string form, for kprobes and uprobes. Kernel symbols
// are taken from this machine's /proc/kallsyms so the objects load here.
import { readFileSync } from 'node:fs';

const REGS = ['ax', 'bx', 'cx', 'dx', 'si', 'di', 'bp', 'sp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'ip', 'flags', 'cs', 'ss', 'orig_ax'];
const INT_TYPES = ['u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 's64', 'x8', 'x16', 'x32', 'x64'];

export interface KernelSymbols {
  /** Functions that can be probed (text symbols); never empty. */
  readonly functions: readonly string[];
  /** A data symbol libbpf can resolve as a typeless __ksym. */
  readonly data: string;
}

/**
 * Picks probe-able functions and a data symbol from kallsyms (addresses may
 * be hidden; names suffice). Throws when kallsyms has none of the wanted
 * functions or no data symbol: the corpus would otherwise probe a symbol
 * named "undefined" or silently lose its @SYM arguments.
 */
export function kernelSymbols(kallsyms = '/proc/kallsyms'): KernelSymbols {
  const wanted = ['do_sys_openat2', 'vfs_read', 'ksys_read', '__x64_sys_getpid', 'vfs_write', 'do_nanosleep'];
  const have = new Set<string>();
  let data: string | undefined;
  for (const line of readFileSync(kallsyms, 'utf8').split('\n')) {
    const [, type, name] = line.split(' ');
    if (!name || name.includes('[')) continue;
    if (wanted.includes(name)) have.add(name);
    if (!data && (type === 'D' || type === 'd' || type === 'B' || type === 'R') && /^[A-Za-z_]\w*$/.test(name)) data = name;
  }
  const functions = wanted.filter((w) => have.has(w));
  if (functions.length === 0) throw new Error(`${kallsyms} lists none of ${wanted.join(', ')}: the kprobe corpus has no function to probe`);
  if (!data) throw new Error(`${kallsyms} lists no data symbol (type D, d, B or R): the corpus's @SYM arguments need one`);
  return { functions, data };
}

/** Fetch-argument bodies valid on both tracers (x86-64). */
function commonArgs(): string[] {
  const out: string[] = [];
  for (const r of REGS) out.push(`%${r}`);
  for (const t of INT_TYPES) out.push(`%di:${t}`, `+8(%si):${t}`, `-16(+0(%sp)):${t}`);
  out.push('$stack', '$stack0', '$stack3', '$stack:x32', '$stack1:s16');
  out.push('$comm', '$comm:string', '\\42', '\\-1', '\\0x7fffffffffffffff', '\\12:u8', '\\"text"', '\\"":string');
  out.push('+0(%di):string', '+8(+16(%si)):string', '+0(+0(+0(+0(%dx)))):u32', '+4(%bp):char', '+0(%si):char[4]');
  out.push('%di:b1@0/8', '%si:b3@2/32', '%dx:b12@4/16', '%cx:b63@0/64', '+0(%di):b5@3/32', '+2(%si):b7@1/8');
  out.push('+0(%di):u8[8]', '+0(%si):x16[3]', '+0(%dx):s64[2]', '+0(%si):string[2]', '+0(%di):u32[64]');
  out.push('+0(%di):ustring', '+u0(%si):u32', '+u8(+u0(%di)):x64', '+u0(%si):string');
  return out;
}

function kprobeOnlyArgs(sym: KernelSymbols): string[] {
  return [
    '$arg1', '$arg2:s32', '$arg6', '$arg7', '$arg9:u16', '%ip:symbol', '+0(%sp):symbol', '%ip:symstr', '@0xffffffff82400000:u32',
    `@${sym.data}`, `@${sym.data}+8:u64`, `@${sym.data}-8:x32`, `@${sym.data}:string`,
  ];
}

const uprobeOnlyArgs = ['@+0x4020', '@+0x4020:u32', '@+0x4020:string', '@+0:x8[4]'];

/** Splits bodies into definition lines of `perLine` named args each. */
function lines(prefix: string, bodies: readonly string[], perLine: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < bodies.length; i += perLine) {
    const args = bodies.slice(i, i + perLine).map((b, j) => `a${j}=${b}`);
    out.push(`${prefix} ${args.join(' ')}`);
  }
  return out;
}

/**
 * Probe lines. `binary` is a real ELF whose file offset `offset` is a function
 * entry (uprobes); kernel lines use `sym`.
 */
export function probeCorpus(binary: string, offset: number, sym: KernelSymbols): string[] {
  const hex = `0x${offset.toString(16)}`;
  const fn = sym.functions;
  const kArgs = [...commonArgs(), ...kprobeOnlyArgs(sym)];
  const uArgs = [...commonArgs(), ...uprobeOnlyArgs];
  const out: string[] = [];
  // one argument per line: every form compiles on its own
  kArgs.forEach((b, i) => out.push(`p:kcorpus/k${i} ${fn[i % fn.length]} a=${b}`));
  uArgs.forEach((b, i) => out.push(`p:ucorpus/u${i} ${binary}:${hex} a=${b}`));
  // return probes with $retval and mixed arguments
  fn.forEach((f, i) => out.push(`r:kcorpus/kr${i} ${f} rv=$retval:s32 c=$comm`, `r${i + 1}:kcorpus/krm${i} ${f}+0 $retval`));
  out.push(`p:kcorpus/kpr ${fn[0]}%return rv=$retval`, `r:ucorpus/ur ${binary}:${hex} rv=$retval p=%ip s=+0($retval):string`);
  out.push(`p:ucorpus/upr ${binary}:${hex}%return rv=$retval:x32 fo=@+0x4020`);
  // generated names, offsets and no arguments
  // (the kernel names uprobe return probes p_..., so the r line needs a name of its own)
  out.push(`p ${fn[0]}`, `r ${fn[0]}`, `p ${fn[0]}+4`, `p ${binary}:${hex}`, `r:ucorpus/ret ${binary}:${hex}`);
  // many arguments per event: records with several strings and fields
  out.push(...lines(`p:kcorpus/kmany ${fn[0]}`, kArgs, 16).map((l, i) => l.replace('kmany', `kmany${i}`)));
  out.push(...lines(`p:ucorpus/umany ${binary}:${hex}`, uArgs, 16).map((l, i) => l.replace('umany', `umany${i}`)));
  return out;
}
