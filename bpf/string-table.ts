// String tables as ELF (.strtab, .shstrtab) and BTF (.BTF's string section)
// lay them out: NUL-terminated strings back to back, offset 0 the empty string,
// a name stored as its offset. The writer's side and the reader's side.

/** String table with deduplication; offset 0 is the empty string. */
export class StringTable {
  private readonly chunks: Uint8Array[] = [new Uint8Array([0])];
  private readonly index = new Map<string, number>([['', 0]]);
  private length = 1;
  private static readonly enc = new TextEncoder();

  add(s: string): number {
    const have = this.index.get(s);
    if (have !== undefined) return have;
    const off = this.length;
    const bytes = StringTable.enc.encode(s);
    const chunk = new Uint8Array(bytes.length + 1);
    chunk.set(bytes);
    this.chunks.push(chunk);
    this.length += chunk.length;
    this.index.set(s, off);
    return off;
  }

  get size(): number {
    return this.length;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** Reads a NUL-terminated string at `off`. */
export function cString(bytes: Uint8Array, off: number): string {
  let end = off;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(off, end));
}
