// The kernel's character classes (lib/ctype.c, Latin-1), over filter text
// held as a byte string: one JS char per byte, so indexes are the byte
// offsets the kernel reports. Past the end reads as NUL, as C strings do.

/** Text as the kernel sees it: UTF-8 bytes, one char per byte. */
export const toBytes = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');
/** Back from bytes to text (what reading the file with utf8 shows). */
export const fromBytes = (bytes: string): string => Buffer.from(bytes, 'latin1').toString('utf8');

/** Byte at i, 0 at or past the end (the C string's NUL). */
export const byteAt = (s: string, i: number): number => (i < s.length ? s.charCodeAt(i) : 0);

/** kernel: isspace (_S: \t\n\v\f\r, space, and Latin-1 NBSP 0xa0). */
export const isSpace = (c: number): boolean => (c >= 9 && c <= 13) || c === 32 || c === 0xa0;
export const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
/** kernel: isalpha, which counts the Latin-1 letters 0xc0-0xff (but × and ÷). */
export const isAlpha = (c: number): boolean =>
  (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0xc0 && c <= 0xff && c !== 0xd7 && c !== 0xf7);
export const isAlnum = (c: number): boolean => isDigit(c) || isAlpha(c);

/** kernel: strstrip as event_filter_write uses it: trailing whitespace removed, leading kept. */
export function stripTrailingSpace(bytes: string): string {
  let end = bytes.length;
  while (end > 0 && isSpace(bytes.charCodeAt(end - 1))) end--;
  return bytes.slice(0, end);
}

/** kernel: strim's view of the text, both ends (used for the "0" that clears a filter). */
export function stripBothEnds(bytes: string): string {
  let start = 0;
  const s = stripTrailingSpace(bytes);
  while (start < s.length && isSpace(s.charCodeAt(start))) start++;
  return s.slice(start);
}
