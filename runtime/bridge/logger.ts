// Where libbpf's messages (its print callback) and the bridge's refusals go.
// Levels are libbpf's (enum libbpf_print_level: WARN 0, INFO 1, DEBUG 2).
export type LogLevel = 'warn' | 'info' | 'debug';
export type Logger = (level: LogLevel, message: string) => void;

export const LIBBPF_PRINT_LEVELS: readonly LogLevel[] = ['warn', 'info', 'debug'];

/** Default: warnings to stderr, the rest dropped (KPROBE_BPF_DEBUG=1 shows all). */
export const stderrLogger: Logger = (level, message) => {
  if (level === 'warn' || process.env.KPROBE_BPF_DEBUG) process.stderr.write(`libbpf: ${message.replace(/\n$/, '')}\n`);
};
