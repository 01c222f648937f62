// Event and group names as the kernel checks and generates them
// (kernel: kernel/trace/trace.h is_good_name / is_good_system_name,
// trace_probe.c traceprobe_parse_event_name, trace_kprobe.c / trace_uprobe.c).
import type { ProbePoint } from './ast.js';
import type { Refuse } from './errors.js';

/** A kprobe's place: [MOD:]SYM[+offs] or MEMADDR. */
export type KprobePoint = Extract<ProbePoint, { kind: 'symbol' | 'address' }>;

/** kernel: MAX_EVENT_NAME_LEN (buffer size, so names hold at most 63 chars). */
export const MAX_EVENT_NAME_LEN = 64;

/** kernel: KPROBE_EVENT_SYSTEM / UPROBE_EVENT_SYSTEM / FPROBE_EVENT_SYSTEM / TRACEPOINT_EVENT_SYSTEM. */
export const DEFAULT_GROUP = { kprobe: 'kprobes', uprobe: 'uprobes', fprobe: 'fprobes', tprobe: 'tracepoints' } as const;

const isAlpha = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
const isDigit = (c: string) => c >= '0' && c <= '9';

/** C identifier (kernel: is_good_name). */
export function isGoodName(name: string): boolean {
  if (name.length === 0 || !(isAlpha(name[0]!) || name[0] === '_')) return false;
  for (let i = 1; i < name.length; i++) {
    const c = name[i]!;
    if (!isAlpha(c) && !isDigit(c) && c !== '_') return false;
  }
  return true;
}

/** Group names may also contain '-' (kernel: is_good_system_name). */
export function isGoodSystemName(name: string): boolean {
  if (name.length === 0 || !(isAlpha(name[0]!) || name[0] === '_')) return false;
  for (let i = 1; i < name.length; i++) {
    const c = name[i]!;
    if (!isAlpha(c) && !isDigit(c) && c !== '_' && c !== '-') return false;
  }
  return true;
}

/**
 * kernel: traceprobe_parse_event_name. `text` is what follows "p:" and
 * `offset` its position in argv[0]; a bad name is refused at the offset
 * within argv[0] the kernel reports. An empty event after "GRP/" means
 * "generate one" (event undefined).
 */
export function parseEventName(text: string, offset: number, refuse: Refuse): { group?: string; event?: string } {
  let slash = text.indexOf('/');
  if (slash < 0) slash = text.indexOf('.');
  let group: string | undefined;
  let event = text;
  if (slash >= 0) {
    if (slash === 0) refuse('NO_GROUP_NAME', offset);
    if (slash + 1 > MAX_EVENT_NAME_LEN) refuse('GROUP_TOO_LONG', offset);
    group = text.slice(0, slash);
    if (!isGoodSystemName(group)) refuse('BAD_GROUP_NAME', offset);
    event = text.slice(slash + 1);
    offset += slash + 1;
  }
  if (event.length === 0) {
    if (slash >= 0) return { group };
    refuse('NO_EVENT_NAME', offset);
  }
  if (event.length >= MAX_EVENT_NAME_LEN) refuse('EVENT_TOO_LONG', offset);
  if (!isGoodName(event)) refuse('BAD_EVENT_NAME', offset);
  return group === undefined ? { event } : { group, event };
}

/** snprintf into a MAX_EVENT_NAME_LEN buffer. */
const clip = (s: string) => s.slice(0, MAX_EVENT_NAME_LEN - 1);

/** kernel: sanitize_event_name — ':' and '.' after the first char become '_'. */
function sanitizeEventName(s: string): string {
  return s[0] + s.slice(1).replace(/[:.]/g, '_');
}

/**
 * kprobe: "%c_%s_%ld" (SYM, offset) or "%c_0x%p" (address). For an address
 * the kernel's %p prints a 32-bit hash of the address made with a per-boot
 * secret key (0x00000000XXXXXXXX), unless booted with no_hash_pointers. No
 * one outside that kernel can compute the hash, so the name cannot match byte
 * for byte; we print the address itself, zero-padded to 16 digits: the name
 * that kernel generates with no_hash_pointers. (Same in format.ts's readback.)
 */
export function kprobeEventName(isReturn: boolean, point: KprobePoint): string {
  const c = isReturn ? 'r' : 'p';
  const raw = point.kind === 'symbol'
    ? `${c}_${point.module !== undefined ? `${point.module}:` : ''}${point.symbol}_${point.offset}`
    : `${c}_0x${point.address.toString(16).padStart(16, '0')}`;
  return sanitizeEventName(clip(raw));
}

/** Last path component (kernel: kbasename). */
export function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** uprobe: "p_<basename cut at . - _>_0x<off>", 'p' even for return probes (kernel: __trace_uprobe_create). */
export function uprobeEventName(path: string, offset: bigint): string {
  const tail = basename(path);
  const cut = tail.search(/[.\-_]/);
  return clip(`p_${cut >= 0 ? tail.slice(0, cut) : tail}_0x${offset.toString(16)}`);
}

/** Our PATH:SYMBOL[+offs] extension: "p_<basename>_<SYM>[_<off>]", sanitized like kprobe names. */
export function uprobeSymbolEventName(path: string, symbol: string, offset: bigint): string {
  const tail = basename(path);
  const cut = tail.search(/[.\-_]/);
  const base = `p_${cut >= 0 ? tail.slice(0, cut) : tail}_${symbol}${offset !== 0n ? `_${offset}` : ''}`;
  return clip(base).replace(/[^A-Za-z0-9_]/g, '_');
}
