// String tables as ELF (.strtab, .shstrtab) and BTF (.BTF's string section)
// lay them out: NUL-terminated strings back to back, offset 0 the empty string,
// a name stored as its offset. The writer's side and the reader's side.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Bytes of `s` in UTF-8 as TextEncoder writes it (a lone surrogate becomes
 * U+FFFD, 3 bytes), without encoding it: names are almost always ASCII.
 */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a surrogate pair: 2 UTF-16 units, 4 bytes
      i++;
    } else n += 2; // the rest of the BMP, lone surrogates included (as U+FFFD)
  }
  return n;
}

/**
 * String table with deduplication (a Map from string to offset); offset 0 is
 * the empty string. Strings are kept as strings and encoded once, together,
 * by bytes(): an encoder call per name was the writer's main cost.
 */
export class StringTable {
  private readonly parts: string[] = [''];
  private readonly index = new Map<string, number>([['', 0]]);
  private length = 1;

  add(s: string): number {
    const have = this.index.get(s);
    if (have !== undefined) return have;
    const off = this.length;
    this.parts.push(s);
    this.length += utf8Length(s) + 1;
    this.index.set(s, off);
    return off;
  }

  get size(): number {
    return this.length;
  }

  /** The table as text, to be written as UTF-8 where it goes (its byte length is `size`). */
  text(): string {
    return `${this.parts.join('\0')}\0`;
  }

  bytes(): Uint8Array {
    // '' first, each string followed by its NUL: "\0a\0b\0"
    const out = encoder.encode(`${this.parts.join('\0')}\0`);
    if (out.length !== this.length) throw new Error(`internal: string table is ${out.length} bytes, counted ${this.length}`);
    return out;
  }
}

/** Reads a NUL-terminated string at `off`. */
export function cString(bytes: Uint8Array, off: number): string {
  let end = off;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return decoder.decode(bytes.subarray(off, end));
}
