// Where the guest kernel really puts a kprobe: its own debugfs list
// ("ADDR  k  FUNC+0xOFF ..." for a probe defined, not enabled). An IBT
// kernel (6.12, CONFIG_X86_KERNEL_IBT) moves a probe on a function entry
// that starts with ENDBR 4 bytes in (arch_adjust_kprobe_addr); 6.1 leaves
// it at +0x0. Which bytes a function starts with is live-kernel knowledge,
// so tests ask the kernel instead of assuming.
import { readFileSync } from 'node:fs';
import { defineEvents, removeEvents } from './ftrace.js';

const KPROBES_LIST = '/sys/kernel/debug/kprobes/list';

const LIST_LINE = /^([0-9a-f]+)\s+k\s+(\S+)\+(0x[0-9a-f]+)/;

/**
 * The offset ("0x0", "0x4") kprobes/list shows for a probe `p:GROUP/where
 * PLACE`, PLACE a function's name or its address (the list may name an
 * alias at that address, e.g. __do_sys_getpid for __x64_sys_getpid).
 * Defines the probe, reads the list, removes it: call it before tracing,
 * since reading the list opens a file a traced probe would see.
 */
export function probeOffset(group: string, place: string): string | undefined {
  const [probe] = defineEvents('kprobe', [`p:${group}/where ${place}`]);
  let list: string;
  try {
    list = readFileSync(KPROBES_LIST, 'utf8');
  } finally {
    removeEvents(probe ? [probe] : []);
  }
  const at = /^0x[0-9a-f]+$/.test(place) ? BigInt(place) : undefined;
  for (const line of list.split('\n')) {
    const m = LIST_LINE.exec(line);
    if (!m) continue;
    const [, addr, sym, off] = m;
    if (at === undefined ? sym === place : BigInt(`0x${addr}`) - BigInt(off!) === at) return off;
  }
  return undefined;
}
