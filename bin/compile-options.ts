// What the CLI hands the compiler beyond the definitions: the ELF symbol
// resolver for PATH:SYMBOL probes (runtime/ reads the binary; the compiler
// stays free of file access), and the running kernel's facts for the flags column.
import type { LowerOptions } from '../compiler/lower.js';
import { resolveFileSymbol } from '../runtime/elf-symbols.js';
import { hostTraceContextRules } from '../runtime/kernel-trace-context.js';
import { runningKernel } from '../grammar/kernel-rules/index.js';

// entryArgs: a return kprobe's $argN is its entry value from 6.9 on (the kernel's entry data), the register at the return before
export const COMPILE_OPTIONS: LowerOptions = { resolveFileSymbol, traceContext: hostTraceContextRules(), entryArgs: runningKernel().probe.exitArgs };
