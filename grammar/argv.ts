// How the kernel cuts written text into commands and words
// (kernel: trace.c trace_parse_run_command, lib/argv_split.c).

/** One command line: its 1-based number and the text before any '#'. */
export interface SourceLine {
  readonly lineNumber: number;
  readonly text: string;
}

/** kernel: WRITE_BUFSIZE - 2, the longest line trace_parse_run_command accepts. */
export const MAX_LINE_LEN = 4094;

/** Splits input at '\n' and drops everything from the first '#' on each line. */
export function sourceLines(input: string): SourceLine[] {
  return input.split('\n').map((line, i) => {
    const hash = line.indexOf('#');
    return { lineNumber: i + 1, text: hash >= 0 ? line.slice(0, hash) : line };
  });
}

/** kernel: isspace() in the C locale. */
const SPACE = /[ \t\n\v\f\r]+/;

/** kernel: argv_split — words separated by runs of whitespace. */
export function splitArgv(text: string): string[] {
  return text.split(SPACE).filter((w) => w.length > 0);
}

/** Where the caret goes for an error in argv[index] at `offset` (kernel: __trace_probe_log_err). */
export function caretColumn(argv: readonly string[], index: number, offset: number): number {
  let pos = 0;
  for (let i = 0; i < argv.length && i < index; i++) pos += argv[i]!.length + 1;
  // Past the last word: "next to the last arg + space", offset ignored.
  return index >= argv.length ? pos : pos + offset;
}
