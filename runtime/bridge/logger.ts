// Where libbpf's messages (its print callback) and the bridge's refusals go.
// Levels are libbpf's (enum libbpf_print_level: WARN 0, INFO 1, DEBUG 2).
import { errnoName } from '../../lib/errno.js';
import { toLinuxErrno } from './errno.js';

export type LogLevel = 'warn' | 'info' | 'debug';
export type Logger = (level: LogLevel, message: string) => void;

export const LIBBPF_PRINT_LEVELS: readonly LogLevel[] = ['warn', 'info', 'debug'];

/**
 * libbpf's text with its errno numbers made Linux's. libbpf prints an error
 * as "%s(%d)": strerror's text, then the number, which inside the wasm module
 * is wasi's (EPERM is 63 there). The text comes after ':' and starts upper
 * case (strerror's), which tells it from "section(%d)" and the like.
 */
export function libbpfText(message: string): string {
  return message.replace(/(:\s?)([A-Z][^():\n]*?)\((-?\d+)\)/g, (_m, sep: string, text: string, n: string) =>
    `${sep}${text} (${errnoName(toLinuxErrno(Math.abs(Number(n))))})`);
}

/** Default: warnings to stderr, the rest dropped (KPROBE_BPF_DEBUG=1 shows all). libbpf's own lines already say "libbpf: ". */
export const stderrLogger: Logger = (level, message) => {
  if (level !== 'warn' && !process.env.KPROBE_BPF_DEBUG) return;
  const line = message.replace(/\n$/, '');
  process.stderr.write(line.startsWith('libbpf: ') ? `${line}\n` : `libbpf: ${line}\n`);
};
