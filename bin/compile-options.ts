// What the CLI hands the compiler beyond the definitions: the ELF symbol
// resolver for PATH:SYMBOL probes (runtime/ reads the binary; the compiler
// stays free of file access).
import type { LowerOptions } from '../compiler/lower.js';
import { resolveFileSymbol } from '../runtime/elf-symbols.js';

export const COMPILE_OPTIONS: LowerOptions = { resolveFileSymbol };
